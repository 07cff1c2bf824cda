package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/collectortest"
)

const (
	tmpfsMagic = 0x01021994
	// The WAL's disk starts small enough to fill in an instant and grows when "space returns".
	smallDisk = "4m"
	largeDisk = "64m"

	diskFullRequests   = 12 // requests of each phase: before, while full, after
	diskFullBatchSize  = 20 // records per request
	noSpaceMessage     = "no space left on device"
	walMessage         = "write-ahead log"
	corruptionLogEntry = "corruption skipped"
)

// diskFullConfig keeps every acknowledged record in the WAL until shutdown: batches flush only
// at 100,000 records or after an hour, so a restart after SIGKILL must replay the very segment
// whose appends failed with ENOSPC, and the queue depth after replay counts what it found.
func diskFullConfig(httpPort, queryPort int, dataDir, dbPath string) string {
	return fmt.Sprintf(`
extensions:
  auditstore:
    sqlite:
      path: %[4]s
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
    wal:
      segment_size: 1048576
    batch:
      max_size: 100000
      flush_interval: 1h
    max_queue_bytes: 268435456 # all of the test's records stay in memory, so health counts the replay
service:
  extensions: [auditstore, auditquery]
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [audit]
  telemetry:
    metrics:
      level: none
`, httpPort, queryPort, dataDir, dbPath)
}

// mountTmpfs mounts a tmpfs of size on a new directory and unmounts it when the test ends
// (after the collector, whose cleanup is registered later and so runs first).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	require.NoError(t, os.Mkdir(dir, 0o700))
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		needCapability(t, "cannot mount a tmpfs to fill (needs root or CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); !assert.NoError(t, err, "unmount %s", dir) {
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(dir, &st), "statfs %s after mount", dir)
	require.EqualValues(t, tmpfsMagic, st.Type, "%s is not a tmpfs after mount (statfs type %#x)", dir, st.Type)
	return dir
}

// fillDisk writes a ballast file until the filesystem refuses with ENOSPC: another tenant of
// the disk took the space. It returns the ballast's size.
func fillDisk(t *testing.T, dir string) int64 {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "ballast"))
	require.NoError(t, err, "create ballast")
	defer f.Close()
	chunk := make([]byte, 64<<10)
	var total int64
	for {
		n, err := f.Write(chunk)
		total += int64(n)
		if errors.Is(err, syscall.ENOSPC) {
			return total
		}
		require.NoError(t, err, "write ballast")
	}
}

type healthAnswer struct {
	Status   string `json:"status"`
	Pipeline struct {
		Status     string `json:"status"`
		LastError  string `json:"last_error"`
		QueueDepth int    `json:"queue_depth"`
	} `json:"pipeline"`
}

func readHealth(t *testing.T, url string) healthAnswer {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err, "GET %s (is the collector still alive?)", url)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, resp.Status)
	var h healthAnswer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&h), "decode health")
	return h
}

// syncExporter hands each emitted record to the OTLP exporter at once and keeps the error the
// SDK reports, which is what an application using the SDK would see.
type syncExporter struct {
	exp *otlploghttp.Exporter
	err error
}

func (p *syncExporter) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p *syncExporter) Shutdown(ctx context.Context) error                     { return p.exp.Shutdown(ctx) }
func (p *syncExporter) ForceFlush(context.Context) error                       { return nil }
func (p *syncExporter) OnEmit(ctx context.Context, r *sdklog.Record) error {
	p.err = p.exp.Export(ctx, []sdklog.Record{r.Clone()})
	return nil
}

// sdkExport sends one record through the OpenTelemetry Go SDK's OTLP/HTTP exporter, retries
// off, and returns what the SDK reports.
func sdkExport(t *testing.T, port int, id string) error {
	t.Helper()
	ctx := context.Background()
	exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", port)),
		otlploghttp.WithInsecure(), otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}),
		otlploghttp.WithTimeout(10*time.Second))
	require.NoError(t, err)
	proc := &syncExporter{exp: exp}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(proc))
	defer lp.Shutdown(ctx)
	var r otellog.Record
	r.SetEventName("document.updated")
	r.SetSeverity(otellog.SeverityInfo)
	// Larger than a page, so the slack of the WAL's last page cannot take it.
	r.SetBody(attribute.StringValue("sent through the SDK while the disk is full " + strings.Repeat("x", 8<<10)))
	r.AddAttributes(attribute.String("audit.id", id), attribute.String("tenant.id", "acme"))
	lp.Logger("faults").Emit(ctx, r)
	return proc.err
}

// TestDiskFull_WALDirectory fills the disk under the WAL and DLQ while senders keep sending,
// then gives the space back. Senders must get a retryable error that says what is wrong, the
// collector must stay up and recover by itself, and after a SIGKILL the WAL must replay exactly
// the acknowledged records: none lost, none duplicated, and nothing of the refused requests.
//
// The SQLite file lives on another disk: a full disk under the WAL with a healthy store is the
// case where only the WAL can fail, and the ballast file (not the collector's own data) is what
// fills it, so the moment of "full" is the test's choice rather than a race with checkpoints.
func TestDiskFull_WALDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the collector on a tmpfs it fills; skipped with -short")
	}
	began := time.Now()
	disk := mountTmpfs(t, smallDisk)
	dbPath := filepath.Join(t.TempDir(), "audit.db")
	httpPort, queryPort := collectortest.FreePort(t), collectortest.FreePort(t)
	cfg := diskFullConfig(httpPort, queryPort, disk, dbPath)
	logsURL := fmt.Sprintf("http://127.0.0.1:%d/v1/logs", httpPort)
	healthURL := fmt.Sprintf("http://127.0.0.1:%d/api/v1/health", queryPort)
	client := &http.Client{Timeout: 30 * time.Second}
	acks := newAckLog()
	seq := 0
	send := func(phase string) postResult {
		b := newAuditBatch("disk-"+phase, "acme", seq, diskFullBatchSize, 400)
		seq += diskFullBatchSize
		res := post(context.Background(), client, logsURL, b.body)
		acks.note(b.ids, res.ok())
		return res
	}

	proc := collectortest.Start(t, cfg)
	proc.WaitReady(t, healthURL, 60*time.Second)

	for i := 0; i < diskFullRequests; i++ {
		res := send("before")
		require.True(t, res.ok(), "request %d before the disk filled: %d %s", i, res.status, res.message)
	}

	ballast := fillDisk(t, disk)
	var refusals []postResult
	acceptedWhileFull := 0
	for i := 0; i < diskFullRequests; i++ {
		if res := send("full"); res.ok() {
			// The last page the WAL already holds may take one more small entry.
			acceptedWhileFull++
		} else {
			refusals = append(refusals, res)
		}
	}
	sdkErr := sdkExport(t, httpPort, "disk-sdk-000000001")
	acks.note([]string{"disk-sdk-000000001"}, sdkErr == nil)

	t.Logf("disk full: ballast %s on a %s tmpfs; %d of %d requests refused, %d accepted",
		mib(ballast), smallDisk, len(refusals), diskFullRequests, acceptedWhileFull)
	if len(refusals) > 0 {
		t.Logf("a raw OTLP/HTTP sender sees: HTTP %d %q", refusals[0].status, refusals[0].message)
	}
	// The SDK sends protobuf and quotes the protobuf status body it got back: %q keeps it legible.
	t.Logf("the OpenTelemetry Go SDK reports: %q", fmt.Sprint(sdkErr))

	assert.GreaterOrEqual(t, len(refusals), diskFullRequests-2, "only %d of %d requests were refused on a full disk: acknowledged without being on disk?", len(refusals), diskFullRequests)
	for _, r := range refusals {
		// 503 is retryable in OTLP: the sender keeps the records and tries again.
		msg := "refusal is not a clear retryable error: HTTP %d %q; want 503 naming %q and %q"
		assert.Equal(t, http.StatusServiceUnavailable, r.status, msg, r.status, r.message, walMessage, noSpaceMessage)
		assert.Contains(t, r.message, noSpaceMessage, msg, r.status, r.message, walMessage, noSpaceMessage)
		assert.Contains(t, r.message, walMessage, msg, r.status, r.message, walMessage, noSpaceMessage)
	}
	assert.ErrorContains(t, sdkErr, noSpaceMessage, "the SDK's export on a full disk; want an error naming %q", noSpaceMessage)

	// Still alive, and an operator can see why the pipeline is degraded.
	require.NoError(t, syscall.Kill(proc.Cmd.Process.Pid, 0), "collector process is gone after the disk filled\n%s", proc.Output.String())
	h := readHealth(t, healthURL)
	t.Logf("health while full: status %q, last_error %q", h.Status, h.Pipeline.LastError)
	assert.Equal(t, "degraded", h.Status, "health status while the disk is full")
	assert.Contains(t, h.Pipeline.LastError, noSpaceMessage, "health last_error while the disk is full")

	// Space returns: the same mount grows, the ballast stays.
	require.NoErrorf(t, syscall.Mount("tmpfs", disk, "tmpfs", syscall.MS_REMOUNT, "size="+largeDisk+",mode=0700"), "remount %s with size=%s", disk, largeDisk)
	for i := 0; i < diskFullRequests; i++ {
		res := send("after")
		assert.True(t, res.ok(), "request %d after space returned was refused: %d %s", i, res.status, res.message)
	}

	// Kill, so the acknowledged records exist only in the WAL, and restart on the same dirs.
	proc.Stop(t, syscall.SIGKILL, 30*time.Second)
	acked, refused := acks.counts()
	proc = collectortest.Start(t, cfg)
	proc.WaitReady(t, healthURL, 60*time.Second)
	replayed := readHealth(t, healthURL).Pipeline.QueueDepth
	code := proc.Stop(t, syscall.SIGTERM, 60*time.Second)
	require.Zero(t, code, "clean stop exit code\n%s", proc.Output.String())
	assert.NotContains(t, proc.Output.String(), corruptionLogEntry, "the WAL reported corruption on replay")

	stored := collectortest.StoredIDs(t, dbPath)
	lost, duplicated := acks.lossAndDuplicates(stored)
	ghosts := 0
	for id := range acks.refused {
		if stored[id] > 0 {
			ghosts++
		}
	}
	t.Logf("disk full: %d records acknowledged, %d refused, %d replayed from the WAL after SIGKILL, %d stored; lost %d, duplicated %d, refused but stored %d; %s",
		acked, refused, replayed, len(stored), lost, duplicated, ghosts, time.Since(began).Round(time.Second))
	assert.EqualValues(t, acked, replayed, "records the WAL replayed after SIGKILL vs acknowledged")
	assert.Zero(t, lost, "lost %d and duplicated %d acknowledged records", lost, duplicated)
	assert.Zero(t, duplicated, "lost %d and duplicated %d acknowledged records", lost, duplicated)
	assert.Zero(t, ghosts, "records of refused requests were stored: a failed WAL write left entries behind")
}
