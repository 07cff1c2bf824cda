package auditexporter

// The exporter's part of the store's health, and the component status it reports.

import (
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/dlq"
	"github.com/otelcol-audit/otelcol-audit/internal/health"
)

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
	depth, backlog := 0, 0
	if q := e.queue; q != nil {
		depth = q.depth()
	}
	if b := e.backlog; b != nil {
		backlog = b.len()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := health.Snapshot{
		Status: health.StatusOK, FailureCount: e.failureCount, LastError: e.lastError,
		QueueDepth: depth, WALBacklogEntries: backlog, WALBytes: e.walBytes(), DLQFiles: d.Files, DeadFiles: d.DeadFiles,
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
