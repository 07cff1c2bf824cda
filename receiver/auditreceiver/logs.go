package auditreceiver // import "github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver"

import (
	"maps"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver/internal/metadata"
)

// Attributes this receiver writes that the record mapping has no column for: they reach the
// record's attributes unchanged.
const (
	attrOldValues = "audit.old_values"
	attrNewValues = "audit.new_values"
	// metadataPrefix is put before each key of an event's metadata object. Flat dotted keys are
	// what OpenTelemetry attributes are made of, so each metadata key stays addressable on its
	// own (by processors, by the stores' attribute columns) instead of hiding inside one map.
	metadataPrefix = "metadata."
	// The sender's own address and user agent, kept when an event from a trusted sender names its
	// end user's (ip_address, user_agent), which then fill client.address and user_agent.original.
	attrSenderAddress   = "audit.sender.address"
	attrSenderUserAgent = "audit.sender.user_agent"
)

// severities maps each audit level to the OpenTelemetry severity it is sent with. Security uses
// 21 (FATAL), the lowest number above every error, so that a backend that knows only severity
// numbers still ranks it above error; SeverityText "SECURITY" and the audit.level attribute tell
// our own mapping that it is a security event and not a crash.
var severities = map[record.Level]struct {
	number plog.SeverityNumber
	text   string
}{
	record.LevelDebug:    {plog.SeverityNumberDebug, "DEBUG"},
	record.LevelInfo:     {plog.SeverityNumberInfo, "INFO"},
	record.LevelWarn:     {plog.SeverityNumberWarn, "WARN"},
	record.LevelError:    {plog.SeverityNumberError, "ERROR"},
	record.LevelSecurity: {plog.SeverityNumberFatal, "SECURITY"},
}

// clientContext is what the receiver learns about the sender from the connection, not from the
// body: the sender cannot forge it (see clientAddress).
type clientContext struct {
	address   string
	userAgent string
}

// buildLogs turns validated events into log records and returns the audit.id of each event, in
// event order. Events are grouped into one ResourceLogs per distinct service so that each record
// carries its own service.name; within a service the event order is kept.
func buildLogs(events []event, cc clientContext, now time.Time) (plog.Logs, []string) {
	ld := plog.NewLogs()
	ids := make([]string, len(events))
	recordsByService := make(map[string]plog.LogRecordSlice)
	scopes := make(map[string]plog.ScopeLogs)
	resources := make(map[string]pcommon.Map)
	observed := pcommon.NewTimestampFromTime(now)

	for i := range events {
		ev := &events[i]
		records, ok := recordsByService[ev.service]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			if ev.service != "" {
				rl.Resource().Attributes().PutStr(record.AttrService, ev.service)
			}
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(metadata.ScopeName)
			records = sl.LogRecords()
			recordsByService[ev.service] = records
			scopes[ev.service] = sl
			resources[ev.service] = rl.Resource().Attributes()
		}
		lr := records.AppendEmpty()
		fillLogRecord(lr, ev, cc, observed)
		ids[i] = ev.id
		if ids[i] == "" {
			// The event's content names it, arrival time aside: a sender that posts the same
			// event again (its answer was lost) gets the same id, and the store keeps one.
			ids[i] = record.ContentID(resources[ev.service], scopes[ev.service].Scope(), lr, false)
		}
		lr.Attributes().PutStr(record.AttrID, ids[i])
	}
	return ld, ids
}

func fillLogRecord(lr plog.LogRecord, ev *event, cc clientContext, observed pcommon.Timestamp) {
	lr.SetObservedTimestamp(observed)
	if ev.occurredAt.IsZero() {
		lr.SetTimestamp(observed)
	} else {
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ev.occurredAt))
	}
	lr.SetEventName(ev.action)
	sev := severities[ev.level]
	lr.SetSeverityNumber(sev.number)
	lr.SetSeverityText(sev.text)
	if ev.message != "" {
		lr.Body().SetStr(ev.message)
	}
	lr.SetTraceID(ev.traceID)
	lr.SetSpanID(ev.spanID)

	attrs := lr.Attributes()
	attrs.EnsureCapacity(8 + len(ev.metadata))
	attrs.PutStr(record.AttrLevel, ev.level.String())
	putNonEmpty(attrs, record.AttrTenantID, ev.tenantID)
	putNonEmpty(attrs, record.AttrActorID, ev.actorID)
	putNonEmpty(attrs, record.AttrUserID, ev.userID)
	putNonEmpty(attrs, record.AttrUserName, ev.username)
	putNonEmpty(attrs, record.AttrEntityType, ev.entityType)
	putNonEmpty(attrs, record.AttrEntityID, ev.entityID)
	putNonEmpty(attrs, record.AttrCompanyID, ev.companyID)
	putNonEmpty(attrs, record.AttrEmployeeID, ev.employeeID)
	putNonEmpty(attrs, record.AttrMethod, ev.method)
	putNonEmpty(attrs, record.AttrPath, ev.path)
	if ev.statusCode != 0 {
		attrs.PutInt(record.AttrStatusCode, ev.statusCode)
	}
	if ev.hasDuration {
		attrs.PutDouble(record.AttrDurationMS, ev.durationMS)
	}
	if ev.tags != nil {
		s := attrs.PutEmptySlice(record.AttrTags)
		s.EnsureCapacity(len(ev.tags))
		for _, t := range ev.tags {
			s.AppendEmpty().SetStr(t)
		}
	}
	putMap(attrs, attrOldValues, ev.oldValues)
	putMap(attrs, attrNewValues, ev.newValues)
	// Sorted so that the same event always yields the same attribute order.
	for _, k := range slices.Sorted(maps.Keys(ev.metadata)) {
		// FromRaw only fails for types decodeObject never produces.
		_ = attrs.PutEmpty(metadataPrefix + k).FromRaw(ev.metadata[k])
	}
	putClientField(attrs, record.AttrClientAddr, attrSenderAddress, ev.ipAddress, cc.address)
	putClientField(attrs, record.AttrUserAgent, attrSenderUserAgent, ev.userAgent, cc.userAgent)
}

// putClientField writes the client's address or user agent: the end user's as the event names it
// (only trusted senders get this far with one), the sender's own moved to senderKey; else the
// sender's, which then is the client.
func putClientField(attrs pcommon.Map, key, senderKey, endUser, sender string) {
	if endUser == "" {
		putNonEmpty(attrs, key, sender)
		return
	}
	attrs.PutStr(key, endUser)
	putNonEmpty(attrs, senderKey, sender)
}

func putNonEmpty(attrs pcommon.Map, key, value string) {
	if value != "" {
		attrs.PutStr(key, value)
	}
}

func putMap(attrs pcommon.Map, key string, m map[string]any) {
	if m == nil {
		return
	}
	_ = attrs.PutEmptyMap(key).FromRaw(m)
}
