package auditexporter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/dlq"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

var (
	reasonMinLevel  = attribute.String("reason", "min_level")
	reasonQueueFull = attribute.String("reason", "queue_full")
	reasonInvalid   = attribute.String("reason", "invalid")
)

// flushLoop is one flush worker: it takes ready batches until the queue is closed and empty.
func (e *auditExporter) flushLoop() {
	defer e.workers.Done()
	for {
		batch := e.queue.next()
		if batch == nil {
			return
		}
		e.flush(batch)
	}
}

// flush writes one tenant's batch: insert with retries, else the DLQ. Each item's entry is
// marked done only once its records are committed or in the DLQ, so the WAL keeps anything
// that is neither.
func (e *auditExporter) flush(items []*item) {
	tenant := items[0].tenant
	var recs []record.Record
	if len(items) == 1 {
		recs = items[0].records
	} else {
		for _, it := range items {
			recs = append(recs, it.records...)
		}
	}

	err := e.insertWithRetry(e.runCtx, tenant, recs)
	if err != nil && !e.setAside(tenant, recs, err) {
		return // stopped before the records were safe anywhere but the WAL: replayed at start
	}
	for _, it := range items {
		it.entry.itemDone()
	}
}

// setAside writes a batch that could not be inserted to the DLQ. It keeps trying while the DLQ
// refuses (disk full, cap reached): the queue then fills and senders are pushed back, which
// is the only loss-free answer. It gives up only when the exporter is stopping.
func (e *auditExporter) setAside(tenant string, recs []record.Record, cause error) bool {
	wait := time.Second
	for {
		err := e.dlq.Put(tenant, recs, cause)
		if err == nil {
			e.metrics.ExporterAuditRecordsDlq.Add(context.Background(), int64(len(recs)))
			return true
		}
		e.logger.Error("dead-letter queue refused a batch; holding it", zap.String("tenant", tenant),
			zap.Int("records", len(recs)), zap.Error(err))
		select {
		case <-e.runCtx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// insertWithRetry tries the insert, then retries with the configured backoff until
// MaxElapsedTime has passed. A record that can never be stored is not retried.
func (e *auditExporter) insertWithRetry(ctx context.Context, tenant string, recs []record.Record) error {
	cfg := e.cfg.RetryOnFailure
	start := e.now()
	interval := cfg.InitialInterval
	for {
		err := e.insertBatch(ctx, tenant, recs)
		if err == nil {
			return nil
		}
		if !cfg.Enabled || errors.Is(err, store.ErrInvalidRecord) {
			return err
		}
		if cfg.MaxElapsedTime > 0 && e.now().Add(interval).Sub(start) > cfg.MaxElapsedTime {
			return err
		}
		e.metrics.ExporterAuditRecordsRetried.Add(ctx, int64(len(recs)))
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(interval):
		}
		interval = time.Duration(float64(interval) * cfg.Multiplier)
		if cfg.MaxInterval > 0 && interval > cfg.MaxInterval {
			interval = cfg.MaxInterval
		}
	}
}

// dlqInsertTimeout bounds one insert of the DLQ's retry engine, so a hung store cannot stall
// its scans (and Stop, which waits for the insert in flight).
const dlqInsertTimeout = 30 * time.Second

// insertSetAside is the DLQ retry engine's insert. When the store was already failing the
// write path's inserts, a failure here is the outage, not this batch's fault: it is marked
// dlq.ErrStoreUnavailable so that a long outage does not use up the batch's max_failures.
func (e *auditExporter) insertSetAside(ctx context.Context, tenant string, recs []record.Record) error {
	ctx, cancel := context.WithTimeout(ctx, dlqInsertTimeout)
	defer cancel()
	e.mu.Lock()
	wasFailing := e.failing
	e.mu.Unlock()
	err := e.insertBatch(ctx, tenant, recs)
	if err != nil && wasFailing && !errors.Is(err, store.ErrInvalidRecord) {
		return fmt.Errorf("%w: %w", dlq.ErrStoreUnavailable, err)
	}
	return err
}

// insertBatch is one store insert; the store runs what follows its commit (the chain's count,
// the live feed). The DLQ's retry engine calls it too.
func (e *auditExporter) insertBatch(ctx context.Context, tenant string, recs []record.Record) error {
	began := e.now()
	stored, err := e.store.Insert(ctx, tenant, recs)
	e.metrics.ExporterAuditInsertDuration.Record(ctx, float64(e.now().Sub(began))/float64(time.Millisecond))
	if err != nil {
		e.noteFailure(err)
		return err
	}
	e.noteSuccess()
	// Only what the store newly stored: a replay after a crash, or a client's resend, is
	// acknowledged again but persisted once.
	e.metrics.ExporterAuditRecordsPersisted.Add(ctx, int64(stored))
	return nil
}
