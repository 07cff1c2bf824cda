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
	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension"
	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/dirlock"
	"github.com/otelcol-audit/otelcol-audit/internal/dlq"
	"github.com/otelcol-audit/otelcol-audit/internal/health"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/retention"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/clickhousestore"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
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
	errNoChain        = errors.New("auditexporter: tamper_evidence is off or the store keeps no chain")
)

// auditExporter is the write path. Read it top to bottom: consumeLogs assigns ids, maps and
// filters, appends to the WAL and acknowledges; flush workers (writer.go) batch, insert, retry
// and set failed batches aside in the DLQ; the DLQ's retry engine inserts them later.
type auditExporter struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry component.TelemetrySettings
	now       func() time.Time

	// openStore opens the configured backend; tests replace it to inject failures.
	openStore func(ctx context.Context, cfg StoreConfig) (store.Store, error)

	host      component.Host
	dataDir   *dirlock.Lock // held from start to the end of shutdown
	store     store.Store
	wal       *wal.WAL // nil in volatile mode
	dlq       *dlq.Queue
	queue     *batchQueue
	metrics   *metadata.TelemetryBuilder
	retention *retention.Scheduler
	// checkpoints is nil when tamper_evidence is off or the store keeps no chain.
	checkpoints *checkpointer
	registry    auditqueryextension.BackendRegistry
	publisher   auditqueryextension.RecordPublisher

	accepting atomic.Bool
	// walCorruptRanges is how many corrupt WAL ranges the last replay skipped (for health).
	walCorruptRanges atomic.Int64
	shutdownOnce     sync.Once
	// runCtx is cancelled when shutdown runs out of time: retries stop and what is left stays
	// in the WAL for the next start.
	runCtx    context.Context
	cancelRun context.CancelFunc
	workers   sync.WaitGroup

	mu            sync.Mutex // guards the health fields below
	failureCount  int64
	lastFailureAt time.Time
	lastError     string
	failing       bool // the most recent insert failed
}

func newAuditExporter(cfg *Config, set exporter.Settings) *auditExporter {
	return &auditExporter{
		cfg: cfg, logger: set.Logger, telemetry: set.TelemetrySettings, now: time.Now,
		openStore: openConfiguredStore,
	}
}

func openConfiguredStore(ctx context.Context, cfg StoreConfig) (store.Store, error) {
	if cfg.Backend == backendClickHouse {
		// An unreachable server is not an error here: the store connects on first use, so
		// the collector starts and records wait in the WAL and the DLQ until it answers.
		st, err := clickhousestore.Open(ctx, cfg.ClickHouse)
		if err != nil {
			return nil, fmt.Errorf("open clickhouse store: %w", err)
		}
		return st, nil
	}
	// OpenStore picks single_database or database_per_tenant from the config.
	st, err := sqlitestore.OpenStore(ctx, cfg.SQLite)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	return st, nil
}

func (e *auditExporter) start(ctx context.Context, host component.Host) error {
	e.host = host
	// Before anything under data_dir is opened: a second collector on the same WAL, DLQ and
	// SQLite file would corrupt them.
	var err error
	if e.dataDir, err = dirlock.Acquire(e.cfg.DataDir); err != nil {
		return fmt.Errorf("auditexporter: data_dir: %w", err)
	}
	e.runCtx, e.cancelRun = context.WithCancel(context.Background())
	e.queue = newBatchQueue(e.cfg.Batch.MaxSize, e.cfg.Batch.FlushInterval, e.now)

	if e.metrics, err = metadata.NewTelemetryBuilder(e.telemetry); err != nil {
		return fmt.Errorf("auditexporter: telemetry: %w", err)
	}
	gauge := func(f func() int64) metric.Int64Callback {
		return func(_ context.Context, o metric.Int64Observer) error { o.Observe(f()); return nil }
	}
	if err = errors.Join(
		e.metrics.RegisterExporterAuditQueueDepthCallback(gauge(func() int64 { return int64(e.queue.depth()) })),
		e.metrics.RegisterExporterAuditWalBytesCallback(gauge(func() int64 { return e.walBytes() })),
		e.metrics.RegisterExporterAuditDlqFilesCallback(gauge(func() int64 { return int64(e.dlqStats().Files) })),
		e.metrics.RegisterExporterAuditDlqDeadFilesCallback(gauge(func() int64 { return int64(e.dlqStats().DeadFiles) })),
		e.metrics.RegisterExporterAuditDlqCorruptFilesCallback(gauge(func() int64 { return int64(e.dlqStats().CorruptFiles) })),
	); err != nil {
		return fmt.Errorf("auditexporter: telemetry: %w", err)
	}

	storeCfg := e.cfg.Store
	storeCfg.SQLite.Chain = e.cfg.TamperEvidence.Enabled
	storeCfg.ClickHouse.Chain = e.cfg.TamperEvidence.Enabled
	if e.store, err = e.openStore(ctx, storeCfg); err != nil {
		return fmt.Errorf("auditexporter: %w", err)
	}
	if err := e.startCheckpoints(); err != nil {
		return err
	}

	e.dlq, err = dlq.Open(filepath.Join(e.cfg.DataDir, "dlq"), dlq.Options{
		ScanInterval: e.cfg.DLQ.ScanInterval,
		MaxFailures:  e.cfg.DLQ.MaxFailures,
		MaxBytes:     e.cfg.DLQ.MaxBytes,
		Logger:       e.logger,
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

	if e.retention, err = retention.NewScheduler(e.cfg.Retention, e.prune, e.logger); err != nil {
		return fmt.Errorf("auditexporter: %w", err)
	}
	if err := e.retention.Start(ctx); err != nil {
		return fmt.Errorf("auditexporter: %w", err)
	}

	if err := e.registerWithQueryExtension(host); err != nil {
		return err
	}
	e.accepting.Store(true)
	return nil
}

// startCheckpoints loads the signing key and starts the checkpointer, when tamper_evidence is
// on and the store keeps a chain.
func (e *auditExporter) startCheckpoints() error {
	te := e.cfg.TamperEvidence
	if !te.Enabled {
		return nil
	}
	cs, ok := e.store.(store.ChainStore)
	if !ok {
		e.logger.Warn("The store keeps no hash chain; tamper_evidence has no effect", zap.String("backend", e.cfg.Store.Backend))
		return nil
	}
	var signer *chain.Signer
	if te.SigningKeyFile != "" {
		key, err := chain.LoadPrivateKey(te.SigningKeyFile)
		if err != nil {
			return fmt.Errorf("auditexporter: tamper_evidence.signing_key_file: %w", err)
		}
		signer = chain.NewSigner(key)
		e.logger.Info("Chain checkpoints are signed", zap.String("key_id", chain.KeyID(signer.PublicKey())))
	} else {
		e.logger.Warn("tamper_evidence.signing_key_file is not set: chain checkpoints are unsigned, so someone who can write the database could rewrite the chain undetected")
	}
	keys := chain.Keyring{}
	if signer != nil {
		keys = chain.NewKeyring(signer.PublicKey())
	}
	for i, path := range te.PublicKeyFiles {
		pub, err := chain.LoadPublicKey(path)
		if err != nil {
			return fmt.Errorf("auditexporter: tamper_evidence.public_key_files[%d]: %w", i, err)
		}
		keys[chain.KeyID(pub)] = pub
	}
	e.checkpoints = newCheckpointer(cs, signer, keys, te, e.logger, e.now)
	e.checkpoints.start()
	return nil
}

// prune is the retention scheduler's run: the store's Prune, then a checkpoint per tenant that
// records the run's cutoffs, so verify tells the records it removed from deleted ones. The
// checkpoint is written even after a failed run, which may have removed some records.
func (e *auditExporter) prune(ctx context.Context, policy store.RetentionPolicy, now time.Time) (store.PruneResult, error) {
	res, err := e.store.Prune(ctx, policy, now)
	if e.checkpoints != nil && res.Total > 0 {
		e.checkpoints.afterPrune(ctx, policy, now)
	}
	return res, err
}

// VerifyChain recomputes a tenant's chain: the query extension's verify endpoint.
func (e *auditExporter) VerifyChain(ctx context.Context, tenant string, r chain.Range) (chain.Report, error) {
	if e.checkpoints == nil {
		return chain.Report{}, errNoChain
	}
	return e.checkpoints.verify(ctx, tenant, r)
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

func (e *auditExporter) registerWithQueryExtension(host component.Host) error {
	if e.cfg.Query == nil {
		return nil
	}
	ext, ok := host.GetExtensions()[*e.cfg.Query]
	if !ok {
		return fmt.Errorf("auditexporter: query: extension %q is not configured in service.extensions", e.cfg.Query)
	}
	reg, ok := ext.(auditqueryextension.BackendRegistry)
	if !ok {
		return fmt.Errorf("auditexporter: query: extension %q is not an auditquery extension", e.cfg.Query)
	}
	backend := auditqueryextension.Backend{Store: e.store, Health: e, Retention: e}
	if e.checkpoints != nil {
		backend.Verifier = e
	}
	if err := reg.RegisterBackend(backend); err != nil {
		return fmt.Errorf("auditexporter: query: register with %q: %w", e.cfg.Query, err)
	}
	e.registry = reg
	e.publisher, _ = ext.(auditqueryextension.RecordPublisher)
	return nil
}

// shutdown stops intake, flushes the queue (until ctx's deadline), stops the DLQ engine,
// closes the WAL with its checkpoint, and closes the store. Safe before start and twice: only
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
	if e.retention != nil {
		e.retention.Stop()
	}
	if e.registry != nil {
		e.registry.UnregisterBackend()
	}
	if e.checkpoints != nil {
		// After the last inserts and retention run, before the store closes.
		e.checkpoints.shutdown(ctx)
	}
	if e.store != nil {
		errs = append(errs, e.store.Close())
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
			e.noteFailure(err)
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

func (e *auditExporter) noteFailure(err error) {
	e.mu.Lock()
	e.failureCount++
	e.lastFailureAt = e.now().UTC()
	e.lastError = err.Error()
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

// RunRetention applies the retention policy now: the query extension's admin endpoint.
func (e *auditExporter) RunRetention(ctx context.Context) (store.PruneResult, error) {
	return e.retention.RunNow(ctx)
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

// Health implements health.Source for the query extension.
func (e *auditExporter) Health() health.Snapshot {
	d := e.dlqStats()
	depth := 0
	if q := e.queue; q != nil {
		depth = q.depth()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := health.Snapshot{
		Status: "ok", FailureCount: e.failureCount, LastError: e.lastError,
		QueueDepth: depth, DLQFiles: d.Files, DeadFiles: d.DeadFiles,
		DLQCorruptFiles: d.CorruptFiles, DLQRecordsSalvaged: d.SalvagedRecords, DLQRecordsLost: d.LostRecords,
		WALCorruptRanges: e.walCorruptRanges.Load(),
	}
	if !e.lastFailureAt.IsZero() {
		t := e.lastFailureAt
		s.LastFailureAt = &t
	}
	if e.failing {
		s.Status = "degraded"
	}
	return s
}
