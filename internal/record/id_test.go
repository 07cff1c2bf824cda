package record

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// auditRequest is one request of n realistic records, all different.
func auditRequest(n int, at time.Time) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "billing")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("auth")
	for i := range n {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Duration(i) * time.Millisecond)))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Second)))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetEventName("invoice.paid")
		lr.Body().SetStr("user paid an invoice")
		lr.SetTraceID(pcommon.TraceID{1, 2, 3, byte(i)})
		a := lr.Attributes()
		a.PutStr("tenant.id", "acme")
		a.PutStr("user.id", "user-7")
		a.PutInt("invoice.amount_cents", int64(1000+i))
		m := a.PutEmptyMap("order")
		m.PutStr("currency", "EUR")
		m.PutEmptySlice("lines").AppendEmpty().SetStr("line-1")
	}
	return ld
}

func idsOf(ld plog.Logs) []string {
	var out []string
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < lrs.Len(); i++ {
		v, _ := lrs.At(i).Attributes().Get(AttrID)
		out = append(out, v.Str())
	}
	return out
}

func TestEnsureIDs_AResentIdenticalRequestGetsTheSameIDs(t *testing.T) {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	first, resend := auditRequest(20, at), auditRequest(20, at)
	EnsureIDs(first)
	EnsureIDs(resend)
	require.Equal(t, idsOf(first), idsOf(resend), "a resend got other ids")
	ids := idsOf(first)
	require.Len(t, slices.Compact(slices.Sorted(slices.Values(ids))), len(ids), "distinct records share an id: %v", ids)
}

func TestEnsureIDs_RecordsThatDifferInAnythingGetDifferentIDs(t *testing.T) {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	base := auditRequest(1, at)
	EnsureIDs(base)
	baseID := idsOf(base)[0]
	changes := map[string]func(lr plog.LogRecord, ld plog.Logs){
		"the timestamp by one nanosecond": func(lr plog.LogRecord, _ plog.Logs) { lr.SetTimestamp(lr.Timestamp() + 1) },
		"the observed timestamp":          func(lr plog.LogRecord, _ plog.Logs) { lr.SetObservedTimestamp(lr.ObservedTimestamp() + 1) },
		"one attribute's value":           func(lr plog.LogRecord, _ plog.Logs) { lr.Attributes().PutStr("user.id", "user-8") },
		"a value's type, not its text":    func(lr plog.LogRecord, _ plog.Logs) { lr.Attributes().PutStr("invoice.amount_cents", "1000") },
		"where a key ends and its value begins": func(lr plog.LogRecord, _ plog.Logs) {
			lr.Attributes().Remove("user.id")
			lr.Attributes().PutStr("user.iduser-7", "")
		},
		"a nested value": func(lr plog.LogRecord, _ plog.Logs) {
			m, _ := lr.Attributes().Get("order")
			m.Map().PutStr("currency", "USD")
		},
		"the body":       func(lr plog.LogRecord, _ plog.Logs) { lr.Body().SetStr("user paid an invoice twice") },
		"the severity":   func(lr plog.LogRecord, _ plog.Logs) { lr.SetSeverityNumber(plog.SeverityNumberWarn) },
		"the event name": func(lr plog.LogRecord, _ plog.Logs) { lr.SetEventName("invoice.refunded") },
		"the span id":    func(lr plog.LogRecord, _ plog.Logs) { lr.SetSpanID(pcommon.SpanID{9}) },
		"the resource": func(_ plog.LogRecord, ld plog.Logs) {
			ld.ResourceLogs().At(0).Resource().Attributes().PutStr("host.name", "web-2")
		},
		"the scope":            func(_ plog.LogRecord, ld plog.Logs) { ld.ResourceLogs().At(0).ScopeLogs().At(0).Scope().SetName("db") },
		"an added empty value": func(lr plog.LogRecord, _ plog.Logs) { lr.Attributes().PutEmpty("note") },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			ld := auditRequest(1, at)
			change(ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0), ld)
			EnsureIDs(ld)
			require.NotEqual(t, baseID, idsOf(ld)[0], "changing %s kept the id", name)
		})
	}
}

func TestContentID_IsTimeOrderedAndVersion8(t *testing.T) {
	var ids []string
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := range 50 {
		ld := auditRequest(1, start.Add(time.Duration(i)*time.Minute))
		EnsureIDs(ld)
		ids = append(ids, idsOf(ld)[0])
	}
	assert.True(t, slices.IsSorted(ids), "ids of records a minute apart do not sort by time: %v", ids)
	id := ids[0]
	assert.Equal(t, byte('8'), id[14], "id %s: want version 8", id)
	assert.Contains(t, "89ab", string(id[19]), "id %s: want the RFC 9562 variant", id)
	// The first 48 bits are the Unix milliseconds of the record's timestamp.
	assert.Equal(t, fmt.Sprintf("%012x", start.UnixMilli()), strings.ReplaceAll(id[:13], "-", ""),
		"time prefix (%d ms)", start.UnixMilli())
}

func TestContentID_WithoutObservedIgnoresArrivalTime(t *testing.T) {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	a, b := auditRequest(1, at), auditRequest(1, at)
	lb := b.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	lb.SetObservedTimestamp(lb.ObservedTimestamp() + pcommon.Timestamp(time.Hour))
	id := func(ld plog.Logs, withObserved bool) string {
		rl := ld.ResourceLogs().At(0)
		sl := rl.ScopeLogs().At(0)
		return ContentID(rl.Resource().Attributes(), sl.Scope(), sl.LogRecords().At(0), withObserved)
	}
	assert.Equal(t, id(a, false), id(b, false),
		"without the observed timestamp, records that arrived an hour apart got different ids")
	assert.NotEqual(t, id(a, true), id(b, true),
		"with the observed timestamp, records observed an hour apart got the same id")
}

func TestEnsureIDs_RecordsWithoutAnyTimeAreNeverMerged(t *testing.T) {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for range 3 {
		lrs.AppendEmpty().SetEventName("login")
	}
	EnsureIDs(ld)
	ids := idsOf(ld)
	require.NotEqual(t, ids[0], ids[1], "timeless identical records got ids %v; want three distinct UUIDv7s", ids)
	require.NotEqual(t, ids[1], ids[2], "timeless identical records got ids %v; want three distinct UUIDv7s", ids)
	require.Equal(t, byte('7'), ids[0][14], "timeless identical records got ids %v; want three distinct UUIDv7s", ids)
}

func TestEnsureIDs_SurvivesAValueNestedAMillionLevels(t *testing.T) {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	v := lr.Body()
	for range 1_000_000 {
		v = v.SetEmptyMap().PutEmpty("x")
	}
	require.Equal(t, 1, EnsureIDs(ld), "assigned ids")
}

func BenchmarkEnsureIDs(b *testing.B) {
	at := time.Now()
	for _, name := range []string{"content", "uuidv7"} {
		b.Run(name, func(b *testing.B) {
			ld := auditRequest(100, at)
			lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			for b.Loop() {
				for i := 0; i < lrs.Len(); i++ {
					lrs.At(i).Attributes().Remove(AttrID)
				}
				if name == "content" {
					EnsureIDs(ld)
				} else {
					for i := 0; i < lrs.Len(); i++ {
						lrs.At(i).Attributes().PutStr(AttrID, NewID())
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lrs.Len()), "ns/record")
		})
	}
}
