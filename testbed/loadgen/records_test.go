package loadgen

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

func eachRecord(ld plog.Logs, f func(lr plog.LogRecord)) {
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				f(lr)
			}
		}
	}
}

// hasSecret reports whether one of the secrets putSecret plants is in the record.
func hasSecret(lr plog.LogRecord) bool {
	found := false
	lr.Attributes().Range(func(k string, v pcommon.Value) bool {
		s := v.AsString()
		if k == "db.password" || strings.Contains(s, "password=") || strings.Contains(s, "Bearer ey") ||
			strings.Contains(s, "4111 1111 1111 1111") || strings.Contains(s, ":s3cr3t") {
			found = true
		}
		return !found
	})
	return found
}

func TestBuilder_RecordsLookLikeAuditRecords(t *testing.T) {
	ld, st := NewBuilder(1).Build(2000)
	require.Equal(t, 2000, ld.LogRecordCount(), "built records")
	require.Equal(t, 2000, st.Records, "records the stats count")
	svc, ok := ld.ResourceLogs().At(0).Resource().Attributes().Get("service.name")
	require.True(t, ok, "the resource has no service.name")
	require.NotEmpty(t, svc.Str(), "the resource has no service.name")
	secrets, attrs := 0, 0
	tenants := map[string]int{}
	eachRecord(ld, func(lr plog.LogRecord) {
		n := lr.Attributes().Len()
		require.GreaterOrEqual(t, n, MinAttributes, "a record has %d attributes, want %d..%d", n, MinAttributes, MaxAttributes)
		require.LessOrEqual(t, n, MaxAttributes, "a record has %d attributes, want %d..%d", n, MinAttributes, MaxAttributes)
		attrs += n
		for _, key := range []string{"tenant.id", "user.id", "client.address", "url.path", "http.response.status_code"} {
			_, ok := lr.Attributes().Get(key)
			require.True(t, ok, "a record lacks %s", key)
		}
		tenant, _ := lr.Attributes().Get("tenant.id")
		tenants[tenant.Str()]++
		require.NotEmpty(t, lr.EventName(), "a record lacks an event name")
		require.NotEmpty(t, lr.Body().Str(), "a record lacks a body")
		require.NotZero(t, lr.Timestamp(), "a record lacks a timestamp")
		if hasSecret(lr) {
			secrets++
		}
	})
	assert.Equal(t, attrs, st.Attributes, "attributes the stats count vs the records hold")
	assert.Equal(t, secrets, st.WithSecret, "records with a secret the stats count vs the records hold")
	// 5% of 2000 is 100; the binomial standard deviation is under 10.
	assert.InDelta(t, 100, secrets, 40, "%d of 2000 records carry a secret, want about 100 (5%%)", secrets)
	assert.GreaterOrEqual(t, len(tenants), 3, "records span %d tenants, want at least 3: %v", len(tenants), tenants)
	mean := attrs / 2000
	assert.GreaterOrEqual(t, mean, 25, "mean attribute count %d, want about 31 (uniform over %d..%d)", mean, MinAttributes, MaxAttributes)
	assert.LessOrEqual(t, mean, 36, "mean attribute count %d, want about 31 (uniform over %d..%d)", mean, MinAttributes, MaxAttributes)
	assert.InDelta(t, 1400, st.WithTraceID, 200, "%d of 2000 records carry a trace id, want about 70%%", st.WithTraceID)
}

func TestBuilder_TraceIDsAreValidAndDistinct(t *testing.T) {
	ld, _ := NewBuilder(2).Build(500)
	seen := map[pcommon.TraceID]bool{}
	eachRecord(ld, func(lr plog.LogRecord) {
		if lr.TraceID().IsEmpty() {
			require.True(t, lr.SpanID().IsEmpty(), "a record has a span id without a trace id")
			return
		}
		require.False(t, lr.SpanID().IsEmpty(), "a record has a trace id without a span id")
		require.False(t, seen[lr.TraceID()], "trace id %s repeats", lr.TraceID())
		seen[lr.TraceID()] = true
	})
	require.NotEmpty(t, seen, "no record carries a trace id")
}

func TestBuilder_SameSeedBuildsTheSameRecords(t *testing.T) {
	a, _ := NewBuilder(7).Build(50)
	b, _ := NewBuilder(7).Build(50)
	c, _ := NewBuilder(8).Build(50)
	key := func(ld plog.Logs) string {
		var sb strings.Builder
		eachRecord(ld, func(lr plog.LogRecord) {
			sb.WriteString(lr.EventName())
			sb.WriteString(lr.TraceID().String())
			lr.Attributes().Range(func(k string, v pcommon.Value) bool {
				sb.WriteString(k + "=" + v.AsString() + ";")
				return true
			})
		})
		return sb.String()
	}
	assert.Equal(t, key(a), key(b), "two builders with seed 7 built different records")
	assert.NotEqual(t, key(a), key(c), "seeds 7 and 8 built the same records")
}

func TestBuilder_SecretRatioAndTenantsCanBeChanged(t *testing.T) {
	_, none := NewBuilder(3).WithSecretRatio(0).Build(1000)
	_, all := NewBuilder(3).WithSecretRatio(1).WithTenants([]string{"only"}).Build(1000)
	assert.Zero(t, none.WithSecret, "ratio 0 planted secrets")
	assert.Equal(t, 1000, all.WithSecret, "ratio 1 planted secrets in 1000 records")
	assert.Equal(t, map[string]int{"only": 1000}, all.Tenants, "tenants, want all 1000 records in \"only\"")
}
