// Command soak runs otelcol-audit's durable pipeline (OTLP/HTTP -> redact -> WAL -> SQLite, the
// configuration of the benchmark's "otelcol-audit durable") for a long time at a fixed fraction
// of its measured maximum rate, samples the process and its files at every interval, and
// writes a markdown report: RSS and file-descriptor growth, WAL, DLQ and SQLite sizes, the
// backlog of acknowledged but uncommitted records, and the drift of the ack latency p99.
// `make soak-long` runs it from testbed/ for an hour:
//
//	go run ./cmd/soak -root .. -out SOAK.md -duration 1h -interval 1m
//	go run ./cmd/soak -duration 3m -interval 20s          # a short run
//	go run ./cmd/soak -rate 2000 -duration 10m            # a given rate, no probe
//
// It is not part of CI. Interrupting it (Ctrl-C) ends the load early and still writes the report.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/otelcol-audit/otelcol-audit/testbed/harness"
	"github.com/otelcol-audit/otelcol-audit/testbed/loadgen"
)

type options struct {
	root, out, dataDir, note string
	duration, interval       time.Duration
	probe, drainMax          time.Duration
	fraction, rate           float64
	basis                    string
	senders, batch, queue    int
	warmup                   int
	minFreeMiB               int64
}

func main() {
	var o options
	flag.StringVar(&o.root, "root", "..", "the repository root (the distribution's module)")
	flag.StringVar(&o.out, "out", "SOAK.md", "the report to write")
	flag.StringVar(&o.dataDir, "data", "", "the collector's data directory (default: a temporary one, removed at the end)")
	flag.StringVar(&o.note, "note", "", "a sentence about this run's conditions, added to the environment section")
	flag.DurationVar(&o.duration, "duration", time.Hour, "how long the fixed-rate load runs")
	flag.DurationVar(&o.interval, "interval", time.Minute, "sampling interval")
	flag.DurationVar(&o.probe, "probe", 20*time.Second, "length of the max-rate probe (on its own fresh collector) that sets the rate")
	flag.DurationVar(&o.drainMax, "drain-max", 5*time.Minute, "longest wait after the load for the store to commit what was acknowledged")
	flag.Float64Var(&o.fraction, "fraction", 0.5, "the soak's rate as a fraction of the probed maximum")
	flag.Float64Var(&o.rate, "rate", 0, "records/s of the soak; set, it skips the probe and -fraction")
	flag.StringVar(&o.basis, "basis", "committed", `the probed maximum the fraction applies to: "committed" (records committed to SQLite per second while the probe's load ran: what the pipeline sustains end to end) or "acked" (records acknowledged per second: the WAL's intake, which outruns the store)`)
	flag.IntVar(&o.senders, "senders", 8, "concurrent senders of the load generator")
	flag.IntVar(&o.batch, "batch", 100, "records per OTLP request")
	flag.IntVar(&o.queue, "queue-bytes", 0, "the exporter's max_queue_bytes, as in the benchmark and the default config (0: the mode's default)")
	flag.IntVar(&o.warmup, "warmup", 1, "intervals at the start left out of the growth and drift figures")
	flag.Int64Var(&o.minFreeMiB, "min-free-mib", 2048, "end the load early when less disk than this is free under the data directory")
	flag.Parse()
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := run(ctx, o)
	if rep != nil {
		if werr := os.WriteFile(o.out, []byte(rep.markdown()), 0o644); werr != nil {
			fmt.Fprintf(os.Stderr, "soak: write %s: %v\n", o.out, werr)
			os.Exit(1)
		}
		logf("wrote %s", o.out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func (o *options) validate() error {
	var errs []string
	if o.duration <= 0 || o.interval <= 0 {
		errs = append(errs, "-duration and -interval must be positive")
	}
	if o.interval > o.duration {
		errs = append(errs, fmt.Sprintf("-interval %s is longer than -duration %s: there would be one sample only", o.interval, o.duration))
	}
	if o.rate < 0 || (o.rate == 0 && (o.fraction <= 0 || o.fraction > 1)) {
		errs = append(errs, "-rate must be positive, or -fraction in (0, 1]")
	}
	if o.basis != "committed" && o.basis != "acked" {
		errs = append(errs, fmt.Sprintf(`-basis must be "committed" or "acked", got %q`, o.basis))
	}
	if o.senders < 1 || o.batch < 1 || o.queue < 0 {
		errs = append(errs, "-senders and -batch must be at least 1 and -queue-bytes not negative")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// shellQuote joins argv as a shell would need it typed: arguments with spaces or shell
// characters in single quotes.
func shellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t'\"$`\\|&;<>()*?[]{}~#!") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s soak: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, o options) (*report, error) {
	root, err := filepath.Abs(o.root)
	if err != nil {
		return nil, err
	}
	rep := &report{opts: o, argv: shellQuote(os.Args[1:]), env: harness.ReadEnvironment(ctx),
		loadStart: harness.LoadAverage(), started: time.Now()}
	logf("load average at start: %s", rep.loadStart)
	tmp, err := os.MkdirTemp("", "soak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	logf("building otelcol-audit")
	bin, err := harness.Build(ctx, root, "./otelcol-audit", filepath.Join(tmp, "otelcol-audit"))
	if err != nil {
		return nil, err
	}

	rep.rate = o.rate
	if o.rate == 0 {
		if err := rep.runProbe(ctx, bin, tmp); err != nil {
			return rep, err
		}
	}
	dir := o.dataDir
	if dir == "" {
		dir = filepath.Join(tmp, "soak")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return rep, err
	}
	err = rep.runSoak(ctx, bin, dir)
	rep.loadEnd = harness.LoadAverage()
	rep.finished = time.Now()
	logf("load average at end: %s", rep.loadEnd)
	return rep, err
}

// runProbe measures the durable pipeline at max rate on a fresh collector of its own, so that
// the soak starts on an empty store, and sets the soak's rate from it.
func (r *report) runProbe(ctx context.Context, bin, tmp string) error {
	o := r.opts
	dir := filepath.Join(tmp, "probe")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := harness.OursPipeline(bin, dir, "durable", o.queue)
	if err != nil {
		return err
	}
	logf("probe: %s, %d senders at max rate for %s", p.Name, o.senders, o.probe)
	load := loadgen.Config{Senders: o.senders, BatchSize: o.batch, Duration: o.probe, Timeout: 30 * time.Second, Pool: 64, Seed: 1}
	// The probe does not wait for its backlog: it is discarded with its directory.
	res, err := harness.RunPipeline(ctx, p, load, harness.DrainOptions{Max: time.Millisecond, Stall: time.Millisecond, StopTimeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	r.probe = &res
	r.probeCommitted = 0
	if res.Load.Elapsed > 0 {
		r.probeCommitted = float64(res.DeliveredAtLoadEnd) / res.Load.Elapsed.Seconds()
	}
	basis := res.Load.AckedPerSecond()
	if o.basis == "committed" {
		basis = r.probeCommitted
	}
	r.rate = basis * o.fraction
	logf("probe: %s; committed %d during the load (%.0f/s); soak rate %.0f records/s (%.2f of %s)",
		res.Load, res.DeliveredAtLoadEnd, r.probeCommitted, r.rate, o.fraction, o.basis)
	if r.rate < 1 {
		return fmt.Errorf("probe: the rate %.2f records/s derived from it is too low to soak", r.rate)
	}
	return nil
}

// intervalResult is one interval's load, handed from the load goroutine to the sampler.
type intervalResult struct {
	res loadgen.Result
	err error
}

// runSoak starts the collector, runs the fixed-rate load one interval at a time (the next
// interval's load starts as soon as the previous ends, while the sampler reads /proc and the
// files), drains and stops.
func (r *report) runSoak(ctx context.Context, bin, dir string) error {
	o := r.opts
	p, err := harness.OursPipeline(bin, dir, "durable", o.queue)
	if err != nil {
		return err
	}
	proc, err := harness.Start(p.Binary, p.Config, p.Dir)
	if err != nil {
		return err
	}
	defer proc.Kill()
	if err := proc.WaitOTLP(p.Endpoint, 90*time.Second); err != nil {
		return err
	}
	pid := proc.Pid()
	db := filepath.Join(dir, "audit.db")
	logf("soak: pid %d, %.0f records/s, %s in intervals of %s, data in %s", pid, r.rate, o.duration, o.interval, dir)

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	// One slot: after the sampler stops reading (an error), the load goroutine's last send
	// still completes and it sees the cancelled context.
	results := make(chan intervalResult, 1)
	start := time.Now()
	go func() {
		defer close(results)
		for i := 0; ; i++ {
			left := o.duration - time.Since(start)
			if left < time.Second || loadCtx.Err() != nil {
				return
			}
			cfg := loadgen.Config{Endpoint: p.Endpoint, Senders: o.senders, BatchSize: o.batch, Rate: r.rate,
				Duration: min(o.interval, left), Timeout: 30 * time.Second, Pool: 64, Seed: uint64(i + 1)}
			res, err := loadgen.Run(loadCtx, cfg)
			results <- intervalResult{res, err}
		}
	}()

	prev, err := harness.ReadProc(pid)
	if err != nil {
		return err
	}
	var acked int64
	for ir := range results {
		if ir.err != nil {
			stopLoad()
			return ir.err
		}
		if proc.Exited() {
			stopLoad()
			return fmt.Errorf("the collector exited during the soak\n%s", proc.Output())
		}
		acked += ir.res.AckedRecords
		s, cur, err := sample(pid, dir, db, prev, time.Since(start))
		if err != nil {
			stopLoad()
			return err
		}
		prev = cur
		s.Acked = acked
		s.IntervalAcked, s.IntervalRefused, s.IntervalFailed = ir.res.AckedRecords, ir.res.RefusedRecords, ir.res.FailedRecords
		s.IntervalLoad = ir.res.Elapsed
		s.P50, s.P99 = ir.res.Latency.Quantile(0.5), ir.res.Latency.Quantile(0.99)
		// Counted even after an interrupt: the interval's figures are still worth reporting.
		if s.Stored, err = harness.CountRows(context.WithoutCancel(ctx), db); err != nil {
			stopLoad()
			return err
		}
		r.samples = append(r.samples, s)
		logf("t=%s acked/s=%.0f p50=%s p99=%s rss=%dMiB fds=%d wal=%dMiB dlq=%dMiB db=%dMiB stored=%d backlog=%d refused+failed=%d",
			s.Elapsed.Round(time.Second), s.AckedPerSecond(), s.P50, s.P99, s.RSS>>20, s.FDs, s.WALBytes>>20, s.DLQBytes>>20,
			s.DBBytes>>20, s.Stored, s.Backlog(), s.IntervalRefused+s.IntervalFailed)
		if free, err := harness.FreeDiskBytes(dir); err == nil && free < o.minFreeMiB<<20 {
			r.endedEarly = fmt.Sprintf("the load was ended at %s: %d MiB free under %s, below -min-free-mib %d",
				s.Elapsed.Round(time.Second), free>>20, dir, o.minFreeMiB)
			logf("%s", r.endedEarly)
			stopLoad()
		}
	}
	if ctx.Err() != nil && r.endedEarly == "" {
		r.endedEarly = "the soak was interrupted"
	}
	r.acked = acked

	// The drain: how long the store takes to commit the backlog once the load stops.
	drainStart := time.Now()
	stored, lastMove := int64(0), time.Now()
	for {
		n, err := harness.CountRows(context.WithoutCancel(ctx), db)
		if err != nil {
			return err
		}
		if n != stored {
			stored, lastMove = n, time.Now()
		}
		// An interrupted soak reports the backlog as it stands instead of waiting for it.
		if stored >= acked || time.Since(drainStart) > o.drainMax || time.Since(lastMove) > time.Minute || proc.Exited() || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	r.drain = time.Since(drainStart)
	r.drainedStored = stored
	if !proc.Exited() {
		if s, _, err := sample(pid, dir, db, prev, time.Since(start)); err == nil {
			s.Acked, s.Stored = acked, stored
			r.afterDrain = &s
		}
	}
	logf("drain: %d of %d acknowledged records committed after %s", stored, acked, r.drain.Round(time.Second))
	r.stopErr = proc.Stop(2 * time.Minute)
	if r.stopErr != nil {
		logf("stop: %v", r.stopErr)
	}
	return nil
}

// sample reads what the kernel and the file system say about the collector; prev is the
// previous /proc reading, for the interval's CPU.
func sample(pid int, dir, db string, prev harness.ProcStats, elapsed time.Duration) (harness.SoakSample, harness.ProcStats, error) {
	s := harness.SoakSample{Elapsed: elapsed}
	cur, err := harness.ReadProc(pid)
	if err != nil {
		return s, prev, err
	}
	s.CPU = cur.CPU - prev.CPU
	s.PeakRSS = cur.PeakRSS
	if s.RSS, err = harness.ReadRSS(pid); err != nil {
		return s, prev, err
	}
	if s.FDs, err = harness.CountFDs(pid); err != nil {
		return s, prev, err
	}
	if s.WALBytes, err = harness.DiskUsage(filepath.Join(dir, "wal")); err != nil {
		return s, prev, err
	}
	if s.DLQBytes, err = harness.DiskUsage(filepath.Join(dir, "dlq")); err != nil {
		return s, prev, err
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		n, err := harness.DiskUsage(db + suffix)
		if err != nil {
			return s, prev, err
		}
		s.DBBytes += n
	}
	return s, cur, nil
}
