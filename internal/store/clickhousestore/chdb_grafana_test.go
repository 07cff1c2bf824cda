//go:build chdb

package clickhousestore

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// grafanaLevels are the SeverityText values Grafana's ClickHouse data source counts per level
// in its log volume (the plugin's LOG_LEVEL_TO_IN_CLAUSE: each name in lower, UPPER and
// Capitalised case); any other text is "unknown".
var grafanaLevels = map[string][]string{
	"critical": {"critical", "fatal", "crit", "alert", "emerg"},
	"error":    {"error", "err", "eror"},
	"warn":     {"warn", "warning"},
	"info":     {"info", "information", "informational"},
	"debug":    {"debug", "dbug"},
	"trace":    {"trace"},
}

// grafanaLevelOf is the level Grafana shows for a SeverityText.
func grafanaLevelOf(text string) string {
	for level, names := range grafanaLevels {
		for _, n := range names {
			if text == n || text == strings.ToUpper(n) || text == strings.ToUpper(n[:1])+n[1:] {
				return level
			}
		}
	}
	return "unknown"
}

// levelRecords is one full record per audit level, each with the sender's own severity (the
// security one as SDK bridges send it: text SECURITY, no number).
func levelRecords(ts time.Time) []record.Record {
	var out []record.Record
	for i, l := range record.Levels {
		r := storetest.FullRecord(fmt.Sprintf("lvl-%d", i), "acme", ts.Add(time.Duration(i)*time.Second))
		r.Level = l
		r.SeverityText = strings.ToUpper(l.String())
		r.SeverityNumber = int32(1 + 4*i)
		if l == record.LevelSecurity {
			r.SeverityNumber = 0
		}
		out = append(out, r)
	}
	return out
}

// Issue 18: on a new modern table every audit level has a SeverityText and SeverityNumber that
// Grafana maps to a level of its own (security as critical, in the FATAL range), SeverityNumber
// is otel_logs' UInt8, the audit fields are LogAttributes keys, and Body has otel_logs' token
// index; the record's own severity still reads back unchanged.
func TestCHDB_NewModernTableIsReadableAsOtelLogsByGrafana(t *testing.T) {
	s := openCHDBStore(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ts := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	recs := levelRecords(ts)
	n, err := s.Insert(ctx, "acme", recs)
	require.NoError(t, err)
	require.Equal(t, len(recs), n)
	d := dialectOf(t, s)

	var sevType string
	require.NoError(t, s.conn.QueryRow(ctx, "SELECT toTypeName(SeverityNumber) FROM "+d.logs()+" LIMIT 1").Scan(&sevType))
	assert.Equal(t, "UInt8", sevType, "SeverityNumber as otel_logs has it")
	var idx uint64
	require.NoError(t, s.conn.QueryRow(ctx, "SELECT count() FROM system.data_skipping_indices WHERE database = "+quoteString(d.db)+
		" AND table = "+quoteString(d.table)+" AND name = 'idx_body' AND expr = 'Body' AND type = 'tokenbf_v1'").Scan(&idx))
	assert.EqualValues(t, 1, idx, "idx_body tokenbf_v1 on Body")

	want := map[record.Level]struct {
		grafana string
		lo, hi  uint8
	}{
		record.LevelDebug:    {"debug", 5, 8},
		record.LevelInfo:     {"info", 9, 12},
		record.LevelWarn:     {"warn", 13, 16},
		record.LevelError:    {"error", 17, 20},
		record.LevelSecurity: {"critical", 21, 24},
	}
	for _, r := range recs {
		var (
			text                           string
			num                            uint8
			level                          uint8
			user, tenant, addr, audLevel   string
			event, entity, status, country string
		)
		require.NoError(t, s.conn.QueryRow(ctx, "SELECT SeverityText, SeverityNumber, level, LogAttributes['user.id'], LogAttributes['tenant.id'], "+
			"LogAttributes['client.address'], LogAttributes['audit.level'], LogAttributes['event.name'], LogAttributes['audit.entity_id'], "+
			"LogAttributes['http.response.status_code'], LogAttributes['geo.country.iso_code'] FROM "+d.logs()+" WHERE id = "+quoteString(r.ID)).
			Scan(&text, &num, &level, &user, &tenant, &addr, &audLevel, &event, &entity, &status, &country))
		w := want[r.Level]
		assert.Equal(t, w.grafana, grafanaLevelOf(text), "%s: Grafana's level of SeverityText %q", r.Level, text)
		assert.True(t, num >= w.lo && num <= w.hi, "%s: SeverityNumber %d, want %d-%d", r.Level, num, w.lo, w.hi)
		assert.EqualValues(t, r.Level, level, "the audit level keeps its own column")
		assert.Equal(t, []string{r.UserID, "acme", r.IPAddress, r.Level.String(), r.Event, r.EntityID, "201", "DE"},
			[]string{user, tenant, addr, audLevel, event, entity, status, country}, "%s: audit fields as LogAttributes keys", r.ID)

		got, err := s.Get(ctx, "acme", r.ID)
		require.NoError(t, err)
		assert.Equal(t, r.SeverityText, got.SeverityText, "%s: the record's own severity text reads back", r.ID)
		assert.Equal(t, r.SeverityNumber, got.SeverityNumber, "%s: the record's own severity number reads back", r.ID)
		assert.Equal(t, r.Attributes["share.count"], got.Attributes["share.count"], "%s: attributes read back from their JSON", r.ID)
		_, leaked := got.Attributes["user.id"]
		assert.False(t, leaked, "%s: the LogAttributes copies of audit fields are not added to the record's attributes", r.ID)
	}
}

// openCHDBStoreOnRevision1 creates the tables with the modern DDL as first shipped
// (testdata/modern-rev1-ddl.sql, revision 1: SeverityNumber Int32 holding the record's
// severity, no severity_text, no idx_body) and the schema row that binary wrote, then opens a
// store of this binary on them.
func openCHDBStoreOnRevision1(t *testing.T) *Store {
	t.Helper()
	sess, err := sharedCHDB()
	require.NoError(t, err, "chDB engine")
	db := fmt.Sprintf("audit_chdb_%d_%d", os.Getpid(), testDatabases.Add(1))
	t.Cleanup(func() {
		_, err := sess.exec("DROP DATABASE IF EXISTS `" + db + "`")
		assert.NoErrorf(t, err, "drop test database %s", db)
	})
	ddl, err := os.ReadFile("testdata/modern-rev1-ddl.sql")
	require.NoError(t, err)
	for _, stmt := range strings.Split(strings.TrimSuffix(string(ddl), ";\n"), ";\n\n") {
		_, err := sess.exec(strings.ReplaceAll(stmt, "`otel`", "`"+db+"`"))
		require.NoError(t, err, "revision 1 DDL: %s", firstLine(stmt))
	}
	old := dialect{mode: modeModern, rev: modernRev1, db: db, table: DefaultConfig().Table}
	_, err = sess.exec(old.recordVersionSQL() + " VALUES (2, 'modern', now())")
	require.NoError(t, err, "the schema row revision 1 wrote")
	s := openCHDBStore(t, func(c *Config) { c.Database = db })
	require.Equal(t, modernRev1, dialectOf(t, s).modernRev(), "an existing table keeps its revision")
	return s
}

// A modern table created before revision 2 keeps its layout: this binary writes and reads it
// as revision 1 (the whole store contract and the chain), leaves its recorded layout alone, and
// still gives Grafana the audit fields as LogAttributes keys on the rows it writes.
func TestStore_ModernRevision1TableStillWorksOnChDB(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openCHDBStoreOnRevision1(t) })
	storetest.RunChain(t, func(t *testing.T) store.ChainStore { return openCHDBStoreOnRevision1(t) }, chTamper{})

	s := openCHDBStoreOnRevision1(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs := levelRecords(time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC))
	_, err := s.Insert(ctx, "acme", recs)
	require.NoError(t, err)
	d := dialectOf(t, s)
	var sevType, layout, text, user string
	var num int32
	require.NoError(t, s.conn.QueryRow(ctx, "SELECT toTypeName(SeverityNumber), SeverityText, SeverityNumber, LogAttributes['user.id'] FROM "+
		d.logs()+" WHERE id = "+quoteString(recs[4].ID)).Scan(&sevType, &text, &num, &user))
	assert.Equal(t, "Int32", sevType, "revision 1 keeps SeverityNumber Int32")
	assert.Equal(t, []any{"SECURITY", int32(0), recs[4].UserID}, []any{text, num, user}, "revision 1 rows: the record's severity, audit fields in LogAttributes")
	require.NoError(t, s.conn.QueryRow(ctx, "SELECT mode FROM "+d.meta()+" ORDER BY version DESC LIMIT 1").Scan(&layout))
	assert.Equal(t, "modern", layout, "recorded layout unchanged")
	require.NoError(t, s.Migrate(ctx), "Migrate on a revision 1 table")
	assert.Equal(t, modernRev1, dialectOf(t, s).modernRev())
}

// A table recorded with a revision this binary does not know is refused at Open, as a newer
// schema version is: an older binary would write rows the newer layout reads wrong.
func TestCHDB_UnknownModernRevisionIsRefused(t *testing.T) {
	_, _, ok := parseMode("modern.3")
	assert.False(t, ok, "modern.3 is unknown")
	m, rev, ok := parseMode((dialect{mode: modeModern}).layoutName())
	assert.True(t, ok)
	assert.Equal(t, []any{modeModern, currentModernRev}, []any{m, rev}, "the current layout name reads back as itself")
}
