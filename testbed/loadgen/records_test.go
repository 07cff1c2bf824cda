package loadgen

import (
	"strings"
	"testing"

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
	if got := ld.LogRecordCount(); got != 2000 || st.Records != 2000 {
		t.Fatalf("built %d records (stats say %d), want 2000", got, st.Records)
	}
	if svc, ok := ld.ResourceLogs().At(0).Resource().Attributes().Get("service.name"); !ok || svc.Str() == "" {
		t.Fatal("the resource has no service.name")
	}
	secrets, attrs := 0, 0
	tenants := map[string]int{}
	eachRecord(ld, func(lr plog.LogRecord) {
		n := lr.Attributes().Len()
		if n < MinAttributes || n > MaxAttributes {
			t.Fatalf("a record has %d attributes, want %d..%d", n, MinAttributes, MaxAttributes)
		}
		attrs += n
		for _, key := range []string{"tenant.id", "user.id", "client.address", "url.path", "http.response.status_code"} {
			if _, ok := lr.Attributes().Get(key); !ok {
				t.Fatalf("a record lacks %s", key)
			}
		}
		tenant, _ := lr.Attributes().Get("tenant.id")
		tenants[tenant.Str()]++
		if lr.EventName() == "" || lr.Body().Str() == "" || lr.Timestamp() == 0 {
			t.Fatalf("a record lacks an event name, a body or a timestamp: %q %q %d", lr.EventName(), lr.Body().Str(), lr.Timestamp())
		}
		if hasSecret(lr) {
			secrets++
		}
	})
	if attrs != st.Attributes {
		t.Errorf("stats count %d attributes, the records hold %d", st.Attributes, attrs)
	}
	if secrets != st.WithSecret {
		t.Errorf("stats count %d records with a secret, the records hold %d", st.WithSecret, secrets)
	}
	// 5% of 2000 is 100; the binomial standard deviation is under 10.
	if secrets < 60 || secrets > 140 {
		t.Errorf("%d of 2000 records carry a secret, want about 100 (5%%)", secrets)
	}
	if len(tenants) < 3 {
		t.Errorf("records span %d tenants, want at least 3: %v", len(tenants), tenants)
	}
	if mean := attrs / 2000; mean < 25 || mean > 36 {
		t.Errorf("mean attribute count %d, want about 31 (uniform over %d..%d)", mean, MinAttributes, MaxAttributes)
	}
	if st.WithTraceID < 1200 || st.WithTraceID > 1600 {
		t.Errorf("%d of 2000 records carry a trace id, want about 70%%", st.WithTraceID)
	}
}

func TestBuilder_TraceIDsAreValidAndDistinct(t *testing.T) {
	ld, _ := NewBuilder(2).Build(500)
	seen := map[pcommon.TraceID]bool{}
	eachRecord(ld, func(lr plog.LogRecord) {
		if lr.TraceID().IsEmpty() {
			if !lr.SpanID().IsEmpty() {
				t.Fatal("a record has a span id without a trace id")
			}
			return
		}
		if lr.SpanID().IsEmpty() {
			t.Fatal("a record has a trace id without a span id")
		}
		if seen[lr.TraceID()] {
			t.Fatalf("trace id %s repeats", lr.TraceID())
		}
		seen[lr.TraceID()] = true
	})
	if len(seen) == 0 {
		t.Fatal("no record carries a trace id")
	}
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
	if key(a) != key(b) {
		t.Error("two builders with seed 7 built different records")
	}
	if key(a) == key(c) {
		t.Error("seeds 7 and 8 built the same records")
	}
}

func TestBuilder_SecretRatioAndTenantsCanBeChanged(t *testing.T) {
	_, none := NewBuilder(3).WithSecretRatio(0).Build(1000)
	_, all := NewBuilder(3).WithSecretRatio(1).WithTenants([]string{"only"}).Build(1000)
	if none.WithSecret != 0 {
		t.Errorf("ratio 0 planted %d secrets", none.WithSecret)
	}
	if all.WithSecret != 1000 {
		t.Errorf("ratio 1 planted %d secrets in 1000 records", all.WithSecret)
	}
	if len(all.Tenants) != 1 || all.Tenants["only"] != 1000 {
		t.Errorf("tenants %v, want all 1000 records in \"only\"", all.Tenants)
	}
}
