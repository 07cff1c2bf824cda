package redactprocessor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/metadatatest"
)

func TestTelemetry_RedactionsAreCountedByRule(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { assert.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	p, err := NewFactory().CreateLogs(context.Background(), set, defaultConfig(nil), consumertest.NewNop())
	require.NoError(t, err)

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("env.DB_PASSWORD", "x") // shared attributes count too
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	first := lrs.AppendEmpty()
	first.Attributes().PutStr("db.password", "hunter2")
	first.Body().SetStr("card 4111 1111 1111 1111 and 5555555555554444")
	second := lrs.AppendEmpty()
	second.Attributes().PutStr("auth", "Authorization: Bearer "+jwt) // key_value and jwt overlap: one redaction, under jwt
	lrs.AppendEmpty().Body().SetStr("nothing to see")

	for range 2 { // the counter is cumulative across batches
		batch := plog.NewLogs()
		ld.CopyTo(batch)
		require.NoError(t, p.ConsumeLogs(context.Background(), batch))
	}

	metadatatest.AssertEqualProcessorRedactRedactions(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("rule", "field:password")), Value: 4},
		{Attributes: attribute.NewSet(attribute.String("rule", "card_number")), Value: 4},
		{Attributes: attribute.NewSet(attribute.String("rule", "jwt")), Value: 2},
	}, metricdatatest.IgnoreTimestamp())
}

func TestTelemetry_NothingRedactedRecordsNothing(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	p, err := NewFactory().CreateLogs(context.Background(), set, defaultConfig(nil), consumertest.NewNop())
	require.NoError(t, err)
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("user logged in")
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	_, err = tel.GetMetric("otelcol_processor_redact_redactions")
	assert.Error(t, err, "the counter has data points although nothing was redacted")
}
