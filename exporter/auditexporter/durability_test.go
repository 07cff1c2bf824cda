package auditexporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/exporter/auditexporter/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/collectortest"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// flakyStore is a real store whose inserts fail while down is set: the outage the write path
// must survive.
type flakyStore struct {
	store.Store
	down     atomic.Bool
	attempts atomic.Int64
	gate     chan struct{} // if set, inserts wait until it is closed (a slow store)
}

func (f *flakyStore) Insert(ctx context.Context, tenant string, recs []record.Record) (int, error) {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	f.attempts.Add(1)
	if f.down.Load() {
		return 0, errors.New("store unavailable (test outage)")
	}
	return f.Store.Insert(ctx, tenant, recs)
}

// newTestExporter builds the exporter directly so a test can inject the store.
func newTestExporter(t *testing.T, cfg *Config, wrap func(store.Store) store.Store) *auditExporter {
	t.Helper()
	host, _ := storeHost(t, cfg, wrap)
	e := newAuditExporter(cfg, exportertest.NewNopSettings(metadata.Type))
	require.NoError(t, e.start(context.Background(), host))
	t.Cleanup(func() { _ = e.shutdown(context.Background()) })
	return e
}

func numbered(prefix string, n int) plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := 0; i < n; i++ {
		lr := lrs.AppendEmpty()
		lr.SetEventName("test.event")
		lr.Attributes().PutStr(record.AttrID, fmt.Sprintf("%s-%05d", prefix, i))
	}
	return ld
}

// storedIDs counts the stored records by id through the store the exporter holds.
func storedIDs(t *testing.T, st store.Store) map[string]int {
	t.Helper()
	ids, err := queryStoredIDs(st)
	require.NoError(t, err)
	return ids
}

// queryStoredIDs is storedIDs without t, for require.Eventually conditions: they run on a
// goroutine of their own, where require's FailNow must not be called (and where a failure
// could land after the test has ended).
func queryStoredIDs(st store.Store) (map[string]int, error) {
	out := map[string]int{}
	page := store.Page{Limit: store.MaxLimit}
	for {
		res, err := st.Query(context.Background(), store.Filter{}, page)
		if err != nil {
			return nil, err
		}
		for _, r := range res.Records {
			out[r.ID]++
		}
		if res.NextCursor == "" {
			return out, nil
		}
		page.Cursor = res.NextCursor
	}
}

// storedCount is how many distinct ids st holds, for require.Eventually conditions; -1 while
// the query fails, so the condition keeps waiting and the deadline reports it.
func storedCount(st store.Store) int {
	ids, err := queryStoredIDs(st)
	if err != nil {
		return -1
	}
	return len(ids)
}

func TestDurability_FlushesByIntervalWithoutAFullBatch(t *testing.T) {
	e := newTestExporter(t, testConfig(t), nil)
	require.NoError(t, e.consumeLogs(context.Background(), numbered("a", 3)))
	require.Eventually(t, func() bool { return storedCount(e.store.Store()) == 3 }, 20*time.Second, 10*time.Millisecond, "3 records in the store")
}

func TestDurability_OutageThenRecoveryStoresEverythingExactlyOnce(t *testing.T) {
	cfg := testConfig(t)
	cfg.RetryOnFailure.InitialInterval = 5 * time.Millisecond
	cfg.RetryOnFailure.MaxInterval = 10 * time.Millisecond
	cfg.RetryOnFailure.MaxElapsedTime = 30 * time.Millisecond
	cfg.DLQ.ScanInterval = 50 * time.Millisecond
	var flaky *flakyStore
	e := newTestExporter(t, cfg, func(st store.Store) store.Store {
		flaky = &flakyStore{Store: st}
		flaky.down.Store(true)
		return flaky
	})
	for i := 0; i < 5; i++ {
		require.NoError(t, e.consumeLogs(context.Background(), numbered(fmt.Sprintf("o%d", i), 40)), "an outage must not refuse records")
	}
	require.Eventually(t, func() bool { return e.dlqStats().Files > 0 }, 20*time.Second, 10*time.Millisecond, "batches set aside in the DLQ")
	// The store's health, which merges the exporter's: what the query API serves.
	h := e.store.Health()
	assert.Equal(t, "degraded", h.Status, "health during the outage = %+v", h)
	assert.NotZero(t, h.FailureCount, "health during the outage = %+v", h)
	assert.NotEmpty(t, h.LastError, "health during the outage = %+v", h)
	assert.NotZero(t, h.DLQFiles, "health during the outage = %+v", h)
	require.Empty(t, storedIDs(t, flaky.Store), "records stored while the store was down")

	flaky.down.Store(false)
	require.Eventually(t, func() bool { return storedCount(flaky.Store) == 200 }, 20*time.Second, 10*time.Millisecond, "all 200 records stored")
	require.Eventually(t, func() bool { return e.dlqStats().Files == 0 }, 20*time.Second, 10*time.Millisecond, "the DLQ drained")
	for id, n := range storedIDs(t, flaky.Store) {
		assert.Equal(t, 1, n, "%s stored %d times", id, n)
	}
	h = e.store.Health()
	assert.Equal(t, "ok", h.Status, "health after recovery = %+v", h)
}

func TestDurability_AcknowledgedRecordsSurviveAnAbandonedRunThroughTheWAL(t *testing.T) {
	cfg := testConfig(t)
	cfg.Batch.FlushInterval = time.Hour // nothing flushes: the records exist only in the WAL
	cfg.Batch.MaxSize = 10000
	host, shared := storeHost(t, cfg, nil)
	first := newAuditExporter(cfg, exportertest.NewNopSettings(metadata.Type))
	require.NoError(t, first.start(context.Background(), host))
	require.NoError(t, first.consumeLogs(context.Background(), numbered("w", 50)))
	// Simulate a crash: close the files without flushing the queue.
	first.cancelRun()
	_ = first.wal.Close()
	first.dlq.Stop()
	_ = shared.Shutdown(context.Background())
	_ = first.dataDir.Release() // as the kernel does when the process dies

	second := newTestExporter(t, cfg, nil)
	require.NoError(t, second.shutdown(context.Background())) // shutdown flushes the replayed records
	reopened := newTestExporter(t, cfg, nil)
	got := storedIDs(t, reopened.store.Store())
	assert.Len(t, got, 50, "after replay not all 50 acknowledged records are stored")
}

func TestDurability_VolatileQueueFullPolicies(t *testing.T) {
	full := func(t *testing.T, policy string) (*auditExporter, *flakyStore) {
		cfg := testConfig(t)
		cfg.Mode = modeVolatile
		cfg.OnQueueFull = policy
		cfg.Batch.MaxSize = 10
		cfg.Batch.FlushInterval = time.Hour
		var flaky *flakyStore
		e := newTestExporter(t, cfg, func(st store.Store) store.Store { flaky = &flakyStore{Store: st}; return flaky })
		// A first request waits in the queue below a batch; then the queue's capacity is set
		// one byte above what it holds, so that the next request does not fit while the queue
		// is not full (a full one would flush at once).
		require.NoError(t, e.consumeLogs(context.Background(), numbered("fill", 9)))
		e.queue.mu.Lock()
		e.queue.maxBytes = e.queue.bytes + 1
		e.queue.mu.Unlock()
		return e, flaky
	}
	t.Run("block refuses with a retryable error and keeps nothing", func(t *testing.T) {
		e, _ := full(t, onFullBlock)
		err := e.consumeLogs(context.Background(), numbered("x", 5))
		require.ErrorIs(t, err, errQueueFull)
		assert.False(t, consumererror.IsPermanent(err), "the sender must retry")
		assert.Equal(t, 9, e.queue.depth(), "queue depth")
	})
	t.Run("dlq spills the request to disk and acknowledges it", func(t *testing.T) {
		e, flaky := full(t, onFullDLQ)
		require.NoError(t, e.consumeLogs(context.Background(), numbered("x", 5)))
		require.Eventually(t, func() bool {
			ids, err := queryStoredIDs(flaky.Store)
			return err == nil && ids["x-00000"] == 1 && ids["x-00004"] == 1
		}, 20*time.Second, 10*time.Millisecond, "the spilled records reach the store")
	})
	t.Run("drop discards", func(t *testing.T) {
		e, _ := full(t, onFullDrop)
		require.NoError(t, e.consumeLogs(context.Background(), numbered("x", 5)))
		assert.Equal(t, 9, e.queue.depth(), "queue depth: the dropped request must not be queued")
		_, err := os.Stat(filepath.Join(e.cfg.DataDir, "wal"))
		assert.ErrorIs(t, err, os.ErrNotExist, "volatile mode created a WAL directory")
	})
}

// In durable mode the WAL is the queue: past max_queue_bytes, acknowledged records wait on
// disk only, cost no memory, and are read back and stored in order as room frees. Nothing
// goes to the DLQ for lack of memory.
func TestDurability_BeyondTheMemoryQueueRecordsWaitInTheWALAndAreAllStored(t *testing.T) {
	cfg := testConfig(t)
	cfg.Batch.MaxSize = 50
	cfg.Batch.FlushInterval = 20 * time.Millisecond
	cfg.MaxQueueBytes = 1 // one request in memory at a time; everything else waits in the WAL
	gate := make(chan struct{})
	var flaky *flakyStore
	e := newTestExporter(t, cfg, func(st store.Store) store.Store { flaky = &flakyStore{Store: st, gate: gate}; return flaky })
	for i := range 40 {
		require.NoError(t, e.consumeLogs(context.Background(), numbered(fmt.Sprintf("b%02d", i), 25)))
	}
	assert.Positive(t, e.backlog.len(), "with the store held, requests beyond the memory bound wait in the WAL")
	// The loader may still move an entry into the room a held flush freed, between two reads:
	// health must match the backlog once the two are read without such a move between them.
	assert.Eventually(t, func() bool {
		n := e.store.Health().WALBacklogEntries
		return n > 0 && n == e.backlog.len()
	}, 5*time.Second, 5*time.Millisecond, "health shows the backlog")
	assert.LessOrEqual(t, e.queue.depth(), 2*25, "memory holds at most the request in flight and one more")
	close(gate)
	require.Eventually(t, func() bool { return storedCount(e.store.Store()) == 1000 }, 20*time.Second, 10*time.Millisecond, "every acknowledged record is stored")
	assert.Zero(t, e.backlog.len())
	assert.Zero(t, e.dlqStats().Files, "nothing was set aside in the DLQ for lack of memory")
	for id, n := range storedIDs(t, flaky.Store) {
		assert.Equal(t, 1, n, "%s stored %d times", id, n)
	}
}

// A durable stop is quick whatever the store's speed: it flushes for at most durableDrain and
// leaves the rest, memory included, to the WAL, whose replay at the next start stores it all.
func TestDurability_StopWithAStuckStoreIsQuickAndTheNextStartStoresEverything(t *testing.T) {
	cfg := testConfig(t)
	cfg.Batch.MaxSize = 50
	host, shared := storeHost(t, cfg, func(st store.Store) store.Store { return &flakyStore{Store: st, gate: make(chan struct{})} })
	first := newAuditExporter(cfg, exportertest.NewNopSettings(metadata.Type))
	require.NoError(t, first.start(context.Background(), host))
	for i := range 20 {
		require.NoError(t, first.consumeLogs(context.Background(), numbered(fmt.Sprintf("s%02d", i), 50)))
	}
	began := time.Now()
	require.NoError(t, first.shutdown(context.Background()), "a stop with no deadline of its own")
	took := time.Since(began)
	assert.Less(t, took, durableDrain+2*time.Second, "the stop waited for a store that never answers")
	require.NoError(t, shared.Shutdown(context.Background()))

	second := newTestExporter(t, cfg, nil)
	require.Eventually(t, func() bool { return storedCount(second.store.Store()) == 1000 }, 20*time.Second, 10*time.Millisecond,
		"the next start stores every acknowledged record")
}

// The backlog on disk is bounded: at wal.max_bytes intake refuses with a retryable error and
// acknowledges nothing, and accepts again once the store has caught up.
func TestDurability_AFullWALRefusesWithARetryableErrorUntilTheStoreCatchesUp(t *testing.T) {
	cfg := testConfig(t)
	cfg.Batch.MaxSize = 50
	cfg.Batch.FlushInterval = 20 * time.Millisecond
	cfg.MaxQueueBytes = 1
	cfg.WAL.SegmentSize = 64 << 10
	cfg.WAL.MaxBytes = 64 << 10
	gate := make(chan struct{})
	e := newTestExporter(t, cfg, func(st store.Store) store.Store { return &flakyStore{Store: st, gate: gate} })
	acked := 0
	var err error
	for i := 0; err == nil; i++ {
		require.Less(t, i, 10000, "a 64 KiB WAL never filled")
		if err = e.consumeLogs(context.Background(), numbered(fmt.Sprintf("f%04d", i), 20)); err == nil {
			acked += 20
		}
	}
	require.ErrorIs(t, err, errWALFull)
	assert.False(t, consumererror.IsPermanent(err), "the sender must keep its records and retry")
	assert.Contains(t, err.Error(), "wal.max_bytes")
	// OTLP's throttling: RESOURCE_EXHAUSTED (HTTP 429) with the delay to wait.
	st, ok := status.FromError(err)
	require.True(t, ok, "a gRPC status: %v", err)
	assert.Equal(t, codes.ResourceExhausted, st.Code())
	require.Len(t, st.Details(), 1, "RetryInfo")
	info, ok := st.Details()[0].(*errdetails.RetryInfo)
	require.True(t, ok, "details: %v", st.Details())
	assert.Equal(t, walFullRetryDelay, info.GetRetryDelay().AsDuration())

	close(gate)
	if !assert.Eventually(t, func() bool { return storedCount(e.store.Store()) == acked }, 20*time.Second, 10*time.Millisecond, "every acknowledged record is stored") {
		t.Fatalf("%d acked, %d stored, backlog %d, queue %d", acked, storedCount(e.store.Store()), e.backlog.len(), e.queue.depth())
	}
	require.Eventually(t, func() bool {
		return e.consumeLogs(context.Background(), numbered("after", 20)) == nil
	}, 20*time.Second, 50*time.Millisecond, "intake accepts again once the WAL has drained")
}

func TestDurability_ConcurrentSendersAllLand(t *testing.T) {
	cfg := testConfig(t)
	e := newTestExporter(t, cfg, nil)
	var wg sync.WaitGroup
	for s := 0; s < 16; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				// assert, not require: FailNow must not be called off the test goroutine.
				assert.NoError(t, e.consumeLogs(context.Background(), numbered(fmt.Sprintf("s%d-%d", s, i), 10)))
			}
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool { return storedCount(e.store.Store()) == 1600 }, 20*time.Second, 10*time.Millisecond, "1600 records stored")
}

func TestDurability_ConsumeAfterShutdownIsRefused(t *testing.T) {
	e := newTestExporter(t, testConfig(t), nil)
	require.NoError(t, e.shutdown(context.Background()))
	assert.ErrorIs(t, e.consumeLogs(context.Background(), numbered("late", 1)), errShuttingDown)
}

// timedRequest is what an SDK sends: records with timestamps, no audit.id. Built anew for each
// send, as a client's retry re-encodes the same records.
func timedRequest(seq, n int) plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := range n {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(seq*n+i) * time.Millisecond)))
		lr.SetObservedTimestamp(lr.Timestamp() + 5)
		lr.SetEventName("invoice.paid")
		lr.Body().SetStr(fmt.Sprintf("request %d record %d", seq, i))
		lr.Attributes().PutStr("tenant.id", []string{"acme", "globex"}[i%2])
	}
	return ld
}

func TestDurability_EveryRequestSentTwiceIsStoredOnceCountedByContent(t *testing.T) {
	cfg := testConfig(t)
	e := newTestExporter(t, cfg, nil)
	const requests, perRequest = 20, 25
	for seq := range requests {
		// The first answer was lost, so the client sends the same records again.
		for range 2 {
			require.NoError(t, e.consumeLogs(context.Background(), timedRequest(seq, perRequest)))
		}
	}
	// Twin records that differ only by a nanosecond are two events and stay two rows.
	twin := timedRequest(requests, 1)
	twin.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).SetTimestamp(
		timedRequest(requests, 1).ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Timestamp() + 1)
	for _, ld := range []plog.Logs{timedRequest(requests, 1), twin} {
		require.NoError(t, e.consumeLogs(context.Background(), ld))
	}
	want := requests*perRequest + 2
	// Shutdown flushes every acknowledged record; the file then holds all there will be.
	require.NoError(t, e.shutdown(context.Background()))
	byContent := collectortest.StoredBy(t, storePath(cfg), func(r record.Record) string {
		return r.TenantID + "|" + r.Message + "|" + r.Timestamp.Format(time.RFC3339Nano)
	})
	for content, n := range byContent {
		assert.Equal(t, 1, n, "%q is stored %d times", content, n)
	}
	// Not assert.Len: it would print all 502 records.
	assert.Equal(t, want, len(byContent), "distinct records stored")
}

func TestTelemetry_RecordsPersistedCountsOnlyWhatTheStoreNewlyStored(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	cfg := testConfig(t)
	host, _ := storeHost(t, cfg, nil)
	e := newAuditExporter(cfg, set)
	require.NoError(t, e.start(context.Background(), host))
	t.Cleanup(func() { _ = e.shutdown(context.Background()) })
	persisted := func() int64 {
		m, err := tel.GetMetric("otelcol_exporter_audit_records_persisted")
		if err != nil {
			return 0
		}
		var n int64
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			n += dp.Value
		}
		return n
	}
	// The same 30 records three times: a first send and two resends (or WAL replays).
	for range 3 {
		require.NoError(t, e.consumeLogs(context.Background(), numbered("p", 30)))
	}
	require.NoError(t, e.shutdown(context.Background()))
	assert.Equal(t, int64(30), persisted(), "records_persisted after storing 30 records (sent 3 times)")
}

// Damage on disk is shown, not hidden: a damaged DLQ batch is salvaged and counted, and a
// corrupt WAL range skipped at replay is counted, in health and telemetry.
func TestHealth_ShowsDamagedDLQFilesAndSkippedWALRanges(t *testing.T) {
	cfg := testConfig(t)
	cfg.Batch.FlushInterval = time.Hour // nothing flushes: the records stay in the WAL
	cfg.Batch.MaxSize = 100000
	cfg.DLQ.ScanInterval = 20 * time.Millisecond
	host, shared := storeHost(t, cfg, nil)
	// The first run's DLQ engine must not drain the batch the test puts there before the crash.
	firstCfg := *cfg
	firstCfg.DLQ.ScanInterval = time.Hour
	first := newAuditExporter(&firstCfg, exportertest.NewNopSettings(metadata.Type))
	require.NoError(t, first.start(context.Background(), host))
	for i := range 50 {
		require.NoError(t, first.consumeLogs(context.Background(), numbered(fmt.Sprintf("w%02d", i), 20)))
	}
	// A batch in the DLQ, then a crash.
	require.NoError(t, first.dlq.Put("acme", []record.Record{
		{ID: "d-1", TenantID: "acme", Timestamp: time.Unix(1, 0), Level: record.LevelInfo},
		{ID: "d-2", TenantID: "acme", Timestamp: time.Unix(2, 0), Level: record.LevelInfo},
	}, errors.New("store down")))
	first.cancelRun()
	_ = first.wal.Close()
	first.dlq.Stop()
	_ = shared.Shutdown(context.Background())
	_ = first.dataDir.Release()

	// Flip a byte in the middle of the WAL and in the DLQ batch's second record.
	wals, _ := filepath.Glob(filepath.Join(cfg.DataDir, "wal", "*.wal"))
	dlqs, _ := filepath.Glob(filepath.Join(cfg.DataDir, "dlq", "*.batch"))
	require.NotEmpty(t, wals, "wal segments %v, dlq files %v", wals, dlqs)
	require.Len(t, dlqs, 1, "wal segments %v, dlq files %v", wals, dlqs)
	flip := func(path string, at func(data []byte) int) {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		data[at(data)] ^= 0x40
		require.NoError(t, os.WriteFile(path, data, 0o600))
	}
	flip(wals[0], func(d []byte) int { return len(d) / 2 })
	flip(dlqs[0], func(d []byte) int { return bytes.LastIndex(d, []byte(`"d-2"`)) + 2 })

	second := newTestExporter(t, cfg, nil)
	require.Eventually(t, func() bool {
		h := second.Health()
		return h.DLQCorruptFiles == 1 && h.DLQRecordsSalvaged == 1
	}, 20*time.Second, 10*time.Millisecond, "the damaged DLQ file salvaged and set aside")
	h := second.Health()
	assert.Equal(t, uint64(1), h.DLQRecordsLost, "health %+v; want 1 DLQ record lost", h)
	assert.GreaterOrEqual(t, h.WALCorruptRanges, int64(1), "health %+v; want the skipped WAL range counted", h)
	require.Eventually(t, func() bool {
		_, err := second.store.Store().Get(context.Background(), "acme", "d-1")
		return err == nil
	}, 20*time.Second, 10*time.Millisecond, "the salvaged record stored")
}

// The sender of a refused request learns that it was refused and may retry, not the paths of
// the data directory that the cause names (it is in the collector's log).
func TestDurability_AWALFailureIsAnsweredWithoutItsCause(t *testing.T) {
	cfg := testConfig(t)
	e := newTestExporter(t, cfg, nil)
	_ = e.wal.Close() // every Append now fails
	err := e.consumeLogs(context.Background(), numbered("x", 1))
	require.Error(t, err, "a request was acknowledged without the WAL")
	assert.False(t, consumererror.IsPermanent(err), "error %q: want a retryable error", err)
	assert.NotContains(t, err.Error(), "wal:", "want an error that names no internal cause")
	assert.NotContains(t, err.Error(), cfg.DataDir, "want an error that names no internal cause")
}

// hangingStore is a real store whose inserts hang, until their context ends, while hang is set.
type hangingStore struct {
	store.Store
	hang atomic.Bool
}

func (h *hangingStore) Insert(ctx context.Context, tenant string, recs []record.Record) (int, error) {
	if h.hang.Load() {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return h.Store.Insert(ctx, tenant, recs)
}

// A store that accepts the connection but never answers must not hold a flush worker: each
// attempt ends at timeout, and once the retries are spent the batch waits in the DLQ.
func TestDurability_AHungInsertEndsAtTimeoutAndTheBatchIsSetAside(t *testing.T) {
	cfg := testConfig(t)
	cfg.Timeout = 50 * time.Millisecond
	cfg.RetryOnFailure.InitialInterval = 5 * time.Millisecond
	cfg.RetryOnFailure.MaxInterval = 10 * time.Millisecond
	cfg.RetryOnFailure.MaxElapsedTime = 30 * time.Millisecond
	cfg.DLQ.ScanInterval = time.Hour
	var hung *hangingStore
	e := newTestExporter(t, cfg, func(st store.Store) store.Store {
		hung = &hangingStore{Store: st}
		hung.hang.Store(true)
		return hung
	})
	require.NoError(t, e.consumeLogs(context.Background(), numbered("h", 10)))
	require.Eventually(t, func() bool { return e.dlqStats().Files == 1 }, 20*time.Second, 10*time.Millisecond, "the batch set aside in the DLQ")
	hung.hang.Store(false)
	e.dlq.Kick()
	require.Eventually(t, func() bool { return storedCount(hung.Store) == 10 }, 20*time.Second, 10*time.Millisecond, "the batch stored once the store answers")
}
