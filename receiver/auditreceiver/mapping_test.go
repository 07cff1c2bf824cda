package auditreceiver

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// TestMapping_EventsMapBackToRecords proves the contract with the exporter: what this receiver
// produces goes through record.DefaultMapping().FromLogs into the fields the sender meant, with no
// special case in the mapping.
func TestMapping_EventsMapBackToRecords(t *testing.T) {
	sink := new(consumertest.LogsSink)
	srv := startServer(t, sink, func(c *Config) { c.TrustedProxies = []string{"127.0.0.1"} })

	r := srv.post(t, "application/x-ndjson",
		`{"id":"evt-1","action":"course.deleted","level":"security","occurred_at":"2024-05-06T07:08:09.5Z",`+
			`"tenant_id":"acme","actor_id":"admin-7","user_id":"u-1","username":"ada","entity_type":"course","entity_id":"c-42",`+
			`"company_id":"co-1","employee_id":"e-9","service":"lms","message":"course 42 deleted",`+
			`"old_values":{"title":"Go 101"},"new_values":{"title":null},"metadata":{"ticket":"T-1"},"tags":["gdpr"],`+
			`"method":"DELETE","path":"/courses/42","status_code":204,"duration_ms":12.5,`+
			`"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331"}`+"\n"+
			`{"action":"user.login","level":"warn","user_id":"u-2"}`+"\n"+
			`{"action":"job.failed","level":"error"}`+"\n"+
			`{"action":"cache.miss","level":"debug"}`+"\n",
		"User-Agent", "billing-cron/2.3", "X-Forwarded-For", "198.51.100.23")
	require.Equal(t, http.StatusAccepted, r.status, r.raw)
	ids := r.ids()

	var got []record.Record
	for _, ld := range sink.AllLogs() {
		got = append(got, record.DefaultMapping().FromLogs(ld, "", time.Now())...)
	}
	require.Len(t, got, 4)
	byEvent := make(map[string]record.Record, len(got))
	for _, rec := range got {
		byEvent[rec.Event] = rec
	}

	full := byEvent["course.deleted"]
	assert.Equal(t, "evt-1", full.ID)
	assert.Equal(t, ids[0], full.ID)
	assert.Equal(t, record.LevelSecurity, full.Level)
	assert.Equal(t, "course.deleted", full.Event)
	assert.Equal(t, "course 42 deleted", full.Message)
	assert.Equal(t, "acme", full.TenantID)
	assert.Equal(t, "u-1", full.UserID)
	assert.Equal(t, "ada", full.Username)
	assert.Equal(t, "admin-7", full.ActorID)
	assert.Equal(t, "c-42", full.EntityID)
	assert.Equal(t, "course", full.EntityType)
	assert.Equal(t, "co-1", full.CompanyID)
	assert.Equal(t, "e-9", full.EmployeeID)
	assert.Equal(t, "198.51.100.23", full.IPAddress)
	assert.Equal(t, "billing-cron/2.3", full.UserAgent)
	assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", full.TraceID)
	assert.Equal(t, "b7ad6b7169203331", full.SpanID)
	assert.Equal(t, "lms", full.ServiceName)
	assert.Equal(t, "DELETE", full.Method)
	assert.Equal(t, "/courses/42", full.Path)
	assert.Equal(t, 204, full.StatusCode)
	assert.InDelta(t, 12.5, full.DurationMS, 0)
	assert.Equal(t, []string{"gdpr"}, full.Tags)
	assert.Equal(t, time.Date(2024, 5, 6, 7, 8, 9, 5e8, time.UTC), full.Timestamp)
	assert.Equal(t, map[string]any{
		attrOldValues:     map[string]any{"title": "Go 101"},
		attrNewValues:     map[string]any{"title": nil},
		"metadata.ticket": "T-1",
	}, full.Attributes, "only what has no column stays in attributes; the level attribute became the level")

	login := byEvent["user.login"]
	assert.Equal(t, record.LevelWarn, login.Level)
	assert.Equal(t, "u-2", login.ActorID, "the mapping's actor default (the user) applies")
	assert.Equal(t, record.DefaultTenant, login.TenantID, "without tenant_id the mapping's fallback applies")
	assert.Equal(t, ids[1], login.ID)
	assert.Equal(t, record.LevelError, byEvent["job.failed"].Level)
	assert.Equal(t, record.LevelDebug, byEvent["cache.miss"].Level)
}

// TestMapping_SeverityAloneYieldsTheLevel guards the choice of severity numbers: a record that
// lost its audit.level attribute (a processor dropped it) still maps to the same level.
func TestMapping_SeverityAloneYieldsTheLevel(t *testing.T) {
	for _, lvl := range record.Levels {
		t.Run(lvl.String(), func(t *testing.T) {
			ev := event{action: "a", level: lvl}
			ld, _ := buildLogs([]event{ev}, clientContext{}, time.Now())
			lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
			lr.Attributes().Remove(record.AttrLevel)
			assert.Equal(t, lvl, record.LevelFromSeverity(int32(lr.SeverityNumber()), lr.SeverityText()))
			assert.Equal(t, lvl, record.DefaultMapping().FromLogs(ld, "", time.Now())[0].Level)
		})
	}
}
