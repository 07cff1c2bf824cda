package sqlitestore

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// queryPlan returns EXPLAIN QUERY PLAN's detail lines for query, joined by " | ".
func queryPlan(t *testing.T, s *Store, query string, args []any) string {
	t.Helper()
	rows, err := s.read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	require.NoErrorf(t, err, "EXPLAIN QUERY PLAN %s", query)
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail), "scan plan")
		lines = append(lines, detail)
	}
	require.NoError(t, rows.Err(), "plan rows")
	return strings.Join(lines, " | ")
}

// The API's queries must read one page's rows from an index already in (timestamp, id) order:
// a plan that sorts ("USE TEMP B-TREE FOR ORDER BY") reads every match before returning the
// first page, which on an audit table of millions of rows is the difference between
// milliseconds and seconds.
//
// The plans are checked twice: on a new file (no planner statistics) and on a file holding the
// statistics ANALYZE wrote for the 1M-row benchmark file, because Open and Prune run PRAGMA
// optimize and the planner then weighs indexes by them.
func TestQueryPlans_UseAnIndexInPageOrder(t *testing.T) {
	t.Run("without statistics", func(t *testing.T) { checkQueryPlans(t, openTemp(t)) })
	t.Run("with the statistics of a 1M-row table", func(t *testing.T) { checkQueryPlans(t, openWithMillionRowStats(t)) })
}

// millionRowStats are sqlite_stat1's rows for audit_logs as ANALYZE (analysis_limit 1000)
// wrote them on BenchmarkQuery1M's file: 4 tenants, 500 users, 8 events, half the rows in a
// trace.
var millionRowStats = [][2]string{
	{"audit_logs_time", "1000000 1 1 1 1 1 1"},
	{"audit_logs_tenant_time", "1000000 250000 1 1 1 1 1"},
	{"audit_logs_ip", "1000000 4 1 1"},
	{"audit_logs_trace", "500176 1 1 1"},
	{"audit_logs_tenant_event_time", "1000000 250000 31250 1 1"},
	{"audit_logs_tenant_user_time", "1000000 250000 500 1 1"},
	{"sqlite_autoindex_audit_logs_1", "1000000 1"},
}

// openWithMillionRowStats opens a new file whose sqlite_stat1 holds millionRowStats, loaded
// into every connection. (Reopening would not do: Open's PRAGMA optimize would find the
// statistics stale for an empty table and analyze it again.)
func openWithMillionRowStats(t *testing.T) *Store {
	t.Helper()
	s := openTemp(t)
	_, err := s.write.Exec(`ANALYZE`) // creates sqlite_stat1
	require.NoError(t, err)
	_, err = s.write.Exec(`DELETE FROM sqlite_stat1 WHERE tbl = 'audit_logs'`)
	require.NoError(t, err)
	for _, st := range millionRowStats {
		_, err := s.write.Exec(`INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('audit_logs', ?, ?)`, st[0], st[1])
		require.NoError(t, err)
	}
	// ANALYZE sqlite_schema makes a connection reread the statistics; every reader of the
	// pool is held at once so that each one does.
	conns := make([]*sql.Conn, readConnections())
	for i := range conns {
		c, err := s.read.Conn(context.Background())
		require.NoError(t, err)
		conns[i] = c
		// query_only refuses ANALYZE even in this form, which writes nothing.
		for _, stmt := range []string{`PRAGMA query_only = 0`, `ANALYZE sqlite_schema`, `PRAGMA query_only = 1`} {
			_, err := c.ExecContext(context.Background(), stmt)
			require.NoError(t, err, "reload statistics on reader %d: %s", i, stmt)
		}
	}
	for _, c := range conns {
		_ = c.Close()
	}
	return s
}

func checkQueryPlans(t *testing.T, s *Store) {
	cursor := store.Cursor{TimestampNanos: time.Now().UnixNano(), ID: "x"}.Encode()
	tests := []struct {
		name      string
		filter    store.Filter
		wantIndex string
	}{
		{"a tenant's listing walks the tenant time index", store.Filter{TenantID: "acme"}, "audit_logs_tenant_time"},
		{"an admin's listing walks the time index", store.Filter{}, "audit_logs_time"},
		{"a tenant's time window walks the tenant time index", store.Filter{TenantID: "acme", Start: time.Now().Add(-time.Hour), End: time.Now()}, "audit_logs_tenant_time"},
		{"a user filter walks the tenant user index", store.Filter{TenantID: "acme", UserID: "u1"}, "audit_logs_tenant_user_time"},
		{"an event filter walks the tenant event index", store.Filter{TenantID: "acme", Event: "user.login"}, "audit_logs_tenant_event_time"},
		{"a trace filter walks the partial trace index", store.Filter{TenantID: "acme", TraceID: "abc"}, "audit_logs_trace"},
		{"an ip filter walks the partial ip index", store.Filter{IP: "10.0.0.1"}, "audit_logs_ip"},
		{"a company filter walks the partial company index", store.Filter{TenantID: "acme", CompanyID: "c1"}, "audit_logs_company"},
		{"an admin's company filter walks the partial company index", store.Filter{CompanyID: "c1"}, "audit_logs_company"},
		{"scope, service, entity type and tag filters walk the tenant time index and filter",
			store.Filter{TenantID: "acme", Scope: "db", ServiceName: "billing", EntityType: "invoice", EmployeeID: "e1", Tags: []string{"pci", "eu"}}, "audit_logs_tenant_time"},
		{"a level filter walks the tenant time index and filters", store.Filter{TenantID: "acme", Levels: []record.Level{record.LevelError, record.LevelSecurity}}, "audit_logs_tenant_time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			query, args, err := buildQuery(tc.filter, "", false, store.Page{Cursor: cursor}, nil)
			require.NoError(t, err, "buildQuery")
			plan := queryPlan(t, s, query, args)
			assert.Contains(t, plan, "INDEX "+tc.wantIndex+" ", "plan does not use %s", tc.wantIndex)
			assert.NotContains(t, plan, "TEMP B-TREE", "plan sorts")
		})
	}

	t.Run("a trace is read from the partial trace index in order", func(t *testing.T) {
		plan := queryPlan(t, s, traceRecordsForTenant, []any{"abc", "acme"})
		assert.Contains(t, plan, "INDEX audit_logs_trace ", "trace plan")
		assert.NotContains(t, plan, "TEMP B-TREE", "trace plan")
	})
	t.Run("a record is found by its unique id", func(t *testing.T) {
		plan := queryPlan(t, s, getByIDAndTenant, []any{"id", "acme"})
		assert.Contains(t, plan, "sqlite_autoindex_audit_logs_1", "get plan")
	})
	t.Run("a common word is checked while walking the tenant time index", func(t *testing.T) {
		query, args, err := buildQuery(store.Filter{TenantID: "acme"}, `"login"`, false, store.Page{Cursor: cursor}, nil)
		require.NoError(t, err, "buildQuery")
		plan := queryPlan(t, s, query, args)
		assert.Contains(t, plan, "INDEX audit_logs_tenant_time ", "common-word plan")
		assert.NotContains(t, plan, "TEMP B-TREE", "common-word plan")
	})
	t.Run("a rare word drives the join from its matches", func(t *testing.T) {
		query, args, err := buildQuery(store.Filter{TenantID: "acme"}, `"login"`, true, store.Page{Cursor: cursor}, nil)
		require.NoError(t, err, "buildQuery")
		plan := queryPlan(t, s, query, args)
		scanHits := strings.Index(plan, "SCAN hits")
		lookup := strings.Index(plan, "SEARCH audit_logs USING INTEGER PRIMARY KEY")
		assert.GreaterOrEqual(t, scanHits, 0, "rare-word plan does not scan the matches: %s", plan)
		assert.GreaterOrEqual(t, lookup, scanHits, "rare-word plan does not look rows up from the matches: %s", plan)
	})
}
