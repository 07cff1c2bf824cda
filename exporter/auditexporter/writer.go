package auditexporter

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/otel/attribute"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/dlq"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/retry"
)

var (
	reasonMinLevel  = attribute.String("reason", "min_level")
	reasonQueueFull = attribute.String("reason", "queue_full")
	reasonInvalid   = attribute.String("reason", "invalid")
	reasonWALFull   = attribute.String("reason", "wal_full")
	reasonWALError  = attribute.String("reason", "wal_error")
	reasonDLQError  = attribute.String("reason", "dlq_error")
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

	stored, err := e.insertWithRetry(e.runCtx, tenant, recs)
	if err == nil {
		e.afterCommit(stored, items)
		return
	}
	if !e.setAside(tenant, recs, err) {
		return // stopped before the records were safe anywhere but the WAL: replayed at start
	}
	for _, it := range items {
		it.entry.partDone()
	}
}

// afterCommit is what follows a commit to the store, in one place: the records newly stored
// are counted (a replay after a crash, or a client's resend, is acknowledged again but
// persisted once), the write path is healthy again, and each part's entry moves toward done
// in the WAL (parts is nil for a batch the DLQ delivered: the WAL forgot it when it was set
// aside). The store has run its own part already: the chain's count and the live feed.
func (e *auditExporter) afterCommit(stored int, parts []*item) {
	e.metrics.ExporterAuditRecordsPersisted.Add(context.Background(), int64(stored))
	e.noteSuccess()
	for _, it := range parts {
		it.entry.partDone()
	}
}

// setAside writes a batch that could not be inserted to the DLQ. It keeps trying, with the
// retry_on_failure backoff but no time bound, while the DLQ refuses (disk full, cap reached):
// the queue then fills and senders are pushed back, which is the only loss-free answer. It
// gives up only when the exporter is stopping.
func (e *auditExporter) setAside(tenant string, recs []record.Record, cause error) bool {
	err := retry.Forever(e.runCtx, e.cfg.RetryOnFailure, func() error { return e.dlq.Put(tenant, recs, cause) }, func(err error) {
		e.logger.Error("dead-letter queue refused a batch; holding it", zap.String("tenant", tenant),
			zap.Int("records", len(recs)), zap.Error(err))
	})
	if err != nil {
		return false
	}
	e.metrics.ExporterAuditRecordsDlq.Add(context.Background(), int64(len(recs)))
	return true
}

// insertWithRetry tries the insert, each attempt bounded by timeout, then retries with the
// retry_on_failure backoff until max_elapsed_time. A record that can never be stored (a
// permanent error) is not retried.
func (e *auditExporter) insertWithRetry(ctx context.Context, tenant string, recs []record.Record) (stored int, err error) {
	err = retry.Do(ctx, e.cfg.RetryOnFailure, func(ctx context.Context) error {
		stored, err = e.insertBatch(ctx, tenant, recs)
		return err
	}, func(error) {
		e.metrics.ExporterAuditRecordsRetried.Add(ctx, int64(len(recs)))
	})
	return stored, err
}

// insertSetAside is the DLQ retry engine's insert. When the store was already failing the
// write path's inserts, a failure here is the outage, not this batch's fault: it is marked
// dlq.ErrStoreUnavailable so that a long outage does not use up the batch's max_failures.
func (e *auditExporter) insertSetAside(ctx context.Context, tenant string, recs []record.Record) error {
	e.mu.Lock()
	wasFailing := e.failing
	e.mu.Unlock()
	stored, err := e.insertBatch(ctx, tenant, recs)
	switch {
	case err == nil:
		e.afterCommit(stored, nil)
	case wasFailing && !consumererror.IsPermanent(err):
		return fmt.Errorf("%w: %w", dlq.ErrStoreUnavailable, err)
	}
	return err
}

// insertBatch is one store insert attempt, bounded by timeout so that a hung store cannot
// stall a flush worker or the DLQ's scans (and Stop, which waits for the insert in flight).
func (e *auditExporter) insertBatch(ctx context.Context, tenant string, recs []record.Record) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	began := e.now()
	stored, err := e.store.Insert(ctx, tenant, recs)
	e.metrics.ExporterAuditInsertDuration.Record(ctx, float64(e.now().Sub(began))/float64(time.Millisecond))
	if err != nil {
		e.noteFailure(err)
	}
	return stored, err
}
