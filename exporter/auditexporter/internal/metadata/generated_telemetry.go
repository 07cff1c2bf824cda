// Hand-written in the shape mdatagen generates for the telemetry section of ../../metadata.yaml:
// mdatagen is not served by the module proxy on our build machines.

package metadata

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

// Meter returns the component's meter.
func Meter(settings component.TelemetrySettings) metric.Meter {
	return settings.MeterProvider.Meter(ScopeName)
}

// TelemetryBuilder holds the exporter's instruments.
type TelemetryBuilder struct {
	meter                           metric.Meter
	registrations                   []metric.Registration
	ExporterAuditRecordsReceived    metric.Int64Counter
	ExporterAuditRecordsPersisted   metric.Int64Counter
	ExporterAuditRecordsRetried     metric.Int64Counter
	ExporterAuditRecordsDlq         metric.Int64Counter
	ExporterAuditRecordsDropped     metric.Int64Counter
	ExporterAuditRecordsReplayed    metric.Int64Counter
	ExporterAuditInsertDuration     metric.Float64Histogram
	ExporterAuditQueueDepth         metric.Int64ObservableGauge
	ExporterAuditWalBytes           metric.Int64ObservableGauge
	ExporterAuditDlqFiles           metric.Int64ObservableGauge
	ExporterAuditDlqDeadFiles       metric.Int64ObservableGauge
	ExporterAuditDlqCorruptFiles    metric.Int64ObservableGauge
	ExporterAuditWalCorruptRanges   metric.Int64Counter
	observeQueueDepth, observeWal   func() int64
	observeDlqFiles, observeDlqDead func() int64
	observeDlqCorrupt               func() int64
}

// TelemetryBuilderOption configures the observable instruments' callbacks.
type TelemetryBuilderOption func(*TelemetryBuilder)

// WithObservers sets the callbacks of the gauges; a nil callback reports nothing.
func WithObservers(queueDepth, walBytes, dlqFiles, dlqDead, dlqCorrupt func() int64) TelemetryBuilderOption {
	return func(b *TelemetryBuilder) {
		b.observeQueueDepth, b.observeWal, b.observeDlqFiles, b.observeDlqDead = queueDepth, walBytes, dlqFiles, dlqDead
		b.observeDlqCorrupt = dlqCorrupt
	}
}

// NewTelemetryBuilder creates every instrument of the exporter.
func NewTelemetryBuilder(settings component.TelemetrySettings, opts ...TelemetryBuilderOption) (*TelemetryBuilder, error) {
	b := &TelemetryBuilder{meter: Meter(settings)}
	for _, o := range opts {
		o(b)
	}
	var errs, err error
	counter := func(name, desc string) metric.Int64Counter {
		var c metric.Int64Counter
		c, err = b.meter.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit("{records}"))
		errs = errors.Join(errs, err)
		return c
	}
	b.ExporterAuditRecordsReceived = counter("otelcol_exporter_audit_records_received", "Records the exporter accepted from the pipeline.")
	b.ExporterAuditRecordsPersisted = counter("otelcol_exporter_audit_records_persisted", "Records committed to the store.")
	b.ExporterAuditRecordsRetried = counter("otelcol_exporter_audit_records_retried", "Records of insert attempts that failed and were retried.")
	b.ExporterAuditRecordsDlq = counter("otelcol_exporter_audit_records_dlq", "Records set aside in the dead-letter queue.")
	b.ExporterAuditRecordsDropped = counter("otelcol_exporter_audit_records_dropped", "Records not stored: below min_level, or refused by on_queue_full: drop.")
	b.ExporterAuditRecordsReplayed = counter("otelcol_exporter_audit_records_replayed", "Records replayed from the write-ahead log at start.")
	b.ExporterAuditInsertDuration, err = b.meter.Float64Histogram("otelcol_exporter_audit_insert_duration",
		metric.WithDescription("Duration of one store insert of a batch."), metric.WithUnit("ms"),
		metric.WithExplicitBucketBoundaries(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000))
	errs = errors.Join(errs, err)

	gauge := func(name, desc, unit string, observe *func() int64) metric.Int64ObservableGauge {
		var g metric.Int64ObservableGauge
		g, err = b.meter.Int64ObservableGauge(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = errors.Join(errs, err)
		if err == nil {
			reg, rerr := b.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
				if f := *observe; f != nil {
					o.ObserveInt64(g, f())
				}
				return nil
			}, g)
			errs = errors.Join(errs, rerr)
			if rerr == nil {
				b.registrations = append(b.registrations, reg)
			}
		}
		return g
	}
	b.ExporterAuditQueueDepth = gauge("otelcol_exporter_audit_queue_depth", "Records waiting in memory for a flush.", "{records}", &b.observeQueueDepth)
	b.ExporterAuditWalBytes = gauge("otelcol_exporter_audit_wal_bytes", "Bytes of write-ahead log on disk.", "By", &b.observeWal)
	b.ExporterAuditDlqFiles = gauge("otelcol_exporter_audit_dlq_files", "Batches waiting in the dead-letter queue.", "{files}", &b.observeDlqFiles)
	b.ExporterAuditDlqDeadFiles = gauge("otelcol_exporter_audit_dlq_dead_files", "Batches given up after repeated failures (.dead).", "{files}", &b.observeDlqDead)
	b.ExporterAuditDlqCorruptFiles = gauge("otelcol_exporter_audit_dlq_corrupt_files", "Damaged batch files set aside (.corrupt) after their intact records were salvaged.", "{files}", &b.observeDlqCorrupt)
	b.ExporterAuditWalCorruptRanges, err = b.meter.Int64Counter("otelcol_exporter_audit_wal_corrupt_ranges",
		metric.WithDescription("Corrupt ranges of the write-ahead log skipped at replay (their entries could not be read)."), metric.WithUnit("{ranges}"))
	errs = errors.Join(errs, err)
	return b, errs
}

// Shutdown unregisters the gauges' callbacks.
func (b *TelemetryBuilder) Shutdown() {
	for _, r := range b.registrations {
		_ = r.Unregister()
	}
	b.registrations = nil
}
