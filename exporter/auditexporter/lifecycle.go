package auditexporter

// The exporter's life: what start opens and in which order, the WAL's replay, and what
// shutdown closes.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/exporter/auditexporter/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/auditstore"
	"github.com/otelcol-audit/otelcol-audit/internal/dirlock"
	"github.com/otelcol-audit/otelcol-audit/internal/dlq"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/wal"
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
	backlog      *backlog // durable mode: acknowledged entries waiting in the WAL, not in memory
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
	loader    sync.WaitGroup

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
	e.queue = newBatchQueue(e.cfg.Batch.MaxSize, e.cfg.queueBytes(), e.cfg.Batch.FlushInterval, e.now)
	e.backlog = newBacklog()

	if e.metrics, err = metadata.NewTelemetryBuilder(e.telemetry); err != nil {
		return fmt.Errorf("auditexporter: telemetry: %w", err)
	}
	gauge := func(f func() int64) metric.Int64Callback {
		return func(_ context.Context, o metric.Int64Observer) error { o.Observe(f()); return nil }
	}
	if err = errors.Join(
		e.metrics.RegisterExporterAuditQueueDepthCallback(gauge(func() int64 { return int64(e.queue.depth()) })),
		e.metrics.RegisterExporterAuditQueueBytesCallback(gauge(func() int64 { return int64(e.queue.heldBytes()) })),
		e.metrics.RegisterExporterAuditBacklogEntriesCallback(gauge(func() int64 { return int64(e.backlog.len()) })),
		e.metrics.RegisterExporterAuditWalBytesCallback(gauge(func() int64 { return e.walBytes() })),
		e.metrics.RegisterExporterAuditDlqFilesCallback(gauge(func() int64 { return int64(e.dlqStats().Files) })),
		e.metrics.RegisterExporterAuditDlqDeadFilesCallback(gauge(func() int64 { return int64(e.dlqStats().DeadFiles) })),
		e.metrics.RegisterExporterAuditDlqCorruptFilesCallback(gauge(func() int64 { return int64(e.dlqStats().CorruptFiles) })),
	); err != nil {
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
	if e.wal != nil {
		e.loader.Add(1)
		go e.loadLoop()
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
		// Memory first, up to max_queue_bytes; the rest stays on disk, read back in turn
		// (decoded only then, so a large backlog costs a start nothing but the read).
		if e.backlog.len() > 0 || !e.queue.hasRoom() {
			e.backlog.push(backlogEntry{pos: pos, replayed: true})
			return nil
		}
		recs, derr := decodeEntry(payload, e.cfg.Mapping, e.cfg.MinLevel)
		if derr != nil {
			// The frame's checksum held but its content does not decode: nothing can be
			// recovered from it, and keeping it would pin the WAL forever.
			e.logger.Error("write-ahead log entry cannot be decoded; skipping it", zap.Any("position", pos), zap.Error(derr))
			newAckedEntry(w, pos, 0, e.logger).markDone()
			return nil
		}
		replayed += len(recs)
		e.enqueue(pos, recs, record.ApproxBytes(recs))
		return nil
	})
	if err != nil {
		return fmt.Errorf("auditexporter: replay write-ahead log: %w", err)
	}
	if stats.Entries > 0 || stats.TornTails > 0 || len(stats.Corrupt) > 0 {
		e.logger.Info("write-ahead log replayed", zap.Int("entries", stats.Entries), zap.Int("records_in_memory", replayed),
			zap.Int("entries_left_on_disk", e.backlog.len()),
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

// durableDrain bounds how long a durable-mode shutdown flushes the records in memory (at most
// max_queue_bytes of them) before leaving them to the WAL: a stop must be quick whatever the
// store's speed, and nothing is lost by stopping early.
const durableDrain = 2 * time.Second

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
		// Closing stops the loader (the backlog stays in the WAL) and lets the workers flush
		// what is in memory. Durable mode flushes for at most durableDrain: everything in
		// memory is also in the WAL, so a stop need not wait for a slow store.
		e.queue.close()
		drained := make(chan struct{})
		go func() { e.workers.Wait(); e.loader.Wait(); close(drained) }()
		budget, cancel := ctx, context.CancelFunc(func() {})
		if e.wal != nil {
			budget, cancel = context.WithTimeout(ctx, durableDrain)
		}
		select {
		case <-drained:
		case <-budget.Done():
			// Out of time: take no more batches and stop the inserts in flight (a transaction
			// cut short rolls back). What was not committed is replayed at the next start;
			// in volatile mode it is lost, which is why volatile mode drains until ctx ends.
			e.queue.abandon()
			e.cancelRun()
			<-drained
		}
		cancel()
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
