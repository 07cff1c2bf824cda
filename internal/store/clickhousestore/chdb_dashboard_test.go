//go:build chdb

package clickhousestore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// dashboardFile is the Grafana dashboard this repository ships (deploy/grafana).
const dashboardFile = "../../../deploy/grafana/dashboards/otelcol-audit-logs.json"

// dashboardQuery is one SQL query of the dashboard: a panel's target or a variable's query.
type dashboardQuery struct {
	name string // panel title or "variable <name>"
	sql  string
}

// dashboardQueries reads every SQL query of the dashboard file.
func dashboardQueries(t testing.TB) []dashboardQuery {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				RawSQL string `json:"rawSql"`
				Format *int   `json:"format"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash), "dashboard JSON")
	var out []dashboardQuery
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			require.NotEmpty(t, tg.RawSQL, "panel %q: a target without SQL", p.Title)
			require.NotNil(t, tg.Format, "panel %q: the data source needs the target's format", p.Title)
			out = append(out, dashboardQuery{p.Title, tg.RawSQL})
		}
	}
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			RawSQL string `json:"rawSql"`
		}
		require.NoError(t, json.Unmarshal(v.Query, &q), "variable %s: query", v.Name)
		out = append(out, dashboardQuery{"variable " + v.Name, q.RawSQL})
	}
	return out
}

// grafanaRange is the dashboard's time range and interval when a query runs.
type grafanaRange struct {
	from, to time.Time
	interval time.Duration
}

var (
	macroCall   = regexp.MustCompile(`\$__(timeFilter|timeInterval)\(([^)]*)\)`)
	macroPlain  = regexp.MustCompile(`\$__(fromTime|toTime|interval_s)\b`)
	variableRef = regexp.MustCompile(`\$\{(\w+)(?::(\w+))?\}|\$(\w+)`)
)

// interpolate does what Grafana and the ClickHouse data source do to a query before it runs:
// the plugin's macros (as its pkg/macros renders them) and the dashboard's variables, raw or
// in the sqlstring format (quoted, ' doubled). Anything else left with a $ fails the test, so
// a macro or variable this does not know cannot pass unexamined.
func interpolate(t testing.TB, sql string, r grafanaRange, vars map[string]string) string {
	t.Helper()
	dt := func(tm time.Time) string { return fmt.Sprintf("toDateTime(%d)", tm.Unix()) }
	sql = macroCall.ReplaceAllStringFunc(sql, func(m string) string {
		p := macroCall.FindStringSubmatch(m)
		col := strings.TrimSpace(p[2])
		if p[1] == "timeFilter" {
			return fmt.Sprintf("%s >= %s AND %s <= %s", col, dt(r.from), col, dt(r.to))
		}
		return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", col, int(r.interval.Seconds()))
	})
	sql = macroPlain.ReplaceAllStringFunc(sql, func(m string) string {
		switch m {
		case "$__fromTime":
			return dt(r.from)
		case "$__toTime":
			return dt(r.to)
		}
		return fmt.Sprint(int(r.interval.Seconds()))
	})
	sql = variableRef.ReplaceAllStringFunc(sql, func(m string) string {
		p := variableRef.FindStringSubmatch(m)
		name, format := p[1], p[2]
		if name == "" {
			name = p[3]
		}
		v, ok := vars[name]
		require.True(t, ok, "unknown variable %s in %q", m, sql)
		switch format {
		case "":
			return v
		case "sqlstring":
			return "'" + strings.ReplaceAll(v, "'", "''") + "'"
		}
		t.Fatalf("variable format %s not interpolated by this test", m)
		return ""
	})
	require.NotContains(t, sql, "$", "a macro or variable left in %q", sql)
	return sql
}

// runRows runs sql on the engine and returns its rows as column name -> value, decoded by the
// driver's column decoders.
func runRows(t *testing.T, s *Store, sql string) []map[string]any {
	t.Helper()
	blocks, err := s.conn.(*chdbConn).s.queryBlocks(sql)
	require.NoError(t, err, "query %s", sql)
	var out []map[string]any
	for _, b := range blocks {
		for i := 0; i < b.Rows(); i++ {
			row := map[string]any{}
			for _, c := range b.Columns {
				row[c.Name()] = c.Row(i, false)
			}
			out = append(out, row)
		}
	}
	return out
}

func columnOf[T any](rows []map[string]any, name string) []T {
	out := make([]T, 0, len(rows))
	for _, r := range rows {
		out = append(out, r[name].(T))
	}
	return out
}

// dashboardRecords is the data the dashboard is checked on: seven records of acme inside the
// range (every level, three events, three users, one trace over three records), one of acme
// before it and one of globex inside it.
func dashboardRecords(t0 time.Time) []record.Record {
	rec := func(id, tenant string, minute int, l record.Level, event, user, trace string) record.Record {
		return record.Record{
			ID: id, TenantID: tenant, Timestamp: t0.Add(time.Duration(minute)*time.Minute + 7*time.Second), Level: l,
			SeverityText: strings.ToUpper(l.String()), Event: event, Message: event + " by " + user, UserID: user,
			IPAddress: "203.0.113.7", TraceID: trace, SpanID: "span-" + id, ServiceName: "auth", Tags: []string{},
			Attributes: map[string]any{"attempt": int64(1)},
		}
	}
	return []record.Record{
		rec("r1", "acme", 1, record.LevelDebug, "user.login", "u-1", "trace-a"),
		rec("r2", "acme", 2, record.LevelInfo, "user.login", "u-1", "trace-a"),
		rec("r3", "acme", 3, record.LevelInfo, "document.shared", "u-2", ""),
		rec("r4", "acme", 4, record.LevelWarn, "user.login", "u-2", ""),
		rec("r5", "acme", 5, record.LevelError, "document.deleted", "u-1", ""),
		rec("r6", "acme", 6, record.LevelSecurity, "auth.failed", "u-3", "trace-a"),
		rec("r7", "acme", 7, record.LevelSecurity, "auth.failed", "u-3", ""),
		rec("r0", "acme", -60, record.LevelInfo, "user.login", "u-1", "trace-a"),
		rec("g1", "globex", 3, record.LevelInfo, "user.login", "u-1", "trace-a"),
	}
}

// fillDashboardTable inserts dashboardRecords through the store's Insert, then writes r3 a
// second time past Insert's id check (as two collectors replaying it at once could), with
// another Body and a later insert_version: the duplicate sits unmerged in the table.
func fillDashboardTable(t *testing.T, s *Store, t0 time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs := dashboardRecords(t0)
	n, err := s.Insert(ctx, "", recs)
	require.NoError(t, err)
	require.Equal(t, len(recs), n)
	d := dialectOf(t, s)
	dup := recs[2]
	dup.Message = "second write"
	row, _, err := d.encodeRecord(&dup, "acme", insertVersion(time.Now().Add(time.Second)))
	require.NoError(t, err)
	batch, err := s.conn.PrepareBatch(ctx, d.insertSQL())
	require.NoError(t, err)
	require.NoError(t, batch.Append(row...))
	require.NoError(t, batch.Send())
	var raw uint64
	require.NoError(t, s.conn.QueryRow(ctx, "SELECT count() FROM "+d.logs()+" WHERE id = 'r3'").Scan(&raw))
	require.EqualValues(t, 2, raw, "the test needs r3's unmerged duplicate")
}

// Every SQL query of the shipped dashboard runs on a table the store filled, with Grafana's
// macros and variables interpolated, and answers what the panel is meant to show: the
// duplicate row is counted once (the dashboard reads FINAL), security is a level of its own,
// the user filter reads LogAttributes['user.id'], and a variable value with a quote stays a
// value.
//
// It runs on a new table and on one created before modern revision 2, which keeps the sender's
// SeverityText (the level chart reads the level column, so it is right on both).
func TestCHDB_GrafanaDashboardQueriesAnswerOnTheStoresTable(t *testing.T) {
	t.Run("new table", func(t *testing.T) { checkDashboard(t, openCHDBStore(t, nil)) })
	t.Run("revision 1 table", func(t *testing.T) { checkDashboard(t, openCHDBStoreOnRevision1(t)) })
}

func checkDashboard(t *testing.T, s *Store) {
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	fillDashboardTable(t, s, t0)
	d := dialectOf(t, s)
	r := grafanaRange{from: t0, to: t0.Add(time.Hour), interval: time.Minute}
	vars := map[string]string{"table": d.logs(), "tenant": "acme", "user": "", "trace_id": "trace-a"}

	queries := dashboardQueries(t)
	var names []string
	for _, q := range queries {
		names = append(names, q.name)
	}
	slices.Sort(names)
	require.Equal(t, []string{"Audit log", "Records by level", "Top events", "Top users", "Trace lookup", "variable tenant"}, names,
		"every query of the dashboard has its check below")
	sqlOf := map[string]string{}
	for _, q := range queries {
		sqlOf[q.name] = q.sql
	}
	run := func(name string, vars map[string]string) []map[string]any {
		return runRows(t, s, interpolate(t, sqlOf[name], r, vars))
	}
	with := func(k, v string) map[string]string {
		out := map[string]string{}
		for key, val := range vars {
			out[key] = val
		}
		out[k] = v
		return out
	}

	t.Run("variable tenant", func(t *testing.T) {
		assert.Equal(t, []string{"acme", "globex"}, columnOf[string](run("variable tenant", vars), "tenant_id"))
	})
	t.Run("Audit log", func(t *testing.T) {
		rows := run("Audit log", vars)
		assert.Equal(t, []string{"r7", "r6", "r5", "r4", "r3", "r2", "r1"}, columnOf[string](rows, "id"), "acme's records in range, newest first, r3 once")
		rev2 := d.modernRev() >= modernRev2
		for _, row := range rows {
			if rev2 {
				assert.NotEqual(t, "unknown", grafanaLevelOf(row["level"].(string)), "%s: level %q is one Grafana knows", row["id"], row["level"])
			}
			if row["id"] == "r3" {
				assert.Equal(t, "document.shared by u-2", row["body"], "the first write of r3")
			}
			_, isTime := row["timestamp"].(time.Time)
			assert.True(t, isTime, "timestamp is a time for the logs panel")
		}
		if rev2 {
			assert.Equal(t, []string{"FATAL", "FATAL", "ERROR", "WARN", "INFO", "INFO", "DEBUG"}, columnOf[string](rows, "level"))
		} else {
			assert.Equal(t, []string{"SECURITY", "SECURITY", "ERROR", "WARN", "INFO", "INFO", "DEBUG"}, columnOf[string](rows, "level"), "revision 1: the sender's text")
		}
		assert.Equal(t, []string{"r5", "r2", "r1"}, columnOf[string](run("Audit log", with("user", "u-1")), "id"), "user filter on LogAttributes['user.id']")
		assert.Empty(t, run("Audit log", with("user", "o'brien")), "a quote in a variable is part of the value")
		assert.Empty(t, run("Audit log", with("tenant", "initech")), "another tenant sees nothing of acme")
	})
	t.Run("Records by level", func(t *testing.T) {
		rows := run("Records by level", vars)
		total := map[string]uint64{}
		for _, row := range rows {
			total[row["audit_level"].(string)] += row["records"].(uint64)
			tm := row["time"].(time.Time)
			assert.True(t, !tm.Before(t0) && tm.Before(t0.Add(time.Hour)) && tm.Second() == 0, "bucket %s", tm)
		}
		assert.Equal(t, map[string]uint64{"debug": 1, "info": 2, "warn": 1, "error": 1, "security": 2}, total, "records per level, r3 once")
		assert.Len(t, rows, 7, "one bucket per minute with records")
	})
	t.Run("Top events", func(t *testing.T) {
		rows := run("Top events", vars)
		assert.Equal(t, []string{"user.login", "auth.failed", "document.deleted", "document.shared"}, columnOf[string](rows, "event"))
		assert.Equal(t, []uint64{3, 2, 1, 1}, columnOf[uint64](rows, "records"))
	})
	t.Run("Top users", func(t *testing.T) {
		rows := run("Top users", vars)
		assert.Equal(t, []string{"u-1", "u-2", "u-3"}, columnOf[string](rows, "user"))
		assert.Equal(t, []uint64{3, 2, 2}, columnOf[uint64](rows, "records"))
		assert.Equal(t, []uint64{0, 0, 2}, columnOf[uint64](rows, "security"))
	})
	t.Run("Trace lookup", func(t *testing.T) {
		rows := run("Trace lookup", vars)
		assert.Equal(t, []string{"r0", "r1", "r2", "r6"}, columnOf[string](rows, "id"), "acme's records of the trace, oldest first, any time")
		if d.modernRev() >= modernRev2 {
			assert.Equal(t, []string{"INFO", "DEBUG", "INFO", "FATAL"}, columnOf[string](rows, "SeverityText"))
		}
		assert.Empty(t, run("Trace lookup", with("trace_id", "no-such-trace")))
	})
}

// Grafana's own log view and query builder do not write FINAL: there an unmerged duplicate is
// seen twice. A reader whose ClickHouse user has the setting final = 1 (ClickHouse 23.2+)
// gets FINAL on every query without writing it, which is what deploy/grafana/README.md
// recommends for the data source's user.
func TestCHDB_GrafanaQueriesWithoutFinalSeeADuplicateUnlessTheUserHasFinalSet(t *testing.T) {
	s := openCHDBStore(t, nil)
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	fillDashboardTable(t, s, t0)
	d := dialectOf(t, s)
	// The shape of the plugin's logs query builder: no FINAL.
	builder := "SELECT Timestamp AS timestamp, Body AS body, SeverityText AS level FROM " + d.logs() +
		" WHERE Timestamp >= toDateTime(" + fmt.Sprint(t0.Unix()) + ") AND LogAttributes['tenant.id'] = 'acme' AND LogAttributes['event.name'] = 'document.shared'"
	assert.Len(t, runRows(t, s, builder), 2, "without FINAL the unmerged duplicate is a second row")
	rows := runRows(t, s, builder+" SETTINGS final = 1")
	if assert.Len(t, rows, 1, "final = 1 reads as FINAL") {
		assert.Equal(t, "document.shared by u-2", rows[0]["body"], "the first write")
	}
}
