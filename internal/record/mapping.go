package record

import (
	"math"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Attribute names the default mapping reads. They follow OpenTelemetry semantic conventions where
// one exists and use the audit.* namespace where none does.
const (
	AttrID         = "audit.id"
	AttrLevel      = "audit.level"
	AttrEventName  = "event.name"
	AttrTenantID   = "tenant.id"
	AttrUserID     = "user.id"
	AttrEndUserID  = "enduser.id"
	AttrUserName   = "user.name"
	AttrCompanyID  = "audit.company_id"
	AttrEmployeeID = "audit.employee_id"
	AttrActorID    = "audit.actor_id"
	AttrEntityID   = "audit.entity_id"
	AttrEntityType = "audit.entity_type"
	AttrClientAddr = "client.address"
	AttrUserAgent  = "user_agent.original"
	AttrGeoCountry = "geo.country.iso_code"
	AttrGeoCity    = "geo.locality.name"
	AttrMethod     = "http.request.method"
	AttrPath       = "url.path"
	AttrStatusCode = "http.response.status_code"
	AttrDurationMS = "audit.duration_ms"
	AttrTags       = "audit.tags"
	AttrService    = "service.name"

	// BodyAttribute is where a structured (map or slice) body lands in Attributes.
	BodyAttribute = "body"
)

// Mapping says where tenant ids come from. The other fields follow the fixed table in
// docs/ARCHITECTURE.md.
type Mapping struct {
	// TenantAttributes are looked up first in the log record's attributes, then in the
	// resource's, in order; the first non-empty value is the tenant.
	TenantAttributes []string `mapstructure:"tenant_attributes"`
}

// DefaultMapping is the mapping of the design: tenant.id on the record, then on the resource.
func DefaultMapping() Mapping {
	return Mapping{TenantAttributes: []string{AttrTenantID}}
}

// FromLogs maps every log record of ld. fallbackTenant is used when no tenant attribute is
// present (the authenticated client's tenant, or DefaultTenant). now stands in for a record
// with neither a timestamp nor an observed timestamp.
func (m Mapping) FromLogs(ld plog.Logs, fallbackTenant string, now time.Time) []Record {
	out := make([]Record, 0, ld.LogRecordCount())
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := rl.Resource().Attributes()
		// One map for the resource's records: they share it, read-only (Record.Resource).
		resRaw := res.AsRaw()
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				out = append(out, m.fromLogRecord(lrs.At(k), sl.Scope().Name(), res, resRaw, fallbackTenant, now))
			}
		}
	}
	return out
}

func (m Mapping) fromLogRecord(lr plog.LogRecord, scope string, res pcommon.Map, resRaw map[string]any, fallbackTenant string, now time.Time) Record {
	attrs := lr.Attributes()
	// used collects the attribute keys that became columns; the rest stay in Attributes.
	used := make(map[string]bool, 24)
	str := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := attrs.Get(k); ok {
				if s := v.AsString(); s != "" {
					used[k] = true
					return s
				}
			}
		}
		return ""
	}

	r := Record{
		ID:             str(AttrID),
		SeverityText:   lr.SeverityText(),
		SeverityNumber: int32(lr.SeverityNumber()),
		Scope:          scope,
	}

	r.Level = levelOf(lr, str(AttrLevel))

	r.Event = lr.EventName()
	if r.Event == "" {
		r.Event = str(AttrEventName)
	}

	var tenantKey string
	r.TenantID, tenantKey = m.tenant(attrs, res, fallbackTenant)
	if tenantKey != "" {
		used[tenantKey] = true
	}
	r.UserID = str(AttrUserID, AttrEndUserID)
	r.Username = str(AttrUserName)
	r.CompanyID = str(AttrCompanyID)
	r.EmployeeID = str(AttrEmployeeID)
	r.ActorID = str(AttrActorID)
	if r.ActorID == "" {
		r.ActorID = r.UserID
	}
	r.EntityID = str(AttrEntityID)
	r.EntityType = str(AttrEntityType)
	r.IPAddress = str(AttrClientAddr)
	r.UserAgent = str(AttrUserAgent)
	r.GeoCountry = str(AttrGeoCountry)
	r.GeoCity = str(AttrGeoCity)
	r.Method = str(AttrMethod)
	r.Path = str(AttrPath)
	if v, ok := attrs.Get(AttrStatusCode); ok {
		if n, ok := intValue(v); ok {
			r.StatusCode = int(n)
			used[AttrStatusCode] = true
		}
	}
	if v, ok := attrs.Get(AttrDurationMS); ok {
		if f, ok := floatValue(v); ok {
			r.DurationMS = f
			used[AttrDurationMS] = true
		}
	}
	if v, ok := attrs.Get(AttrTags); ok && v.Type() == pcommon.ValueTypeSlice {
		s := v.Slice()
		r.Tags = make([]string, 0, s.Len())
		for i := 0; i < s.Len(); i++ {
			r.Tags = append(r.Tags, s.At(i).AsString())
		}
		used[AttrTags] = true
	}

	if tid := lr.TraceID(); !tid.IsEmpty() {
		r.TraceID = tid.String()
	}
	if sid := lr.SpanID(); !sid.IsEmpty() {
		r.SpanID = sid.String()
	}
	if v, ok := res.Get(AttrService); ok {
		r.ServiceName = v.AsString()
	}

	// Sized for the attributes that did not become columns (most of a typical audit record's
	// do), plus one for a structured body or an invalid timestamp: sized for all, the map
	// took the next larger table for most records, twice the memory while they wait.
	r.Attributes = make(map[string]any, attrs.Len()-len(used)+1)
	r.Timestamp, r.ObservedTimestamp = timestamps(lr, now, r.Attributes)
	attrs.Range(func(k string, v pcommon.Value) bool {
		if !used[k] {
			r.Attributes[k] = v.AsRaw()
		}
		return true
	})
	switch body := lr.Body(); body.Type() {
	case pcommon.ValueTypeStr:
		r.Message = body.Str()
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		r.Attributes[BodyAttribute] = body.AsRaw()
	case pcommon.ValueTypeEmpty:
	default:
		r.Message = body.AsString()
	}
	r.Resource = resRaw
	return r
}

// tenant returns the record's tenant and, when it came from one of the record's own
// attributes, that attribute's key (which then leaves Attributes).
func (m Mapping) tenant(attrs, res pcommon.Map, fallback string) (tenant, attrKey string) {
	for _, k := range m.TenantAttributes {
		if v, ok := attrs.Get(k); ok && v.AsString() != "" {
			return v.AsString(), k
		}
	}
	for _, k := range m.TenantAttributes {
		if v, ok := res.Get(k); ok && v.AsString() != "" {
			return v.AsString(), ""
		}
	}
	if fallback != "" {
		return fallback, ""
	}
	return DefaultTenant, ""
}

// levelOf is a record's level: its audit.level attribute (levelAttr) when valid, else its
// severity.
func levelOf(lr plog.LogRecord, levelAttr string) Level {
	if lvl, err := ParseLevel(levelAttr); err == nil {
		return lvl
	}
	return LevelFromSeverity(int32(lr.SeverityNumber()), lr.SeverityText())
}

// Triage is what intake must know of a record before it acknowledges it: its tenant (to
// refuse an invalid one) and its level (to apply min_level). Computing only these costs a
// fraction of mapping the record, which a request that waits in the write-ahead log gets
// only when it is read back.
type Triage struct {
	TenantID string
	Level    Level
}

// Triage returns the tenant and level of every record of ld, in FromLogs order; they are the
// TenantID and Level FromLogs gives each record.
func (m Mapping) Triage(ld plog.Logs, fallbackTenant string) []Triage {
	out := make([]Triage, 0, ld.LogRecordCount())
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		res := rls.At(i).Resource().Attributes()
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				levelAttr := ""
				if v, ok := lr.Attributes().Get(AttrLevel); ok {
					levelAttr = v.AsString()
				}
				tenant, _ := m.tenant(lr.Attributes(), res, fallbackTenant)
				out = append(out, Triage{TenantID: tenant, Level: levelOf(lr, levelAttr)})
			}
		}
	}
	return out
}

// Attributes that keep a timestamp the record could not be stored with (see timestamps).
const (
	AttrInvalidTimestamp         = "audit.invalid_timestamp_unix_nano"
	AttrInvalidObservedTimestamp = "audit.invalid_observed_timestamp_unix_nano"
)

// timestamps returns the record's time and observed time. OTLP carries them as unsigned
// nanoseconds since 1970, but a time after 2262-04-11 has no int64 nanosecond form, which
// every store uses: converted as is it would wrap to 1677..1970 and be stored as a silent lie.
// Such a value (a bad clock) is replaced by the observed time, else the arrival time, and the
// original is kept in the attribute AttrInvalidTimestamp (AttrInvalidObservedTimestamp) as a
// decimal string: the record is kept, flagged, and nothing the sender sent is lost.
func timestamps(lr plog.LogRecord, now time.Time, attrs map[string]any) (ts, observed time.Time) {
	observed = now
	if o := lr.ObservedTimestamp(); o > math.MaxInt64 {
		attrs[AttrInvalidObservedTimestamp] = strconv.FormatUint(uint64(o), 10)
	} else if o != 0 {
		observed = o.AsTime()
	}
	ts = observed
	if t := lr.Timestamp(); t > math.MaxInt64 {
		attrs[AttrInvalidTimestamp] = strconv.FormatUint(uint64(t), 10)
	} else if t != 0 {
		ts = t.AsTime()
	}
	return ts.UTC(), observed.UTC()
}

func intValue(v pcommon.Value) (int64, bool) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return v.Int(), true
	case pcommon.ValueTypeDouble:
		return int64(v.Double()), true
	case pcommon.ValueTypeStr:
		n, err := strconv.ParseInt(v.Str(), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func floatValue(v pcommon.Value) (float64, bool) {
	switch v.Type() {
	case pcommon.ValueTypeDouble:
		return v.Double(), true
	case pcommon.ValueTypeInt:
		return float64(v.Int()), true
	case pcommon.ValueTypeStr:
		f, err := strconv.ParseFloat(v.Str(), 64)
		return f, err == nil
	}
	return 0, false
}
