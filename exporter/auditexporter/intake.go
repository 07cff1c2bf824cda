package auditexporter

// Intake: what happens to a request between the pipeline and its acknowledgement.

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/wal"
)

var (
	errNotStarted   = errors.New("auditexporter: not started")
	errShuttingDown = errors.New("auditexporter: shutting down, not accepting records")
	errQueueFull    = errors.New("auditexporter: queue full")
	// errWALFull is durable mode's push back: the backlog on disk has reached wal.max_bytes
	// because the store takes records slower than they arrive. Retryable.
	errWALFull = errors.New("auditexporter: the write-ahead log is full (records arrive faster than the store takes them); retry later")
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
	req := walRequest{logs: ld, tenant: authenticatedTenant(ctx), arrived: e.now()}
	// Only tenants and levels are needed to accept or refuse: a request that will wait in the
	// WAL is mapped when it is read back, not twice.
	triage := e.cfg.Mapping.Triage(ld, req.tenant)
	kept := 0
	for i, r := range triage {
		if err := record.ValidTenantID(r.TenantID); err != nil {
			e.metrics.ExporterAuditRecordsDropped.Add(ctx, int64(len(triage)), metric.WithAttributes(reasonInvalid))
			return invalidRequest(fmt.Errorf("record %d: tenant id %w", i, err))
		}
		if keptAt(r.Level, e.cfg.MinLevel) {
			kept++
		}
	}
	e.metrics.ExporterAuditRecordsReceived.Add(ctx, int64(len(triage)))
	e.metrics.ExporterAuditRecordsDropped.Add(ctx, int64(len(triage)-kept), metric.WithAttributes(reasonMinLevel))
	if kept == 0 {
		return nil
	}
	if e.wal == nil {
		recs := e.mapRequest(req)
		size := record.ApproxBytes(recs)
		if !e.queue.fits(size) {
			return e.onQueueFull(ctx, recs)
		}
		e.enqueue(wal.Position{}, recs, size)
		return nil
	}
	return e.appendDurably(ctx, req, kept)
}

// mapRequest is the request's records as they are stored: mapped, at or above min_level.
func (e *auditExporter) mapRequest(req walRequest) []record.Record {
	return keepAtOrAbove(e.cfg.Mapping.FromLogs(req.logs, req.tenant, req.arrived), e.cfg.MinLevel)
}

// appendDurably writes the request (kept records at or above min_level) to the WAL and
// acknowledges it. Its records go on to the memory queue when nothing older waits on disk and
// the queue has room; otherwise they wait in the WAL (the backlog) and are read back in turn.
func (e *auditExporter) appendDurably(ctx context.Context, req walRequest, kept int) error {
	if held := e.wal.Size(); held >= e.cfg.WAL.MaxBytes {
		e.metrics.ExporterAuditRecordsRefused.Add(ctx, int64(kept), metric.WithAttributes(reasonWALFull))
		return throttled{fmt.Errorf("%w (%d of wal.max_bytes %d bytes in use)", errWALFull, held, e.cfg.WAL.MaxBytes)}
	}
	header, body, err := encodeEntryParts(req)
	if err != nil {
		return fmt.Errorf("auditexporter: %w", err)
	}
	// The acknowledgement: once Append returns, the records survive a crash.
	pos, err := e.wal.AppendParts(ctx, header, body)
	if err != nil {
		e.noteOwnFailure(err)
		e.metrics.ExporterAuditRecordsRefused.Add(ctx, int64(kept), metric.WithAttributes(reasonWALError))
		e.logger.Warn("Records refused: the write-ahead log cannot take them", zap.Int("records", kept), zap.Error(err))
		return refusal(err, errWALUnavailable, errWALDiskFull)
	}
	if e.backlog.len() == 0 {
		recs := e.mapRequest(req)
		if size := record.ApproxBytes(recs); e.queue.fits(size) {
			e.enqueue(pos, recs, size)
			return nil
		}
	}
	e.backlog.push(backlogEntry{pos: pos})
	return nil
}

// enqueue splits an acknowledged entry into per-tenant items; the entry is done when all are.
// size is record.ApproxBytes(recs), shared among the items by their records.
func (e *auditExporter) enqueue(pos wal.Position, recs []record.Record, size int) {
	byTenant := splitByTenant(recs)
	entry := newAckedEntry(e.wal, pos, len(byTenant), e.logger)
	if len(byTenant) == 0 {
		entry.markDone() // nothing of it is kept (a replay under a higher min_level)
		return
	}
	items := make([]*item, 0, len(byTenant))
	for tenant, trecs := range byTenant {
		items = append(items, &item{entry: entry, tenant: tenant, records: trecs, bytes: size * len(trecs) / len(recs)})
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
				e.metrics.ExporterAuditRecordsRefused.Add(ctx, int64(len(recs)), metric.WithAttributes(reasonDLQError))
				e.logger.Warn("Records refused: the queue is full and the dead-letter queue cannot take them", zap.Int("records", len(trecs)), zap.Error(err))
				return refusal(err, errDLQUnavailable, errDLQDiskFull)
			}
			e.metrics.ExporterAuditRecordsDlq.Add(ctx, int64(len(trecs)))
		}
		e.dlq.Kick()
		return nil
	default: // block
		e.metrics.ExporterAuditRecordsRefused.Add(ctx, int64(len(recs)), metric.WithAttributes(reasonQueueFull))
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

// walFullRetryDelay is the wait a sender is asked for when the WAL is full. The WAL frees
// room a segment at a time as the store catches up; a second is the shortest delay
// Retry-After can say, so senders come back soon after room frees, while a refused request
// (which still costs the collector its decoding and redaction) comes from each sender at most
// once a second instead of at once, again and again.
const walFullRetryDelay = time.Second

// throttled is the push back of a full WAL, as OTLP says to throttle: a RESOURCE_EXHAUSTED
// status with RetryInfo, which the OTLP receiver answers with HTTP 429 and a Retry-After
// header, or the gRPC status itself, and which OpenTelemetry SDKs retry after the delay (on
// gRPC, RESOURCE_EXHAUSTED is retryable only with RetryInfo). The audit receiver answers 429
// too. errors.Is still finds errWALFull.
type throttled struct{ err error }

func (t throttled) Error() string { return t.err.Error() }

func (t throttled) Unwrap() error { return t.err }

func (t throttled) GRPCStatus() *status.Status {
	st := status.New(codes.ResourceExhausted, t.err.Error())
	if withDelay, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(walFullRetryDelay)}); err == nil {
		return withDelay
	}
	return st
}

// invalidRequest refuses a request for what it holds: a permanent error (the sender must not
// retry it) carrying InvalidArgument, which the OTLP receiver answers with HTTP 400 or the
// gRPC code, and the audit receiver with 400, both with the message. No record of the
// request is acknowledged, so none is lost silently.
func invalidRequest(err error) error {
	return consumererror.NewPermanent(status.Error(codes.InvalidArgument, "audit: "+err.Error()))
}

// keepAtOrAbove keeps the records at or above minLevel; security records are always kept. It
// filters recs in place (every caller passes a slice of its own, fresh from the mapping), so
// the common case, every record kept, costs no allocation.
func keepAtOrAbove(recs []record.Record, minLevel record.Level) []record.Record {
	kept := recs[:0]
	for _, r := range recs {
		if keptAt(r.Level, minLevel) {
			kept = append(kept, r)
		}
	}
	clear(recs[len(kept):]) // the dropped records' fields are not kept alive by the tail
	return kept
}

// keptAt reports whether a record of level l is stored under minLevel.
func keptAt(l, minLevel record.Level) bool {
	return l >= minLevel || l == record.LevelSecurity
}

// splitByTenant groups records by tenant, because a store transaction holds one tenant. The
// groups share one array sized by a first counting pass (a request mixes tenants, and growing a
// slice per tenant produced a good share of intake's garbage); a request of one tenant is
// returned as it is.
func splitByTenant(recs []record.Record) map[string][]record.Record {
	if len(recs) == 0 {
		return map[string][]record.Record{}
	}
	counts := make(map[string]int, 4)
	for i := range recs {
		counts[recs[i].TenantID]++
	}
	if len(counts) == 1 {
		return map[string][]record.Record{recs[0].TenantID: recs}
	}
	out := make(map[string][]record.Record, len(counts))
	all := make([]record.Record, 0, len(recs))
	for tenant, n := range counts {
		// Capped, so that appending to one group cannot run into the next.
		out[tenant] = all[len(all) : len(all) : len(all)+n]
		all = all[:len(all)+n]
	}
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
