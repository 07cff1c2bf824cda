package auditexporter

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelcol-audit/otelcol-audit/exporter/auditexporter/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/auditstore"
	"github.com/otelcol-audit/otelcol-audit/internal/dirlock"
	"github.com/otelcol-audit/otelcol-audit/internal/dlq"
	"github.com/otelcol-audit/otelcol-audit/internal/health"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/wal"
)

var (
	errNotStarted   = errors.New("auditexporter: not started")
	errShuttingDown = errors.New("auditexporter: shutting down, not accepting records")
	errQueueFull    = errors.New("auditexporter: queue full")
	// What a sender learns when its records could not be made durable. The cause names files
	// of the data directory, which reach senders through receivers' answers: it is logged, not
	// returned. Both are retryable (the sender keeps the records and retries).
	errWALUnavailable = errors.New("auditexporter: the write-ahead log cannot take records right now; retry later")
	errWALDiskFull    = errors.New("auditexporter: the write-ahead log's disk is full (no space left on device); retry later")
	errDLQUnavailable = errors.New("auditexporter: the queue is full and the dead-letter queue cannot take records right now; retry later")
	errDLQDiskFull    = errors.New("auditexporter: the queue is full and the dead-letter queue's disk is full (no space left on device); retry later")
)

// auditExporter is the write path. Read it top to bottom: consumeLogs assigns ids, maps and
// filters, appends to the WAL and acknowledges; flush workers (writer.go) batch, insert into
// the auditstore extension's store, retry and set failed batches aside in the DLQ; the DLQ's
// retry engine inserts them later.
type auditExporter struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry component.TelemetrySettings
	now       func() time.Time

	host    component.Host
	dataDir *dirlock.Lock // held from start to the end of shutdown
	// store is the auditstore extension's; it outlives the exporter (extensions shut down
	// after pipelines), so the exporter never closes it.
	store        auditstore.Handle
	removeWriter func()   // takes this exporter's state out of the store's health
	wal          *wal.WAL // nil in volatile mode
	dlq          *dlq.Queue
	queue        *batchQueue
	metrics      *metadata.TelemetryBuilder

	accepting atomic.Bool
	// walCorruptRanges is how many corrupt WAL ranges the last replay skipped (for health).
	walCorruptRanges atomic.Int64
	shutdownOnce     sync.Once
	// runCtx is cancelled when shutdown runs out of time: retries stop and what is left stays
	// in the WAL for the next start.
	runCtx    context.Context
	cancelRun context.CancelFunc
	workers   sync.WaitGroup

	mu sync.Mutex // guards the health fields below
	// The exporter's own failures (the WAL or the DLQ refusing records); the store counts its
	// insert failures itself.
	failureCount  int64
	lastFailureAt time.Time
	lastError     string
	failing       bool // the most recent insert failed
}

func newAuditExporter(cfg *Config, set exporter.Settings) *auditExporter {
	return &auditExporter{
		cfg: cfg, logger: set.Logger, telemetry: set.TelemetrySettings, now: time.Now,
	}
}

func (e *auditExporter) start(_ context.Context, host component.Host) error {
	e.host = host
	var err error
	if e.store, err = auditstore.Find(host, e.cfg.Store); err != nil {
		return fmt.Errorf("auditexporter: store: %w", err)
	}
	if e.store.ReadOnly() {
		return fmt.Errorf("auditexporter: store: extension %q is read_only; an exporter needs a store it can write", e.cfg.Store)
	}
	// Before anything under data_dir is opened: a second collector on the same WAL and DLQ
	// would corrupt them.
	if e.dataDir, err = dirlock.Acquire(e.cfg.DataDir); err != nil {
		return fmt.Errorf("auditexporter: data_dir: %w", err)
	}
	e.runCtx, e.cancelRun = context.WithCancel(context.Background())
	e.queue = newBatchQueue(e.cfg.Batch.MaxSize, e.cfg.Batch.FlushInterval, e.now)

	if e.metrics, err = metadata.NewTelemetryBuilder(e.telemetry, metadata.WithObservers(
		func() int64 { return int64(e.queue.depth()) },
		func() int64 { return e.walBytes() },
		func() int64 { return int64(e.dlqStats().Files) },
		func() int64 { return int64(e.dlqStats().DeadFiles) },
		func() int64 { return int64(e.dlqStats().CorruptFiles) },
	)); err != nil {
		return fmt.Errorf("auditexporter: telemetry: %w", err)
	}

	e.dlq, err = dlq.Open(filepath.Join(e.cfg.DataDir, "dlq"), dlq.Options{
		ScanInterval: e.cfg.DLQ.ScanInterval,
		MaxFailures:  e.cfg.DLQ.MaxFailures,
		MaxBytes:     e.cfg.DLQ.MaxBytes,
		Logger:       e.logger,
		RetryBackoff: e.cfg.RetryOnFailure,
	})
	if err != nil {
		return fmt.Errorf("auditexporter: open dead-letter queue: %w", err)
	}

	if e.cfg.Mode == modeDurable {
		if err := e.openAndReplayWAL(); err != nil {
			return err
		}
	}

	for i := 0; i < e.cfg.Batch.Workers; i++ {
		e.workers.Add(1)
		go e.flushLoop()
	}
	if err := e.dlq.Start(e.insertSetAside); err != nil {
		return fmt.Errorf("auditexporter: start dead-letter retry engine: %w", err)
	}

	e.removeWriter = e.store.AddWriter(e)
	e.accepting.Store(true)
	return nil
}

// openAndReplayWAL queues every entry the previous run acknowledged but did not finish. It runs
// before the exporter accepts anything, so replayed records go first.
func (e *auditExporter) openAndReplayWAL() error {
	w, err := wal.Open(filepath.Join(e.cfg.DataDir, "wal"), wal.Options{
		SegmentSize:  e.cfg.WAL.SegmentSize,
		Sync:         wal.SyncMode(e.cfg.WAL.Sync),
		SyncInterval: e.cfg.WAL.SyncInterval,
		Logger:       e.logger,
	})
	if err != nil {
		return fmt.Errorf("auditexporter: open write-ahead log: %w", err)
	}
	e.wal = w
	replayed := 0
	stats, err := w.Replay(func(pos wal.Position, payload []byte) error {
		recs, derr := decodeEntry(payload)
		if derr != nil {
			// The frame's checksum held but its content does not decode: nothing can be
			// recovered from it, and keeping it would pin the WAL forever.
			e.logger.Error("write-ahead log entry cannot be decoded; skipping it", zap.Any("position", pos), zap.Error(derr))
			e.markDone(pos)
			return nil
		}
		replayed += len(recs)
		e.enqueue(pos, recs)
		return nil
	})
	if err != nil {
		return fmt.Errorf("auditexporter: replay write-ahead log: %w", err)
	}
	if replayed > 0 || stats.TornTails > 0 || len(stats.Corrupt) > 0 {
		e.logger.Info("write-ahead log replayed", zap.Int("records", replayed), zap.Int("entries", stats.Entries),
			zap.Int("torn_tails_cut", stats.TornTails), zap.Int64("torn_bytes", stats.TornBytes),
			zap.Int("corrupt_ranges_skipped", len(stats.Corrupt)))
	}
	for _, c := range stats.Corrupt {
		e.logger.Error("write-ahead log corruption skipped", zap.Error(c))
	}
	e.walCorruptRanges.Store(int64(len(stats.Corrupt)))
	e.metrics.ExporterAuditWalCorruptRanges.Add(context.Background(), int64(len(stats.Corrupt)))
	e.metrics.ExporterAuditRecordsReplayed.Add(context.Background(), int64(replayed))
	return nil
}

// shutdown stops intake, flushes the queue (until ctx's deadline), stops the DLQ engine and
// closes the WAL. The store is the auditstore extension's: it stays open. Safe before start and twice: only
// the first call does anything.
func (e *auditExporter) shutdown(ctx context.Context) error {
	var err error
	e.shutdownOnce.Do(func() { err = e.doShutdown(ctx) })
	return err
}

func (e *auditExporter) doShutdown(ctx context.Context) error {
	e.accepting.Store(false)
	var errs []error
	if e.queue != nil {
		e.queue.close()
		drained := make(chan struct{})
		go func() { e.workers.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-ctx.Done():
			// Out of time: stop retrying. Unflushed records stay in the WAL (durable) and are
			// replayed at the next start.
			e.cancelRun()
			<-drained
		}
	}
	if e.cancelRun != nil {
		e.cancelRun()
	}
	if e.metrics != nil {
		e.metrics.Shutdown()
	}
	if e.dlq != nil {
		e.dlq.Stop()
	}
	if e.wal != nil {
		errs = append(errs, e.wal.Close())
	}
	if e.removeWriter != nil {
		e.removeWriter()
	}
	errs = append(errs, e.dataDir.Release())
	return errors.Join(errs...)
}

func (e *auditExporter) consumeLogs(ctx context.Context, ld plog.Logs) error {
	if e.queue == nil {
		return errNotStarted
	}
	if !e.accepting.Load() {
		return errShuttingDown
	}
	// Limits first: nothing below (ids, mapping, the WAL encoder) has to cope with a record
	// no reader could decode.
	if err := e.cfg.Limits.Check(ld); err != nil {
		e.metrics.ExporterAuditRecordsDropped.Add(ctx, int64(ld.LogRecordCount()), metric.WithAttributes(reasonInvalid))
		return invalidRequest(err)
	}
	record.EnsureIDs(ld)
	all := e.cfg.Mapping.FromLogs(ld, authenticatedTenant(ctx), e.now())
	for i := range all {
		if err := record.ValidTenantID(all[i].TenantID); err != nil {
			e.metrics.ExporterAuditRecordsDropped.Add(ctx, int64(len(all)), metric.WithAttributes(reasonInvalid))
			return invalidRequest(fmt.Errorf("record %d: tenant id %w", i, err))
		}
	}
	recs := keepAtOrAbove(all, e.cfg.MinLevel)
	e.metrics.ExporterAuditRecordsReceived.Add(ctx, int64(len(all)))
	e.metrics.ExporterAuditRecordsDropped.Add(ctx, int64(len(all)-len(recs)), metric.WithAttributes(reasonMinLevel))
	if len(recs) == 0 {
		return nil
	}

	if !e.queue.fits(len(recs), e.cfg.MaxQueueSize) {
		return e.onQueueFull(ctx, recs)
	}

	var pos wal.Position
	if e.wal != nil {
		payload, err := encodeEntry(recs)
		if err != nil {
			return fmt.Errorf("auditexporter: %w", err)
		}
		// The acknowledgement: once Append returns, the records survive a crash.
		if pos, err = e.wal.Append(ctx, payload); err != nil {
			e.noteOwnFailure(err)
			e.logger.Warn("Records refused: the write-ahead log cannot take them", zap.Int("records", len(recs)), zap.Error(err))
			return refusal(err, errWALUnavailable, errWALDiskFull)
		}
	}
	e.enqueue(pos, recs)
	return nil
}

// enqueue splits an acknowledged entry into per-tenant items; the entry is done when all are.
func (e *auditExporter) enqueue(pos wal.Position, recs []record.Record) {
	byTenant := splitByTenant(recs)
	entry := &walEntry{pending: len(byTenant)}
	if e.wal != nil {
		entry.onDone = func() { e.markDone(pos) }
	}
	items := make([]*item, 0, len(byTenant))
	for tenant, trecs := range byTenant {
		items = append(items, &item{entry: entry, tenant: tenant, records: trecs})
	}
	e.queue.push(items...)
}

// onQueueFull applies the configured policy to a request that does not fit in the queue.
func (e *auditExporter) onQueueFull(ctx context.Context, recs []record.Record) error {
	switch e.cfg.OnQueueFull {
	case onFullDrop:
		e.metrics.ExporterAuditRecordsDropped.Add(ctx, int64(len(recs)), metric.WithAttributes(reasonQueueFull))
		return nil
	case onFullDLQ:
		// The DLQ write is atomic and fsynced, as durable as the WAL: acknowledging after it
		// keeps the promise without holding the records in memory.
		for tenant, trecs := range splitByTenant(recs) {
			if err := e.dlq.Put(tenant, trecs, errQueueFull); err != nil {
				e.noteOwnFailure(err)
				e.logger.Warn("Records refused: the queue is full and the dead-letter queue cannot take them", zap.Int("records", len(trecs)), zap.Error(err))
				return refusal(err, errDLQUnavailable, errDLQDiskFull)
			}
			e.metrics.ExporterAuditRecordsDlq.Add(ctx, int64(len(trecs)))
		}
		e.dlq.Kick()
		return nil
	default: // block
		return errQueueFull
	}
}

// refusal is what the sender is told for cause: that the disk is full when it is (the sender's
// operator can act on that), else the generic answer.
func refusal(cause, generic, diskFull error) error {
	if errors.Is(cause, syscall.ENOSPC) {
		return diskFull
	}
	return generic
}

// invalidRequest refuses a request for what it holds: a permanent error (the sender must not
// retry it) carrying InvalidArgument, which the OTLP receiver answers with HTTP 400 or the
// gRPC code, and the audit receiver with 400, both with the message. No record of the
// request is acknowledged, so none is lost silently.
func invalidRequest(err error) error {
	return consumererror.NewPermanent(status.Error(codes.InvalidArgument, "audit: "+err.Error()))
}

// keepAtOrAbove keeps the records at or above minLevel; security records are always kept.
func keepAtOrAbove(recs []record.Record, minLevel record.Level) []record.Record {
	kept := recs[:0:0]
	for _, r := range recs {
		if r.Level >= minLevel || r.Level == record.LevelSecurity {
			kept = append(kept, r)
		}
	}
	return kept
}

// splitByTenant groups records by tenant, because a store transaction holds one tenant.
func splitByTenant(recs []record.Record) map[string][]record.Record {
	out := make(map[string][]record.Record, 1)
	for _, r := range recs {
		out[r.TenantID] = append(out[r.TenantID], r)
	}
	return out
}

// authenticatedTenant is the tenant an auth extension attached to the request, if any; the
// mapping uses it when a record names no tenant itself.
func authenticatedTenant(ctx context.Context) string {
	info := client.FromContext(ctx)
	if info.Auth == nil {
		return ""
	}
	if v, ok := info.Auth.GetAttribute("tenant").(string); ok {
		return v
	}
	return ""
}

// noteOwnFailure counts a failure of the exporter's own (the WAL or the DLQ refusing records)
// in its health; the store counts its insert failures itself.
func (e *auditExporter) noteOwnFailure(err error) {
	e.mu.Lock()
	e.failureCount++
	e.lastFailureAt = e.now().UTC()
	e.lastError = err.Error()
	e.mu.Unlock()
	e.noteFailure(err)
}

// noteFailure marks the write path failing: status reported once, until a success.
func (e *auditExporter) noteFailure(err error) {
	e.mu.Lock()
	wasFailing := e.failing
	e.failing = true
	e.mu.Unlock()
	if !wasFailing {
		e.logger.Warn("audit records not stored yet; they wait in the WAL/DLQ", zap.Error(err))
		componentstatus.ReportStatus(e.host, componentstatus.NewRecoverableErrorEvent(err))
	}
}

func (e *auditExporter) noteSuccess() {
	e.mu.Lock()
	wasFailing := e.failing
	e.failing = false
	e.mu.Unlock()
	if wasFailing {
		e.logger.Info("store accepts records again")
		componentstatus.ReportStatus(e.host, componentstatus.NewEvent(componentstatus.StatusOK))
		// Drain what the outage set aside now rather than at the next scan.
		e.dlq.Kick()
	}
}

// markDone tells the WAL an entry is committed or set aside, so its space can be reclaimed.
func (e *auditExporter) markDone(pos wal.Position) {
	if err := e.wal.Done(pos); err != nil {
		// Harmless for the data (at worst the entry is replayed and deduplicated), but it
		// means the bookkeeping is off: say so.
		e.logger.Warn("write-ahead log: done for an unknown position", zap.Any("position", pos), zap.Error(err))
	}
}

func (e *auditExporter) walBytes() int64 {
	if w := e.wal; w != nil {
		return w.Size()
	}
	return 0
}

func (e *auditExporter) dlqStats() dlq.Stats {
	if q := e.dlq; q != nil {
		return q.Stats()
	}
	return dlq.Stats{}
}

// Health is this exporter's part of the store's health (the auditstore extension merges it
// with the store's own).
func (e *auditExporter) Health() health.Snapshot {
	d := e.dlqStats()
	depth := 0
	if q := e.queue; q != nil {
		depth = q.depth()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := health.Snapshot{
		Status: health.StatusOK, FailureCount: e.failureCount, LastError: e.lastError,
		QueueDepth: depth, DLQFiles: d.Files, DeadFiles: d.DeadFiles,
		DLQCorruptFiles: d.CorruptFiles, DLQRecordsSalvaged: d.SalvagedRecords, DLQRecordsLost: d.LostRecords,
		WALCorruptRanges: e.walCorruptRanges.Load(),
	}
	if !e.lastFailureAt.IsZero() {
		t := e.lastFailureAt
		s.LastFailureAt = &t
	}
	if e.failing {
		s.Status = health.StatusDegraded
	}
	return s
}
