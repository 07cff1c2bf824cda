// Hand-written in the shape mdatagen emits for the telemetry section of ../../../metadata.yaml,
// because mdatagen is not available from the module proxy here.

// Package metadatatest holds assertions on the processor's telemetry.
package metadatatest

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
)

// AssertEqualProcessorRedactRedactions checks the otelcol_processor_redact_redactions counter
// against dps (order-insensitive).
func AssertEqualProcessorRedactRedactions(t *testing.T, tt *componenttest.Telemetry, dps []metricdata.DataPoint[int64], opts ...metricdatatest.Option) {
	t.Helper()
	want := metricdata.Metrics{
		Name:        "otelcol_processor_redact_redactions",
		Description: "Number of secrets replaced, by the rule whose action was applied. [development]",
		Unit:        "{redactions}",
		Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality,
			IsMonotonic: true,
			DataPoints:  dps,
		},
	}
	got, err := tt.GetMetric("otelcol_processor_redact_redactions")
	require.NoError(t, err)
	metricdatatest.AssertEqual(t, want, got, opts...)
}
