package auditexporter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// nested returns a value nested depth levels deep: {"x": {"x": ... "leaf"}}.
func nested(v pcommon.Value, depth int) {
	for range depth {
		v = v.SetEmptyMap().PutEmpty("x")
	}
	v.SetStr("leaf")
}

func oneRecord(fill func(lr plog.LogRecord)) plog.Logs {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(1_700_000_000_000_000_000)
	lr.SetEventName("limits.test")
	fill(lr)
	return ld
}

func TestLimits_RecordsBeyondALimitAreRefusedWholeWithTheLimitNamed(t *testing.T) {
	cases := []struct {
		name, wantLimit string
		fill            func(lr plog.LogRecord)
	}{
		{"a body nested a million levels (8 MB of protobuf) does not crash the collector", "max_depth", func(lr plog.LogRecord) { nested(lr.Body(), 1_000_000) }},
		{"an attribute nested ten thousand levels would poison every read of its tenant", "max_depth", func(lr plog.LogRecord) { nested(lr.Attributes().PutEmpty("deep"), 10_000) }},
		{"too many values", "max_values", func(lr plog.LogRecord) {
			s := lr.Attributes().PutEmptySlice("many")
			for range 20_000 {
				s.AppendEmpty().SetInt(1)
			}
		}},
		{"a huge key", "max_key_bytes", func(lr plog.LogRecord) { lr.Attributes().PutStr(strings.Repeat("k", 5000), "v") }},
		{"a huge value", "max_value_bytes", func(lr plog.LogRecord) { lr.Body().SetStr(strings.Repeat("v", 2<<20)) }},
		{"a tenant id with a NUL", "tenant id", func(lr plog.LogRecord) { lr.Attributes().PutStr("tenant.id", "acme\x00evil") }},
		{"a tenant id of 100 KB", "tenant id", func(lr plog.LogRecord) { lr.Attributes().PutStr("tenant.id", strings.Repeat("t", 100_000)) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTestExporter(t, testConfig(t), nil)
			good := oneRecord(func(plog.LogRecord) {})
			bad := oneRecord(c.fill)
			good.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).CopyTo(
				bad.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().AppendEmpty())
			err := e.consumeLogs(context.Background(), bad)
			require.Error(t, err, "the request was acknowledged")
			assert.True(t, consumererror.IsPermanent(err), "error %v is retryable: the sender would resend it forever", err)
			st, ok := status.FromError(err)
			assert.True(t, ok, "error %v carries no gRPC status (OTLP/HTTP 400)", err)
			assert.Equal(t, codes.InvalidArgument, st.Code(), "error %v carries no InvalidArgument status (OTLP/HTTP 400)", err)
			// Not assert.Contains: a message that fails the length check is too long to print whole.
			msg := err.Error()
			assert.True(t, strings.Contains(msg, c.wantLimit) && strings.Contains(msg, "record 0") && len(msg) <= 500,
				"error %.300q does not name record 0 and %s briefly", msg, c.wantLimit)
			// Nothing of the request was acknowledged, and good records of later requests are stored.
			require.NoError(t, e.consumeLogs(context.Background(), good))
			require.NoError(t, e.shutdown(context.Background()))
		})
	}
}

func TestLimits_ARecordAtTheLimitsIsStoredAndReadsBack(t *testing.T) {
	cfg := testConfig(t)
	e := newTestExporter(t, cfg, nil)
	ld := oneRecord(func(lr plog.LogRecord) {
		nested(lr.Attributes().PutEmpty("deep"), cfg.Limits.MaxDepth)
		lr.Attributes().PutStr("tenant.id", "acme")
	})
	require.NoError(t, e.consumeLogs(context.Background(), ld), "a record at max_depth was refused")
	require.Eventually(t, func() bool {
		res, err := e.store.Store().Query(context.Background(), store.Filter{TenantID: "acme"}, store.Page{})
		return err == nil && len(res.Records) == 1
	}, 20*time.Second, 10*time.Millisecond, "the record stored")
}
