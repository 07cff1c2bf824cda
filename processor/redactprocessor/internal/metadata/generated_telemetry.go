// Hand-written in the shape mdatagen emits for the telemetry section of ../../metadata.yaml,
// because mdatagen is not available from the module proxy here. Keep it in step with
// metadata.yaml.

package metadata

import (
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Meter returns the component's meter.
func Meter(settings component.TelemetrySettings) metric.Meter {
	return settings.MeterProvider.Meter(ScopeName)
}

// Tracer returns the component's tracer.
func Tracer(settings component.TelemetrySettings) trace.Tracer {
	return settings.TracerProvider.Tracer(ScopeName)
}

// TelemetryBuilder provides an interface for components to report telemetry as defined in
// metadata.yaml.
type TelemetryBuilder struct {
	meter metric.Meter
	// ProcessorRedactRedactions counts replaced values and replaced parts of strings, with the
	// attribute rule naming the rule whose action was applied.
	ProcessorRedactRedactions metric.Int64Counter
}

// TelemetryBuilderOption applies changes to default builder. mdatagen emits options only for
// asynchronous instruments' callbacks, and this processor has none.
type TelemetryBuilderOption interface {
	apply(*TelemetryBuilder)
}

// Shutdown unregisters all registered callbacks for async instruments; this builder has none.
func (builder *TelemetryBuilder) Shutdown() {}

// NewTelemetryBuilder provides a struct with methods to update all internal telemetry
// for a component.
func NewTelemetryBuilder(settings component.TelemetrySettings, options ...TelemetryBuilderOption) (*TelemetryBuilder, error) {
	builder := TelemetryBuilder{}
	for _, op := range options {
		op.apply(&builder)
	}
	builder.meter = Meter(settings)
	var err, errs error
	builder.ProcessorRedactRedactions, err = builder.meter.Int64Counter(
		"otelcol_processor_redact_redactions",
		metric.WithDescription("Number of secrets replaced, by the rule whose action was applied. [development]"),
		metric.WithUnit("{redactions}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
