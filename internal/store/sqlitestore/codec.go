package sqlitestore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// columnList is audit_logs' columns in the order encodeRecord binds them and scanRecord reads
// them. seq is absent: SQLite assigns it.
const columnList = "id, timestamp, observed_timestamp, level, severity_text, severity_number, " +
	"event, message, tenant_id, user_id, username, company_id, employee_id, " +
	"actor_id, entity_id, entity_type, ip_address, user_agent, geo_country, " +
	"geo_city, method, path, status_code, duration_ms, trace_id, span_id, " +
	"service_name, scope, tags, attributes, resource"

// insertColumnList is what Insert writes: columnList and search_text, the attribute text the
// full-text index sees (derived, so never read back into a record).
const insertColumnList = columnList + ", search_text"

// columnCount is the number of values one inserted row binds.
var columnCount = strings.Count(insertColumnList, ",") + 1

// Timestamps are stored as Unix nanoseconds, which int64 holds from 1677-09-21 to 2262-04-11.
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// encodeTime maps the zero time to 0 and back (decodeTime), so a record without an observed
// timestamp reads back as it was written. The one instant that cannot round-trip is
// 1970-01-01T00:00:00Z itself, which reads back as the zero time.
func encodeTime(field string, t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("%s %s is outside the storable range %s to %s", field, t.Format(time.RFC3339), minTime.Format(time.RFC3339), maxTime.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

func decodeTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// encodeRecord appends r's column values to args in insertColumnList order. tenant is the tenant
// the row is stored under (already reconciled with r.TenantID by Insert).
func encodeRecord(args []any, r *record.Record, tenant string) ([]any, error) {
	if r.ID == "" {
		return args, fmt.Errorf("id is empty")
	}
	ts, err := encodeTime("timestamp", r.Timestamp)
	if err != nil {
		return args, err
	}
	observed, err := encodeTime("observed_timestamp", r.ObservedTimestamp)
	if err != nil {
		return args, err
	}
	tags, err := encodeJSON(r.Tags, "[]")
	if err != nil {
		return args, fmt.Errorf("tags: %w", err)
	}
	attrs, err := encodeJSON(r.Attributes, "{}")
	if err != nil {
		return args, fmt.Errorf("attributes: %w", err)
	}
	res, err := encodeJSON(r.Resource, "{}")
	if err != nil {
		return args, fmt.Errorf("resource: %w", err)
	}
	// SQLite has no NaN (it would store NULL) and JSON has no infinities: a duration that is
	// not a finite number is stored as NULL and reads back as 0.
	var duration any
	if !math.IsNaN(r.DurationMS) && !math.IsInf(r.DurationMS, 0) {
		duration = r.DurationMS
	}
	return append(args,
		r.ID, ts, observed, int64(r.Level), r.SeverityText, int64(r.SeverityNumber),
		r.Event, r.Message, tenant, r.UserID, r.Username, r.CompanyID, r.EmployeeID,
		r.ActorID, r.EntityID, r.EntityType, r.IPAddress, r.UserAgent, r.GeoCountry,
		r.GeoCity, r.Method, r.Path, int64(r.StatusCode), duration, r.TraceID, r.SpanID,
		r.ServiceName, r.Scope, tags, attrs, res, recordSearchText(r.Tags, r.Attributes),
	), nil
}

// encodeJSON writes v as compact JSON without HTML escaping, so the stored text is what the
// sender sent (and what a sqlite3 user and the full-text index see). empty stands for nil.
//
// A value JSON cannot represent (a NaN or infinite double from an OTLP attribute) must not
// make the whole batch fail forever, so such values are stored as their string form.
func encodeJSON(v any, empty string) (string, error) {
	switch x := v.(type) {
	case []string:
		if len(x) == 0 {
			return empty, nil
		}
	case map[string]any:
		if len(x) == 0 {
			return empty, nil
		}
	}
	s, err := record.CompactJSON(v)
	if err == nil {
		return s, nil
	}
	return record.CompactJSON(record.FiniteNumbers(v))
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// scanRecord reads one row selected with columnList. Tags, Attributes and Resource are never
// nil, so that an API renders [] and {} rather than null.
func scanRecord(sc rowScanner) (record.Record, error) {
	var (
		r                           record.Record
		ts, observed, level, sevNum int64
		status                      int64
		duration                    sql.NullFloat64
		tags, attrs, res            string
	)
	err := sc.Scan(
		&r.ID, &ts, &observed, &level, &r.SeverityText, &sevNum,
		&r.Event, &r.Message, &r.TenantID, &r.UserID, &r.Username, &r.CompanyID, &r.EmployeeID,
		&r.ActorID, &r.EntityID, &r.EntityType, &r.IPAddress, &r.UserAgent, &r.GeoCountry,
		&r.GeoCity, &r.Method, &r.Path, &status, &duration, &r.TraceID, &r.SpanID,
		&r.ServiceName, &r.Scope, &tags, &attrs, &res,
	)
	if err != nil {
		return record.Record{}, err
	}
	r.Timestamp = decodeTime(ts)
	r.ObservedTimestamp = decodeTime(observed)
	r.Level = record.Level(level)
	r.SeverityNumber = int32(sevNum)
	r.StatusCode = int(status)
	r.DurationMS = duration.Float64
	// A part that does not decode is flagged, not fatal: one bad row must not fail a page.
	r.Tags = []string{}
	if tags != "" && tags != "[]" {
		if err := json.Unmarshal([]byte(tags), &r.Tags); err != nil {
			r.Tags = []string{}
			r.FlagUnreadable("tags", err)
		}
	}
	if r.Attributes, err = record.DecodeObject(attrs); err != nil {
		r.Attributes = map[string]any{}
		r.FlagUnreadable("attributes", err)
	}
	if r.Resource, err = record.DecodeObject(res); err != nil {
		r.Resource = map[string]any{}
		r.FlagUnreadable("resource", err)
	}
	return r, nil
}
