package auditexporter

// Intake: what happens to a request between the pipeline and its acknowledgement.

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
	entry := newAckedEntry(e.wal, pos, len(byTenant), e.logger)
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
