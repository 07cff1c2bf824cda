// Package crash proves the durable write path: the real collector is killed with SIGKILL at
// random moments while OpenTelemetry SDK clients send (and resend, as clients whose answers
// get lost do), and every record the collector acknowledged must be in the store exactly once
// after restarts, counted by content rather than by id.
package crash

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/collectortest"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

const (
	cycles  = 20
	senders = 4
)

func config(httpPort, queryPort int, dataDir string) string {
	return fmt.Sprintf(`
extensions:
  auditstore:
    sqlite:
      path: %[4]s
      # Small partitions, so that kills also land while partitions roll over.
      partition_max_rows: 400
    tamper_evidence:
      signing_key_file: %[5]s
      checkpoint_every_records: 500
      checkpoint_interval: 1s
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
    max_queue_bytes: 1048576 # the least: replays after kills leave a WAL backlog to drain, and kills hit it
    dlq:
      scan_interval: 1s
service:
  extensions: [auditstore, auditquery]
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [audit]
  telemetry:
    metrics:
      level: none
`, httpPort, queryPort, dataDir, filepath.Join(dataDir, "audit.db"), filepath.Join(dataDir, "signing-key.pem"))
}

// ackLog records the records the collector acknowledged, by content (their body), and keeps
// the records whose export got no answer, for a resend after the restart.
type ackLog struct {
	mu         sync.Mutex
	bodies     map[string]bool
	unanswered []sdklog.Record
}

func (a *ackLog) add(body string) {
	a.mu.Lock()
	a.bodies[body] = true
	a.mu.Unlock()
}

func (a *ackLog) noAnswer(r sdklog.Record) {
	a.mu.Lock()
	a.unanswered = append(a.unanswered, r)
	a.mu.Unlock()
}

// takeUnanswered returns one record still waiting for an answer, if any.
func (a *ackLog) takeUnanswered() (sdklog.Record, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.unanswered) == 0 {
		return sdklog.Record{}, false
	}
	r := a.unanswered[len(a.unanswered)-1]
	a.unanswered = a.unanswered[:len(a.unanswered)-1]
	return r, true
}

// ackingProcessor exports each record synchronously and notes it only when the collector
// answered success: that is exactly the set the durability promise covers. It behaves as a
// retrying OTLP client whose answers get lost: every acknowledged record is sent a second
// time, and a record whose export got no answer (the collector was killed, possibly after
// the WAL append) is sent again after the restart. Records carry no audit.id: the collector
// must recognise a resend by its content.
type ackingProcessor struct {
	exp  *otlploghttp.Exporter
	acks *ackLog
	sent *atomic.Int64
}

func (p *ackingProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p *ackingProcessor) Shutdown(ctx context.Context) error                     { return p.exp.Shutdown(ctx) }
func (p *ackingProcessor) ForceFlush(context.Context) error                       { return nil }

func (p *ackingProcessor) OnEmit(ctx context.Context, r *sdklog.Record) error {
	return p.deliver(ctx, r.Clone())
}

func (p *ackingProcessor) deliver(ctx context.Context, r sdklog.Record) error {
	p.sent.Add(1)
	if err := p.exp.Export(ctx, []sdklog.Record{r}); err != nil {
		p.acks.noAnswer(r)
		return err
	}
	p.acks.add(r.Body().AsString())
	// The answer "got lost": the client sends the same record again.
	p.sent.Add(1)
	_ = p.exp.Export(ctx, []sdklog.Record{r})
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
	acks := &ackLog{bodies: map[string]bool{}}
	var sent atomic.Int64
	var seq atomic.Int64
	// Cycles whose start found more WAL than the memory queue holds: the kill that ends them
	// hits a backlog drain (entries read back from the WAL while new ones are appended).
	backlogCycles := 0

	for cycle := 0; cycle < cycles; cycle++ {
		proc := collectortest.Start(t, cfg)
		proc.WaitReady(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/health", queryPort), 60*time.Second)

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
		if m := leftOnDisk.FindStringSubmatch(proc.Output.String()); m != nil && m[1] != "0" {
			backlogCycles++
		}
	}

	// A last, clean run replays what the kills left in the WAL, and retries what the DLQ
	// holds: after a restart with a large replay the queue is full, so new requests were
	// acknowledged into the DLQ (as durable as the WAL), which a scan inserts later. The run
	// lasts until every acknowledged record is stored, or two minutes.
	// The clean run also resends what got no answer before the last kill.
	proc := collectortest.Start(t, cfg)
	proc.WaitReady(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/health", queryPort), 60*time.Second)
	ctx, stop := context.WithCancel(context.Background())
	send(ctx, t, httpPort, acks, &sent, nil)
	stop()
	dbPath := filepath.Join(dataDir, "audit.db")
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		if missing(acks.bodies, collectortest.StoredBy(t, dbPath, byBody)) == 0 {
			break
		}
	}
	require.Zero(t, proc.Stop(t, syscall.SIGTERM, 60*time.Second), "clean stop exit code")

	stored := collectortest.StoredBy(t, dbPath, byBody)
	lost, duplicates, rows := 0, 0, 0
	for body := range acks.bodies {
		if stored[body] == 0 {
			lost++
		}
	}
	for _, n := range stored {
		rows += n
		if n > 1 {
			duplicates++ // any record, acknowledged or not, stored more than once
		}
	}
	t.Logf("crash test: %d cycles (%d killed while draining a WAL backlog), %d exports (each acknowledged record sent twice, unanswered ones again after the restart), %d acknowledged, %d refused, %d stored, lost %d, content duplicates %d",
		cycles, backlogCycles, sent.Load(), len(acks.bodies), refused.Load(), rows, lost, duplicates)
	require.NotEmpty(t, acks.bodies, "no record was acknowledged: the test proved nothing")
	assert.Positive(t, backlogCycles, "no kill hit a WAL backlog drain: that path went untested")
	require.Zero(t, lost, "lost %d acknowledged records, and %d records are stored more than once", lost, duplicates)
	require.Zero(t, duplicates, "lost %d acknowledged records, and %d records are stored more than once", lost, duplicates)
	parts, err := filepath.Glob(filepath.Join(dataDir, "audit-partitions", "p*.db"))
	require.NoError(t, err)
	t.Logf("the store rolled over to %d partitions during the kills", len(parts))
	require.Greater(t, len(parts), 1, "no partition rolled over: kills during rollovers went untested")
	verifyChains(t, dbPath, pub, rows)
}

// leftOnDisk finds, in the collector's log, how many replayed WAL entries did not fit in the
// memory queue at start and waited in the backlog.
var leftOnDisk = regexp.MustCompile(`"entries_left_on_disk": (\d+)`)

// byBody keys a stored record by its content: each record the test sends has its own body.
func byBody(r record.Record) string { return r.Message }

// missing counts the acknowledged records that are not stored.
func missing(acked map[string]bool, stored map[string]int) int {
	n := 0
	for body := range acked {
		if stored[body] == 0 {
			n++
		}
	}
	return n
}

func writeSigningKey(t *testing.T, path string) ed25519.PublicKey {
	t.Helper()
	priv, _, err := chain.GenerateKey()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, priv, 0o600))
	key, err := chain.LoadPrivateKey(path)
	require.NoError(t, err)
	return key.Public().(ed25519.PublicKey)
}

// verifyChains proves that kills and WAL replays kept every tenant's hash chain whole: each
// stored record linked once, in an order the signed checkpoints written between kills agree
// with, and the clean stop's final checkpoint covering the head.
func verifyChains(t *testing.T, path string, pub ed25519.PublicKey, stored int) {
	t.Helper()
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = path
	opened, err := sqlitestore.OpenStore(context.Background(), cfg) // its partitions too
	require.NoError(t, err)
	defer opened.Close()
	st := opened.(store.ChainStore)
	tenants, err := st.ChainTenants(context.Background())
	require.NoError(t, err)
	linked, checkpoints := 0, 0
	for _, tenant := range tenants {
		rep, err := chain.Verify(context.Background(), st, chain.NewKeyring(pub), tenant, chain.Range{})
		require.NoError(t, err)
		require.True(t, rep.OK, "tenant %s: chain broken after the crash cycles: %s", tenant, rep.FirstBroken)
		assert.Zero(t, rep.UnsignedTail, "tenant %s: links after the last checkpoint; the clean stop should sign the head", tenant)
		linked += rep.Records
		checkpoints += rep.Checkpoints
	}
	t.Logf("chains: %d tenants, %d records linked, %d signed checkpoints verified", len(tenants), linked, checkpoints)
	require.Equal(t, stored, linked, "records linked vs stored: every stored record must be on its chain once")
}

// send emits records until ctx ends or the collector stops answering.
func send(ctx context.Context, t *testing.T, port int, acks *ackLog, sent, seq *atomic.Int64) {
	exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", port)),
		otlploghttp.WithInsecure(), otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}),
		otlploghttp.WithTimeout(5*time.Second))
	if !assert.NoError(t, err) {
		return
	}
	proc := &ackingProcessor{exp: exp, acks: acks, sent: sent}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(proc))
	defer lp.Shutdown(context.Background())
	logger := lp.Logger("crash")
	// First what got no answer before the last kill, as a retrying client would.
	for ctx.Err() == nil {
		r, ok := acks.takeUnanswered()
		if !ok {
			break
		}
		if proc.deliver(ctx, r) != nil {
			return // the collector stopped answering again; the record waits for the next run
		}
	}
	for seq != nil && ctx.Err() == nil {
		n := seq.Add(1)
		var r otellog.Record
		r.SetEventName("crash.test")
		r.SetSeverity(otellog.SeverityInfo)
		r.SetTimestamp(time.Now())
		r.SetBody(attribute.StringValue(fmt.Sprintf("record %d", n)))
		r.AddAttributes(
			attribute.String("tenant.id", fmt.Sprintf("t%d", n%3)),
			attribute.String("user.id", fmt.Sprintf("u%d", n%17)),
		)
		logger.Emit(ctx, r)
	}
}
