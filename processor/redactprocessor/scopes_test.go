package redactprocessor

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/metadata"
)

// scopedLogs has one secret in each log scope.
func scopedLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("db.password", "r")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().Attributes().PutStr("db.password", "s")
	lr := sl.LogRecords().AppendEmpty()
	lr.Attributes().PutStr("db.password", "a")
	lr.Body().SetStr("password=b")
	return ld
}

func TestScopes_OnlySelectedLogScopesAreProcessed(t *testing.T) {
	tests := []struct {
		name   string
		scopes []string
		// want are the resource attr, scope attr, record attr and body after processing.
		want [4]string
	}{
		{"every scope by default", allScopes, [4]string{mask, mask, mask, "password=" + mask}},
		{"only the body", []string{ScopeLogBody}, [4]string{"r", "s", "a", "password=" + mask}},
		{"only record attributes", []string{ScopeLogAttributes}, [4]string{"r", "s", mask, "password=b"}},
		{"only resource and scope attributes", []string{ScopeResourceAttributes, ScopeScopeAttributes},
			[4]string{mask, mask, "a", "password=b"}},
		{"only trace scopes leave logs alone", []string{ScopeSpanAttributes}, [4]string{"r", "s", "a", "password=b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, sink := newLogsProcessor(t, defaultConfig(func(c *Config) { c.Scopes = tt.scopes }))
			require.NoError(t, p.ConsumeLogs(context.Background(), scopedLogs()))
			rl := sink.AllLogs()[0].ResourceLogs().At(0)
			sl := rl.ScopeLogs().At(0)
			lr := sl.LogRecords().At(0)
			wantStr(t, rl.Resource().Attributes(), tt.want[0], "db.password")
			wantStr(t, sl.Scope().Attributes(), tt.want[1], "db.password")
			wantStr(t, lr.Attributes(), tt.want[2], "db.password")
			got := lr.Body().Str()
			assert.Equal(t, tt.want[3], got, "body = %q, want %q", got, tt.want[3])
		})
	}
}

func TestScopes_SpanEventsLinksAndMetricsCanBeLeftOut(t *testing.T) {
	cfg := defaultConfig(func(c *Config) { c.Scopes = []string{ScopeSpanAttributes} })
	tsink := new(consumertest.TracesSink)
	tp, err := NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, tsink)
	require.NoError(t, err)
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.Attributes().PutStr("token", "t")
	span.Events().AppendEmpty().Attributes().PutStr("token", "e")
	span.Links().AppendEmpty().Attributes().PutStr("token", "l")
	require.NoError(t, tp.ConsumeTraces(context.Background(), td))
	out := tsink.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	wantStr(t, out.Attributes(), mask, "token")
	wantStr(t, out.Events().At(0).Attributes(), "e", "token")
	wantStr(t, out.Links().At(0).Attributes(), "l", "token")

	msink := new(consumertest.MetricsSink)
	mp, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, msink)
	require.NoError(t, err)
	md := pmetric.NewMetrics()
	g := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge()
	g.DataPoints().AppendEmpty().Attributes().PutStr("token", "m")
	require.NoError(t, mp.ConsumeMetrics(context.Background(), md))
	dp := msink.AllMetrics()[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints().At(0)
	wantStr(t, dp.Attributes(), "m", "token")
}

func TestLogs_IgnoreKeysAreNotScanned(t *testing.T) {
	p, sink := newLogsProcessor(t, defaultConfig(func(c *Config) {
		c.IgnoreKeys = []string{"payment.ref", "db.password"}
	}))
	ld := plog.NewLogs()
	attrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Attributes()
	attrs.PutStr("payment.ref", "4111111111111111")
	attrs.PutEmptyMap("Payment.Ref").PutStr("note", "password=x") // case-insensitive, nested kept
	attrs.PutStr("db.password", "hunter2")                        // a field rule still applies
	attrs.PutStr("other", "4111111111111111")
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	out := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	wantStr(t, out, "4111111111111111", "payment.ref")
	wantStr(t, out, "password=x", "Payment.Ref", "note")
	wantStr(t, out, mask, "db.password")
	wantStr(t, out, mask, "other")
}

func TestLogs_ActionsApplyToAttributes(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	p, sink := newLogsProcessor(t, defaultConfig(func(c *Config) {
		c.Actions = map[string]string{"field": "hash", "card_number": "partial", "high_entropy": "hash"}
		c.HashKey = key
	}))
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for range 2 {
		attrs := lrs.AppendEmpty().Attributes()
		attrs.PutStr("user.password", "hunter2")
		attrs.PutEmptyMap("credentials").PutStr("user", "bob")
		attrs.PutInt("order.pan", 4111111111111111)
		attrs.PutStr("stripe.key", "Zx9Qv2Lm8Rt4Wp6Yk3Hs")
	}
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	out := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	a, b := out.At(0).Attributes(), out.At(1).Attributes()
	for _, k := range []string{"user.password", "credentials", "stripe.key"} {
		va, _ := a.Get(k)
		vb, _ := b.Get(k)
		const msg = "%s = %q and %q, want one HMAC marker for equal values"
		assert.True(t, strings.HasPrefix(va.Str(), "[HMAC:"), msg, k, va.Str(), vb.Str())
		assert.Equal(t, va.Str(), vb.Str(), msg, k, va.Str(), vb.Str())
	}
	pw, _ := a.Get("user.password")
	cred, _ := a.Get("credentials")
	assert.NotEqual(t, pw.Str(), cred.Str(), "different secrets got the same marker")
	wantStr(t, a, "[REDACTED-1111]", "order.pan")
}

func TestLogs_JSONBodyIsRedactedAndStaysJSON(t *testing.T) {
	p, sink := newLogsProcessor(t, defaultConfig(func(c *Config) { c.Summary = true }))
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr(`{"user":"bob","credentials":{"password":"x"},"pan":4111111111111111,"msg":"Bearer ` + jwt + `"}`)
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	out := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(out.Body().Str()), &doc), "body %q is no longer JSON", out.Body().Str())
	want := map[string]any{"user": "bob", "credentials": mask, "pan": mask, "msg": "Bearer " + mask}
	for k, v := range want {
		assert.Equal(t, v, doc[k], "body[%s] = %v, want %v", k, doc[k], v)
	}
	count, _ := summaryOf(t, out.Attributes())
	assert.Equal(t, int64(3), count, "summary count = %d, want 3", count)
}
