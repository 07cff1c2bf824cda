// Package crash proves the durable write path: the real collector is killed with SIGKILL at
// random moments while OpenTelemetry SDK clients send, and every record the collector
// acknowledged must be in the store exactly once after restarts.
package crash

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/collectortest"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

const (
	cycles  = 20
	senders = 4
)

func config(httpPort, queryPort int, dataDir string) string {
	return fmt.Sprintf(`
extensions:
  auditquery:
    endpoint: 127.0.0.1:%[2]d
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%[1]d
exporters:
  audit:
    mode: durable
    data_dir: %[3]s
    batch:
      max_size: 200
      flush_interval: 100ms
    max_queue_size: 5000
    dlq:
      scan_interval: 1s
    store:
      sqlite:
        path: %[4]s
    query: auditquery
    tamper_evidence:
      signing_key_file: %[5]s
      checkpoint_every_records: 500
      checkpoint_interval: 1s
service:
  extensions: [auditquery]
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [audit]
  telemetry:
    metrics:
      level: none
`, httpPort, queryPort, dataDir, filepath.Join(dataDir, "audit.db"), filepath.Join(dataDir, "signing-key.pem"))
}

// ackLog records the ids of records the collector acknowledged.
type ackLog struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (a *ackLog) add(id string) {
	a.mu.Lock()
	a.ids[id] = true
	a.mu.Unlock()
}

// ackingProcessor exports each record synchronously and notes its id only when the collector
// answered success: that is exactly the set the durability promise covers.
type ackingProcessor struct {
	exp  *otlploghttp.Exporter
	acks *ackLog
	sent *atomic.Int64
}

func (p *ackingProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p *ackingProcessor) Shutdown(ctx context.Context) error                     { return p.exp.Shutdown(ctx) }
func (p *ackingProcessor) ForceFlush(context.Context) error                       { return nil }

func (p *ackingProcessor) OnEmit(ctx context.Context, r *sdklog.Record) error {
	var id string
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if kv.Key == "audit.id" {
			id = kv.Value.AsString()
			return false
		}
		return true
	})
	p.sent.Add(1)
	if err := p.exp.Export(ctx, []sdklog.Record{r.Clone()}); err != nil {
		return err
	}
	p.acks.add(id)
	return nil
}

func TestCrash_SIGKILLLosesNoAcknowledgedRecordAndDuplicatesNone(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the collector through 20 SIGKILL cycles; skipped with -short")
	}
	// Refused exports are expected while the collector is down; they must not flood the log.
	var refused atomic.Int64
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) { refused.Add(1) }))
	dataDir := t.TempDir()
	pub := writeSigningKey(t, filepath.Join(dataDir, "signing-key.pem"))
	httpPort, queryPort := collectortest.FreePort(t), collectortest.FreePort(t)
	cfg := config(httpPort, queryPort, dataDir)
	acks := &ackLog{ids: map[string]bool{}}
	var sent atomic.Int64
	var seq atomic.Int64

	for cycle := 0; cycle < cycles; cycle++ {
		proc := collectortest.Start(t, cfg)
		proc.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/health", queryPort), 60*time.Second)

		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for s := 0; s < senders; s++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				send(ctx, t, httpPort, acks, &sent, &seq)
			}()
		}
		time.Sleep(time.Duration(200+rand.IntN(800)) * time.Millisecond)
		proc.Stop(t, syscall.SIGKILL, 30*time.Second)
		stop()
		wg.Wait()
	}

	// A last, clean run replays what the kills left in the WAL, and retries what the DLQ
	// holds: after a restart with a large replay the queue is full, so new requests were
	// acknowledged into the DLQ (as durable as the WAL), which a scan inserts later. The run
	// lasts until every acknowledged record is stored, or two minutes.
	proc := collectortest.Start(t, cfg)
	proc.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/health", queryPort), 60*time.Second)
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		if missing(acks.ids, collectortest.StoredIDs(t, filepath.Join(dataDir, "audit.db"))) == 0 {
			break
		}
	}
	if code := proc.Stop(t, syscall.SIGTERM, 60*time.Second); code != 0 {
		t.Fatalf("clean stop exited %d", code)
	}

	stored := collectortest.StoredIDs(t, filepath.Join(dataDir, "audit.db"))
	lost, duplicates := 0, 0
	for id := range acks.ids {
		switch n := stored[id]; {
		case n == 0:
			lost++
		case n > 1:
			duplicates++
		}
	}
	t.Logf("crash test: %d cycles, %d records sent, %d acknowledged, %d refused, %d stored, lost %d, duplicates %d",
		cycles, sent.Load(), len(acks.ids), refused.Load(), len(stored), lost, duplicates)
	if len(acks.ids) == 0 {
		t.Fatal("no record was acknowledged: the test proved nothing")
	}
	if lost != 0 || duplicates != 0 {
		t.Fatalf("lost %d and duplicated %d acknowledged records", lost, duplicates)
	}
	verifyChains(t, filepath.Join(dataDir, "audit.db"), pub, len(stored))
}

// missing counts the acknowledged ids that are not stored.
func missing(acked map[string]bool, stored map[string]int) int {
	n := 0
	for id := range acked {
		if stored[id] == 0 {
			n++
		}
	}
	return n
}

func writeSigningKey(t *testing.T, path string) ed25519.PublicKey {
	t.Helper()
	priv, _, err := chain.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := chain.LoadPrivateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	return key.Public().(ed25519.PublicKey)
}

// verifyChains proves that kills and WAL replays kept every tenant's hash chain whole: each
// stored record linked once, in an order the signed checkpoints written between kills agree
// with, and the clean stop's final checkpoint covering the head.
func verifyChains(t *testing.T, path string, pub ed25519.PublicKey, stored int) {
	t.Helper()
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = path
	st, err := sqlitestore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tenants, err := st.ChainTenants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	linked, checkpoints := 0, 0
	for _, tenant := range tenants {
		rep, err := chain.Verify(context.Background(), st, pub, tenant, chain.Range{})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK {
			t.Fatalf("tenant %s: chain broken after the crash cycles: %s", tenant, rep.FirstBroken)
		}
		if rep.UnsignedTail != 0 {
			t.Errorf("tenant %s: %d links after the last checkpoint; the clean stop should sign the head", tenant, rep.UnsignedTail)
		}
		linked += rep.Records
		checkpoints += rep.Checkpoints
	}
	t.Logf("chains: %d tenants, %d records linked, %d signed checkpoints verified", len(tenants), linked, checkpoints)
	if linked != stored {
		t.Fatalf("%d records linked, %d stored: every stored record must be on its chain once", linked, stored)
	}
}

// send emits records until ctx ends or the collector stops answering.
func send(ctx context.Context, t *testing.T, port int, acks *ackLog, sent, seq *atomic.Int64) {
	exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", port)),
		otlploghttp.WithInsecure(), otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}),
		otlploghttp.WithTimeout(5*time.Second))
	if err != nil {
		t.Error(err)
		return
	}
	proc := &ackingProcessor{exp: exp, acks: acks, sent: sent}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(proc))
	defer lp.Shutdown(context.Background())
	logger := lp.Logger("crash")
	for ctx.Err() == nil {
		n := seq.Add(1)
		var r otellog.Record
		r.SetEventName("crash.test")
		r.SetSeverity(otellog.SeverityInfo)
		r.SetBody(attribute.StringValue(fmt.Sprintf("record %d", n)))
		r.AddAttributes(
			attribute.String("audit.id", fmt.Sprintf("crash-%012d", n)),
			attribute.String("tenant.id", fmt.Sprintf("t%d", n%3)),
			attribute.String("user.id", fmt.Sprintf("u%d", n%17)),
		)
		logger.Emit(ctx, r)
	}
}
