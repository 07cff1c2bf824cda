package record

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Content ids are stored and compared across versions (a WAL replayed after an upgrade, a
// client resending a request the previous version acknowledged): the encoding they hash must
// never change. These ids were computed by the encoder before its scalar fast path; every
// value type and both containers, nested, are in the record.
func TestContentID_IsStableAcrossVersions(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "billing")
	rl.Resource().Attributes().PutInt("service.instance", 3)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("auth")
	sl.Scope().SetVersion("1.2.3")
	lr := sl.LogRecords().AppendEmpty()
	at := time.Date(2026, 5, 1, 10, 0, 0, 123456789, time.UTC)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Second)))
	lr.SetSeverityNumber(plog.SeverityNumberWarn)
	lr.SetSeverityText("WARN")
	lr.SetEventName("invoice.paid")
	lr.Body().SetEmptyMap().PutStr("text", "paid")
	lr.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	lr.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	lr.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
	a := lr.Attributes()
	a.PutStr("tenant.id", "acme")
	a.PutInt("amount", -1299)
	a.PutDouble("ratio", 0.25)
	a.PutBool("ok", true)
	a.PutBool("retried", false)
	a.PutEmptyBytes("digest").FromRaw([]byte{0xde, 0xad, 0xbe, 0xef})
	a.PutEmpty("nothing")
	m := a.PutEmptyMap("order")
	m.PutStr("currency", "EUR")
	lines := m.PutEmptySlice("lines")
	lines.AppendEmpty().SetStr("line-1")
	lines.AppendEmpty().SetInt(2)
	lines.AppendEmpty().SetEmptyMap().PutDouble("tax", 0.2)
	lines.AppendEmpty().SetEmptySlice().AppendEmpty().SetBool(true)
	a.PutEmptyMap("empty")
	a.PutEmptySlice("none")

	res, scope := rl.Resource().Attributes(), sl.Scope()
	assert.Equal(t, "019de2fb-197b-831a-919e-f8e728901e34", ContentID(res, scope, lr, true), "with the observed time")
	assert.Equal(t, "019de2fb-197b-8cdd-bc88-da85772435bc", ContentID(res, scope, lr, false), "without it")
	lr.Body().SetStr("paid")
	assert.Equal(t, "019de2fb-197b-8d14-9287-40f895d3acc6", ContentID(res, scope, lr, true), "a string body")
}
