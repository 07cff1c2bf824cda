// Command loadgen sends realistic audit records to an OTLP/HTTP logs endpoint and prints what
// was acknowledged, refused and how long acknowledgements took.
//
//	go run ./cmd/loadgen -endpoint http://127.0.0.1:4318/v1/logs -senders 8 -duration 30s
//	go run ./cmd/loadgen -rate 5000 -records 100000 -json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/otelcol-audit/otelcol-audit/testbed/loadgen"
)

func main() {
	var cfg loadgen.Config
	var headers string
	var asJSON bool
	flag.StringVar(&cfg.Endpoint, "endpoint", "http://127.0.0.1:4318/v1/logs", "OTLP/HTTP logs URL")
	flag.IntVar(&cfg.Senders, "senders", 8, "concurrent senders, one request in flight each")
	flag.IntVar(&cfg.BatchSize, "batch", 100, "records per request")
	flag.Float64Var(&cfg.Rate, "rate", 0, "records/s over all senders; 0 = as fast as acknowledged")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "stop after this long (0 = no limit, then -records must be set)")
	flag.Int64Var(&cfg.Records, "records", 0, "stop after this many records (0 = no limit)")
	flag.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "per-request timeout")
	flag.IntVar(&cfg.Pool, "pool", 64, "distinct requests built before the run")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "random seed of the records")
	flag.StringVar(&headers, "headers", "", "extra headers, k=v,k=v")
	flag.BoolVar(&asJSON, "json", false, "print the result as JSON")
	flag.Parse()
	if headers != "" {
		cfg.Headers = map[string]string{}
		for _, kv := range strings.Split(headers, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				fmt.Fprintf(os.Stderr, "loadgen: -headers: %q is not k=v\n", kv)
				os.Exit(2)
			}
			cfg.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{
			"requests": res.Requests, "acked_records": res.AckedRecords, "refused_records": res.RefusedRecords,
			"failed_records": res.FailedRecords, "secret_records_acked": res.SecretRecords,
			"elapsed_s": res.Elapsed.Seconds(), "acked_per_s": res.AckedPerSecond(),
			"ack_p50_ms": ms(res.Latency.Quantile(0.5)), "ack_p99_ms": ms(res.Latency.Quantile(0.99)),
			"ack_max_ms": ms(res.Latency.Max()), "status": res.Status, "last_error": res.LastError,
		})
	} else {
		fmt.Println(res)
		if res.LastError != "" {
			fmt.Println("last error:", res.LastError)
		}
	}
	if res.AckedRecords == 0 {
		os.Exit(1)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
