package record

import (
	"encoding/json"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

// oneLog builds a Logs with a single record and lets the case fill it in.
func oneLog(fill func(res pcommon.Map, lr plog.LogRecord)) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("auth")
	fill(rl.Resource().Attributes(), sl.LogRecords().AppendEmpty())
	return ld
}

func mapOne(t *testing.T, ld plog.Logs, fallbackTenant string) Record {
	t.Helper()
	recs := DefaultMapping().FromLogs(ld, fallbackTenant, fixedNow)
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	return recs[0]
}

func TestMapping_EveryDesignFieldIsTakenFromItsAttribute(t *testing.T) {
	ts := time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.UTC)
	ld := oneLog(func(res pcommon.Map, lr plog.LogRecord) {
		res.PutStr("service.name", "billing")
		res.PutStr("host.name", "h1")
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
		lr.SetEventName("invoice.paid")
		lr.Body().SetStr("paid")
		tid := pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
		lr.SetTraceID(tid)
		lr.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
		a := lr.Attributes()
		a.PutStr("audit.id", "id-1")
		a.PutStr("tenant.id", "acme")
		a.PutStr("user.id", "u1")
		a.PutStr("user.name", "ann")
		a.PutStr("audit.company_id", "c1")
		a.PutStr("audit.employee_id", "e1")
		a.PutStr("audit.actor_id", "a1")
		a.PutStr("audit.entity_id", "inv-9")
		a.PutStr("audit.entity_type", "invoice")
		a.PutStr("client.address", "198.51.100.1")
		a.PutStr("user_agent.original", "curl/8")
		a.PutStr("geo.country.iso_code", "DE")
		a.PutStr("geo.locality.name", "Berlin")
		a.PutStr("http.request.method", "POST")
		a.PutStr("url.path", "/invoices/9")
		a.PutInt("http.response.status_code", 201)
		a.PutDouble("audit.duration_ms", 12.5)
		tags := a.PutEmptySlice("audit.tags")
		tags.AppendEmpty().SetStr("billing")
		tags.AppendEmpty().SetStr("pci")
		a.PutStr("order.id", "o-7")
	})
	r := mapOne(t, ld, "")
	want := Record{
		ID: "id-1", Timestamp: ts, ObservedTimestamp: fixedNow, Level: LevelWarn,
		SeverityNumber: int32(plog.SeverityNumberWarn),
		Event:          "invoice.paid", Message: "paid", TenantID: "acme", UserID: "u1", Username: "ann",
		CompanyID: "c1", EmployeeID: "e1", ActorID: "a1", EntityID: "inv-9", EntityType: "invoice",
		IPAddress: "198.51.100.1", UserAgent: "curl/8", GeoCountry: "DE", GeoCity: "Berlin",
		Method: "POST", Path: "/invoices/9", StatusCode: 201, DurationMS: 12.5,
		TraceID: "0102030405060708090a0b0c0d0e0f10", SpanID: "0102030405060708",
		ServiceName: "billing", Scope: "auth", Tags: []string{"billing", "pci"},
		Attributes: map[string]any{"order.id": "o-7"},
		Resource:   map[string]any{"service.name": "billing", "host.name": "h1"},
	}
	gotJSON, _ := json.Marshal(r)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("mapped record\n got %s\nwant %s", gotJSON, wantJSON)
	}
}

func TestMapping_LevelPrecedence(t *testing.T) {
	cases := []struct {
		name     string
		attr     string
		number   plog.SeverityNumber
		text     string
		expected Level
	}{
		{"audit.level attribute wins over severity", "security", plog.SeverityNumberDebug, "", LevelSecurity},
		{"severity text SECURITY is security", "", plog.SeverityNumberInfo, "SECURITY", LevelSecurity},
		{"severity 1-8 is debug", "", plog.SeverityNumberTrace, "", LevelDebug},
		{"severity 9-12 is info", "", plog.SeverityNumberInfo4, "", LevelInfo},
		{"severity 13-16 is warn", "", plog.SeverityNumberWarn2, "", LevelWarn},
		{"severity 17-24 is error", "", plog.SeverityNumberFatal, "", LevelError},
		{"unspecified severity with text uses the text", "", 0, "warning", LevelWarn},
		{"nothing at all is info", "", 0, "", LevelInfo},
		{"an unknown audit.level falls back to severity", "loud", plog.SeverityNumberError, "", LevelError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := mapOne(t, oneLog(func(_ pcommon.Map, lr plog.LogRecord) {
				if c.attr != "" {
					lr.Attributes().PutStr("audit.level", c.attr)
				}
				lr.SetSeverityNumber(c.number)
				lr.SetSeverityText(c.text)
			}), "")
			if r.Level != c.expected {
				t.Errorf("level = %v, want %v", r.Level, c.expected)
			}
		})
	}
}

func TestMapping_FallbacksAndLeftovers(t *testing.T) {
	t.Run("event.name attribute is the event when EventName is empty", func(t *testing.T) {
		r := mapOne(t, oneLog(func(_ pcommon.Map, lr plog.LogRecord) {
			lr.Attributes().PutStr("event.name", "user.created")
		}), "")
		if r.Event != "user.created" {
			t.Errorf("event = %q", r.Event)
		}
		if _, kept := r.Attributes["event.name"]; kept {
			t.Error("event.name moved to a column must not also stay in attributes")
		}
	})
	t.Run("tenant comes from the resource, then the authenticated client, then default", func(t *testing.T) {
		fromRes := mapOne(t, oneLog(func(res pcommon.Map, _ plog.LogRecord) { res.PutStr("tenant.id", "r-t") }), "auth-t")
		fromAuth := mapOne(t, oneLog(func(pcommon.Map, plog.LogRecord) {}), "auth-t")
		none := mapOne(t, oneLog(func(pcommon.Map, plog.LogRecord) {}), "")
		if fromRes.TenantID != "r-t" || fromAuth.TenantID != "auth-t" || none.TenantID != DefaultTenant {
			t.Errorf("tenants = %q, %q, %q", fromRes.TenantID, fromAuth.TenantID, none.TenantID)
		}
	})
	t.Run("actor defaults to the user and enduser.id is a user id", func(t *testing.T) {
		r := mapOne(t, oneLog(func(_ pcommon.Map, lr plog.LogRecord) { lr.Attributes().PutStr("enduser.id", "u9") }), "")
		if r.UserID != "u9" || r.ActorID != "u9" {
			t.Errorf("user_id %q actor_id %q, want u9 both", r.UserID, r.ActorID)
		}
	})
	t.Run("a map body is kept in attributes under body", func(t *testing.T) {
		r := mapOne(t, oneLog(func(_ pcommon.Map, lr plog.LogRecord) {
			lr.Body().SetEmptyMap().PutStr("action", "x")
		}), "")
		body, ok := r.Attributes["body"].(map[string]any)
		if !ok || body["action"] != "x" || r.Message != "" {
			t.Errorf("attributes = %v, message %q", r.Attributes, r.Message)
		}
	})
	t.Run("timestamps fall back to observed, then now", func(t *testing.T) {
		obs := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		r := mapOne(t, oneLog(func(_ pcommon.Map, lr plog.LogRecord) {
			lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(obs))
		}), "")
		r2 := mapOne(t, oneLog(func(pcommon.Map, plog.LogRecord) {}), "")
		if !r.Timestamp.Equal(obs) || !r2.Timestamp.Equal(fixedNow) {
			t.Errorf("timestamps %v, %v", r.Timestamp, r2.Timestamp)
		}
	})
	t.Run("a status code that is not a number stays in attributes", func(t *testing.T) {
		r := mapOne(t, oneLog(func(_ pcommon.Map, lr plog.LogRecord) {
			lr.Attributes().PutStr("http.response.status_code", "teapot")
		}), "")
		if r.StatusCode != 0 || r.Attributes["http.response.status_code"] != "teapot" {
			t.Errorf("status %d, attributes %v", r.StatusCode, r.Attributes)
		}
	})
}

func TestEnsureIDs_AssignsOnceAndKeepsSenderIDs(t *testing.T) {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	lrs.AppendEmpty().Attributes().PutStr(AttrID, "sender-id")
	lrs.AppendEmpty().SetTimestamp(1_700_000_000_000_000_000)
	if n := EnsureIDs(ld); n != 1 {
		t.Fatalf("assigned %d ids, want 1", n)
	}
	first, _ := lrs.At(0).Attributes().Get(AttrID)
	second, _ := lrs.At(1).Attributes().Get(AttrID)
	if first.Str() != "sender-id" || len(second.Str()) != 36 || second.Str()[14] != '8' {
		t.Errorf("ids = %q, %q; want the sender's and a content id (UUID version 8)", first.Str(), second.Str())
	}
	if n := EnsureIDs(ld); n != 0 {
		t.Errorf("second pass assigned %d ids, want 0: a replay must keep its ids", n)
	}
}

func TestLevel_TextAndJSONRoundTrip(t *testing.T) {
	for _, l := range Levels {
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		var back Level
		if err := json.Unmarshal(b, &back); err != nil || back != l {
			t.Errorf("%v round-tripped to %v (%v)", l, back, err)
		}
	}
	var l Level
	if err := l.UnmarshalText([]byte("verbose")); err == nil {
		t.Error("unknown level name must be rejected")
	}
}

func TestMapping_TimestampsBeyondInt64NanosecondsAreReplacedAndKept(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	observed := time.Date(2026, 5, 1, 9, 59, 0, 0, time.UTC)
	const year2300 = uint64(10_413_792_000) * 1e9 // 2300-01-01, past int64 nanoseconds
	cases := []struct {
		name              string
		ts, obs           uint64
		wantTS, wantObs   time.Time
		wantAttr, wantObA string
	}{
		{"a bad timestamp takes the observed time", year2300, uint64(observed.UnixNano()), observed, observed, "10413792000000000000", ""},
		{"both bad: the arrival time", year2300, year2300 + 1, now, now, "10413792000000000000", "10413792000000000001"},
		{"a good timestamp is kept", uint64(observed.UnixNano()), 0, observed, now, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ld := plog.NewLogs()
			lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
			lr.SetTimestamp(pcommon.Timestamp(c.ts))
			lr.SetObservedTimestamp(pcommon.Timestamp(c.obs))
			r := DefaultMapping().FromLogs(ld, "", now)[0]
			if !r.Timestamp.Equal(c.wantTS) || !r.ObservedTimestamp.Equal(c.wantObs) {
				t.Errorf("timestamps %s / %s, want %s / %s", r.Timestamp, r.ObservedTimestamp, c.wantTS, c.wantObs)
			}
			if r.Timestamp.Year() < 1970 {
				t.Errorf("stored as year %d", r.Timestamp.Year())
			}
			if got, _ := r.Attributes[AttrInvalidTimestamp].(string); got != c.wantAttr {
				t.Errorf("%s = %q, want %q", AttrInvalidTimestamp, got, c.wantAttr)
			}
			if got, _ := r.Attributes[AttrInvalidObservedTimestamp].(string); got != c.wantObA {
				t.Errorf("%s = %q, want %q", AttrInvalidObservedTimestamp, got, c.wantObA)
			}
		})
	}
}
