package storetest

import (
	"fmt"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// base is the first fixture timestamp. It has nanoseconds so that a store keeping only
// micro- or milliseconds fails the round-trip test.
var base = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

// at is base plus n minutes.
func at(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }

// FullRecord returns a record with every field set, including nested attribute values, an
// int64 beyond float64's exact range and characters JSON encoders like to escape.
func FullRecord(id, tenant string, ts time.Time) record.Record {
	return record.Record{
		ID:                id,
		Timestamp:         ts,
		ObservedTimestamp: ts.Add(1500 * time.Nanosecond),
		Level:             record.LevelWarn,
		SeverityText:      "WARN",
		SeverityNumber:    13,
		Event:             "document.shared",
		Message:           "Document shared with an external address <bob@example.org> & co",
		TenantID:          tenant,
		UserID:            "u-1001",
		Username:          "alice",
		CompanyID:         "c-7",
		EmployeeID:        "e-42",
		ActorID:           "u-1001",
		EntityID:          "doc-9",
		EntityType:        "document",
		IPAddress:         "203.0.113.7",
		UserAgent:         "Mozilla/5.0 (X11; Linux x86_64)",
		GeoCountry:        "DE",
		GeoCity:           "Berlin",
		Method:            "POST",
		Path:              "/api/documents/doc-9/share",
		StatusCode:        201,
		DurationMS:        12.75,
		TraceID:           "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:            "00f067aa0ba902b7",
		ServiceName:       "documents",
		Scope:             "server",
		Tags:              []string{"sharing", "external"},
		Attributes: map[string]any{
			"share.recipient": "bob@example.org",
			"share.count":     int64(3),
			"share.ratio":     0.25,
			"share.notify":    true,
			"share.big":       int64(1<<62 + 1),
			"share.note":      "quotes \" and <tags> & ünïcödé",
			"share.policy": map[string]any{
				"name":  "external",
				"rules": []any{"no-download", int64(2), false, 1.5},
			},
		},
		Resource: map[string]any{
			"service.name": "documents",
			"host.name":    "web-1",
			"process.pid":  int64(4242),
		},
	}
}

// simpleRecords returns n minimal records of tenant, with ids prefix-0000... and timestamps
// base + i*step.
func simpleRecords(prefix, tenant string, n int, step time.Duration) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		ts := base.Add(time.Duration(i) * step)
		out[i] = record.Record{
			ID:                fmt.Sprintf("%s-%05d", prefix, i),
			Timestamp:         ts,
			ObservedTimestamp: ts,
			Level:             record.LevelInfo,
			Event:             "user.login",
			Message:           fmt.Sprintf("record %d", i),
			TenantID:          tenant,
		}
	}
	return out
}

// filterFixture is the data set of the filter table: acme has r01 to r08, globex has r09,
// one minute apart, r01 the oldest.
func filterFixture() []record.Record {
	type spec struct {
		id, tenant         string
		level              record.Level
		event, user, actor string
		entity, trace, ip  string
		message            string
		attributes         map[string]any
	}
	const (
		t1 = "0af7651916cd43dd8448eb211c80319c"
		t2 = "5b8efff798038103d269b633813fc60c"
	)
	specs := []spec{
		{"r01", "acme", record.LevelInfo, "user.login", "u1", "u1", "", "", "10.0.0.1", "login succeeded", nil},
		{"r02", "acme", record.LevelWarn, "user.login", "u2", "u2", "", "", "10.0.0.2", "login failed: wrong password", map[string]any{"reason": "password expired"}},
		{"r03", "acme", record.LevelError, "document.delete", "u1", "admin-1", "doc-1", t1, "10.0.0.1", "document deleted", nil},
		{"r04", "acme", record.LevelSecurity, "user.login", "u3", "u3", "", t1, "198.51.100.9", "login failed from unknown network", map[string]any{"geo.risk": "high"}},
		{"r05", "acme", record.LevelDebug, "cache.refresh", "", "", "", "", "", "cache refreshed", nil},
		{"r06", "acme", record.LevelInfo, "document.view", "u2", "u2", "doc-1", t2, "10.0.0.2", "document viewed", map[string]any{"share.recipient": "carol@example.com"}},
		{"r07", "acme", record.LevelInfo, "user.logout", "u1", "u1", "", "", "10.0.0.1", "logout", nil},
		{"r08", "acme", record.LevelWarn, "document.delete", "u2", "u2", "doc-2", t2, "10.0.0.2", "document delete refused", nil},
		{"r09", "globex", record.LevelError, "user.login", "u1", "u1", "doc-1", t1, "10.0.0.1", "login failed for globex", nil},
	}
	// The fields the replaced libraries filtered on besides the ones above, one line per
	// record, in the order of specs.
	type who struct {
		company, employee, entityType, scope, service string
		tags                                          []string
	}
	whos := []who{
		{"c1", "e1", "", "auth", "web", []string{"login"}},
		{"c1", "e2", "", "auth", "web", []string{"login", "failure"}},
		{"c2", "e1", "document", "db", "docs", []string{"deletion"}},
		{"c1", "", "", "auth", "web", []string{"login", "failure", "risky"}},
		{"", "", "", "server", "cache", nil},
		{"c2", "e2", "document", "server", "docs", []string{"sharing"}},
		{"c1", "e1", "", "auth", "web", []string{"logout"}},
		{"c2", "e2", "document", "db", "docs", []string{"deletion", "failure"}},
		{"c1", "e1", "document", "auth", "web", []string{"login", "failure"}},
	}
	out := make([]record.Record, len(specs))
	for i, s := range specs {
		w := whos[i]
		out[i] = record.Record{
			ID: s.id, Timestamp: at(i), ObservedTimestamp: at(i), Level: s.level,
			Event: s.event, Message: s.message, TenantID: s.tenant, UserID: s.user,
			ActorID: s.actor, EntityID: s.entity, TraceID: s.trace, IPAddress: s.ip,
			Attributes: s.attributes,
			CompanyID:  w.company, EmployeeID: w.employee, EntityType: w.entityType,
			Scope: w.scope, ServiceName: w.service, Tags: w.tags,
		}
	}
	return out
}
