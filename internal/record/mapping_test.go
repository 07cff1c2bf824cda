package record

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.Len(t, recs, 1, "records")
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
	gotJSON, err := json.Marshal(r)
	require.NoError(t, err)
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	assert.Equal(t, string(wantJSON), string(gotJSON), "mapped record")
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
			assert.Equal(t, c.expected, r.Level, "level")
		})
	}
}

func TestMapping_FallbacksAndLeftovers(t *testing.T) {
	t.Run("event.name attribute is the event when EventName is empty", func(t *testing.T) {
		r := mapOne(t, oneLog(func(_ pcommon.Map, lr plog.LogRecord) {
			lr.Attributes().PutStr("event.name", "user.created")
		}), "")
		assert.Equal(t, "user.created", r.Event, "event")
		assert.NotContains(t, r.Attributes, "event.name", "event.name moved to a column must not also stay in attributes")
	})
	t.Run("tenant comes from the resource, then the authenticated client, then default", func(t *testing.T) {
		fromRes := mapOne(t, oneLog(func(res pcommon.Map, _ plog.LogRecord) { res.PutStr("tenant.id", "r-t") }), "auth-t")
		fromAuth := mapOne(t, oneLog(func(pcommon.Map, plog.LogRecord) {}), "auth-t")
		none := mapOne(t, oneLog(func(pcommon.Map, plog.LogRecord) {}), "")
		assert.Equal(t, "r-t", fromRes.TenantID, "tenant from the resource")
		assert.Equal(t, "auth-t", fromAuth.TenantID, "tenant from the authenticated client")
		assert.Equal(t, DefaultTenant, none.TenantID, "tenant by default")
	})
	t.Run("actor defaults to the user and enduser.id is a user id", func(t *testing.T) {
		r := mapOne(t, oneLog(func(_ pcommon.Map, lr plog.LogRecord) { lr.Attributes().PutStr("enduser.id", "u9") }), "")
		assert.Equal(t, "u9", r.UserID, "user_id")
		assert.Equal(t, "u9", r.ActorID, "actor_id")
	})
	t.Run("a map body is kept in attributes under body", func(t *testing.T) {
		r := mapOne(t, oneLog(func(_ pcommon.Map, lr plog.LogRecord) {
			lr.Body().SetEmptyMap().PutStr("action", "x")
		}), "")
		assert.Equal(t, map[string]any{"action": "x"}, r.Attributes["body"], "attributes = %v", r.Attributes)
		assert.Empty(t, r.Message, "message")
	})
	t.Run("timestamps fall back to observed, then now", func(t *testing.T) {
		obs := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		r := mapOne(t, oneLog(func(_ pcommon.Map, lr plog.LogRecord) {
			lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(obs))
		}), "")
		r2 := mapOne(t, oneLog(func(pcommon.Map, plog.LogRecord) {}), "")
		assert.WithinDuration(t, obs, r.Timestamp, 0, "timestamp from observed")
		assert.WithinDuration(t, fixedNow, r2.Timestamp, 0, "timestamp from now")
	})
	t.Run("a status code that is not a number stays in attributes", func(t *testing.T) {
		r := mapOne(t, oneLog(func(_ pcommon.Map, lr plog.LogRecord) {
			lr.Attributes().PutStr("http.response.status_code", "teapot")
		}), "")
		assert.Zero(t, r.StatusCode, "status")
		assert.Equal(t, "teapot", r.Attributes["http.response.status_code"], "attributes = %v", r.Attributes)
	})
}

func TestEnsureIDs_AssignsOnceAndKeepsSenderIDs(t *testing.T) {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	lrs.AppendEmpty().Attributes().PutStr(AttrID, "sender-id")
	lrs.AppendEmpty().SetTimestamp(1_700_000_000_000_000_000)
	require.Equal(t, 1, EnsureIDs(ld), "assigned ids")
	first, _ := lrs.At(0).Attributes().Get(AttrID)
	second, _ := lrs.At(1).Attributes().Get(AttrID)
	assert.Equal(t, "sender-id", first.Str(), "the sender's id is kept")
	if assert.Len(t, second.Str(), 36, "a content id is a UUID") {
		assert.Equal(t, byte('8'), second.Str()[14], "a content id is UUID version 8: %q", second.Str())
	}
	assert.Zero(t, EnsureIDs(ld), "second pass assigned ids: a replay must keep its ids")
}

func TestLevel_TextAndJSONRoundTrip(t *testing.T) {
	for _, l := range Levels {
		b, err := json.Marshal(l)
		require.NoError(t, err)
		var back Level
		if assert.NoError(t, json.Unmarshal(b, &back), "%v round trip", l) {
			assert.Equal(t, l, back, "%v round trip", l)
		}
	}
	var l Level
	assert.Error(t, l.UnmarshalText([]byte("verbose")), "unknown level name must be rejected")
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
			assert.WithinDuration(t, c.wantTS, r.Timestamp, 0, "timestamp")
			assert.WithinDuration(t, c.wantObs, r.ObservedTimestamp, 0, "observed timestamp")
			assert.GreaterOrEqual(t, r.Timestamp.Year(), 1970, "stored year")
			got, _ := r.Attributes[AttrInvalidTimestamp].(string)
			assert.Equal(t, c.wantAttr, got, AttrInvalidTimestamp)
			got, _ = r.Attributes[AttrInvalidObservedTimestamp].(string)
			assert.Equal(t, c.wantObA, got, AttrInvalidObservedTimestamp)
		})
	}
}

func TestTriage_GivesTheTenantAndLevelFromLogsGives(t *testing.T) {
	ld := plog.NewLogs()
	withResourceTenant := ld.ResourceLogs().AppendEmpty()
	withResourceTenant.Resource().Attributes().PutStr("tenant.id", "from-resource")
	lrs := withResourceTenant.ScopeLogs().AppendEmpty().LogRecords()
	own := lrs.AppendEmpty()
	own.Attributes().PutStr("org.id", "from-record")
	own.Attributes().PutStr(AttrLevel, "security")
	own.SetSeverityNumber(plog.SeverityNumberDebug)
	lrs.AppendEmpty().SetSeverityNumber(plog.SeverityNumberWarn) // the resource's tenant
	badLevel := lrs.AppendEmpty()
	badLevel.Attributes().PutStr(AttrLevel, "verbose") // invalid: the severity decides
	badLevel.SetSeverityText("SECURITY")
	bare := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	bare.AppendEmpty().SetSeverityNumber(plog.SeverityNumberError) // the fallback tenant
	empty := bare.AppendEmpty()
	empty.Attributes().PutStr("tenant.id", "") // empty counts as absent

	m := DefaultMapping()
	m.TenantAttributes = []string{"org.id", "tenant.id"}
	for _, fallback := range []string{"authenticated", ""} {
		recs := m.FromLogs(ld, fallback, time.Now())
		triage := m.Triage(ld, fallback)
		require.Len(t, triage, len(recs))
		for i, r := range recs {
			assert.Equal(t, Triage{TenantID: r.TenantID, Level: r.Level}, triage[i], "record %d, fallback %q", i, fallback)
		}
	}
}
