package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// versions lists schema_version's rows.
func versions(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.Query(`SELECT version FROM schema_version ORDER BY version`)
	require.NoError(t, err, "read schema_version")
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		require.NoError(t, rows.Scan(&v))
		out = append(out, v)
	}
	return out
}

// openRaw opens path as a writer without migrating, as another binary version would.
func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Path = path
	db, _, err := openPool(context.Background(), cfg.dsn(false), 1)
	require.NoErrorf(t, err, "open %s", path)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func hasColumn(t *testing.T, db *sql.DB, table, column string) bool {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, table, column).Scan(&n))
	return n == 1
}

// allVersions is [1 2 ... SchemaVersion()].
func allVersions() []int {
	out := make([]int, SchemaVersion())
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestMigrate_ANewFileIsAtTheLatestVersion(t *testing.T) {
	s := openTemp(t)
	assert.Equal(t, allVersions(), versions(t, s.write), "schema_version")
	assert.Equal(t, len(migrations), SchemaVersion(), "SchemaVersion()")
	for i, m := range migrations {
		assert.Equal(t, i+1, m.version, "migrations[%d].version: versions must be consecutive", i)
	}
}

func TestMigrate_ReopeningAFileAppliesNothingTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	cfg := DefaultConfig()
	cfg.Path = path
	for i := 0; i < 3; i++ {
		s, err := Open(context.Background(), cfg)
		require.NoErrorf(t, err, "Open #%d", i+1)
		require.NoError(t, s.Close())
	}
	assert.Equal(t, allVersions(), versions(t, openRaw(t, path)), "after three opens schema_version")
}

// A file written by this binary is upgraded by a later one: the test plays the later binary
// by appending a version N+1 to the list.
func TestMigrate_UpgradesAFileAndKeepsItsRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	cfg := DefaultConfig()
	cfg.Path = path
	s, err := Open(context.Background(), cfg)
	require.NoError(t, err)
	rec := record.Record{ID: "kept", Timestamp: time.Now(), Level: record.LevelInfo, Message: "written at v1"}
	_, err = s.Insert(context.Background(), "acme", []record.Record{rec})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	next := SchemaVersion() + 1
	v2 := append(slices.Clone(migrations), migration{version: next, steps: []string{
		`ALTER TABLE audit_logs ADD COLUMN region TEXT NOT NULL DEFAULT ''`,
		`CREATE INDEX audit_logs_region ON audit_logs (region)`,
	}})
	db := openRaw(t, path)
	require.NoErrorf(t, migrate(context.Background(), db, v2), "migrate to v%d", next)
	assert.Equal(t, append(allVersions(), next), versions(t, db), "schema_version")
	assert.True(t, hasColumn(t, db, "audit_logs", "region"), "the v2 column is missing")
	var msg string
	if assert.NoError(t, db.QueryRow(`SELECT message FROM audit_logs WHERE id = 'kept'`).Scan(&msg), "the v1 record after the upgrade") {
		assert.Equal(t, "written at v1", msg, "the v1 record after the upgrade")
	}
	require.NoErrorf(t, migrate(context.Background(), db, v2), "migrate to v%d again", next)
	assert.Equal(t, append(allVersions(), next), versions(t, db), "a second migrate changed schema_version")
}

func TestMigrate_AFailedStepLeavesTheVersionAndSchemaUntouched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	s := openAt(t, path)
	_ = s.Close()

	broken := append(slices.Clone(migrations), migration{version: SchemaVersion() + 1, steps: []string{
		`ALTER TABLE audit_logs ADD COLUMN region TEXT NOT NULL DEFAULT ''`,
		`CREATE INDEX broken ON no_such_table (x)`,
	}})
	db := openRaw(t, path)
	err := migrate(context.Background(), db, broken)
	require.Error(t, err, "a failing migration reported success")
	assert.Equal(t, allVersions(), versions(t, db), "schema_version after a failed step")
	assert.False(t, hasColumn(t, db, "audit_logs", "region"), "the first step of the failed migration was kept")
}

func TestMigrate_RefusesADatabaseFromANewerBinary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	s := openAt(t, path)
	_ = s.Close()
	db := openRaw(t, path)
	_, err := db.Exec(insertSchemaVersion, len(migrations)+1, time.Now().UnixNano())
	require.NoError(t, err)
	_ = db.Close()

	cfg := DefaultConfig()
	cfg.Path = path
	_, err = Open(context.Background(), cfg)
	require.ErrorIs(t, err, ErrSchemaTooNew, "Open")
	want := fmt.Sprintf("sqlitestore: database schema version %d is newer than this binary supports (%d); upgrade otelcol-audit", len(migrations)+1, SchemaVersion())
	assert.EqualError(t, err, want)
}

func TestMigrate_RefusesAFileThatHoldsSomethingElse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openRaw(t, path)
	_, err := db.Exec(`CREATE TABLE audit_logs (x INTEGER)`)
	require.NoError(t, err)
	_ = db.Close()
	cfg := DefaultConfig()
	cfg.Path = path
	_, err = Open(context.Background(), cfg)
	require.Error(t, err, "Open migrated over a foreign audit_logs table")
}

func openAt(t *testing.T, path string) *Store {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Path = path
	s, err := Open(context.Background(), cfg)
	require.NoErrorf(t, err, "Open(%s)", path)
	return s
}

// indexColumns lists an index's columns in order.
func indexColumns(t *testing.T, db *sql.DB, index string) []string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`, index)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		require.NoError(t, rows.Scan(&c))
		out = append(out, c)
	}
	return out
}

// A file left at version 1 by the first release reaches version 2 at Open: its time indexes
// carry the columns Stats reads, and its records are kept.
func TestMigrate_Version2WidensTheTimeIndexesOfAV1File(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openRaw(t, path)
	require.NoError(t, migrate(context.Background(), db, migrations[:1]))
	_, err := db.Exec(`INSERT INTO audit_logs (id, timestamp, observed_timestamp, level, tenant_id) VALUES ('v1-row', 1, 1, 2, 'acme')`)
	require.NoError(t, err)
	_ = db.Close()

	s := openAt(t, path)
	defer s.Close()
	assert.Equal(t, allVersions(), versions(t, s.write), "schema_version")
	for index, want := range map[string][]string{
		"audit_logs_tenant_time": {"tenant_id", "timestamp", "id", "level", "event", "user_id"},
		"audit_logs_time":        {"timestamp", "id", "level", "event", "user_id", "tenant_id"},
	} {
		assert.Equal(t, want, indexColumns(t, s.write, index), "%s columns", index)
	}
	_, err = s.Get(context.Background(), "acme", "v1-row")
	assert.NoError(t, err, "the v1 record after the upgrade")
}

func TestMigrate_Version4StartsTheChainAfterTheRecordsItFinds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openRaw(t, path)
	require.NoError(t, migrate(context.Background(), db, migrations[:3]))
	_, err := db.Exec(`INSERT INTO audit_logs (id, timestamp, observed_timestamp, level, tenant_id) VALUES ('v3-row', 1, 1, 2, 'acme')`)
	require.NoError(t, err)
	_ = db.Close()

	s := openAt(t, path)
	defer s.Close()
	ctx := context.Background()
	// The history the upgrade found is not on the chain, and not reported as inserted around it.
	ids, err := s.Unchained(ctx, "acme", 10)
	require.NoError(t, err, "Unchained after the upgrade")
	require.Empty(t, ids, "Unchained after the upgrade, want none")
	_, err = s.Insert(ctx, "acme", []record.Record{{ID: "v4-row", Timestamp: time.Unix(2, 0), Level: record.LevelInfo}})
	require.NoError(t, err)
	_, err = s.write.Exec(`INSERT INTO audit_logs (id, timestamp, observed_timestamp, level, tenant_id) VALUES ('forged', 3, 3, 2, 'acme')`)
	require.NoError(t, err)
	ids, err = s.Unchained(ctx, "acme", 10)
	require.NoError(t, err, "Unchained")
	require.Equal(t, []string{"forged"}, ids, "Unchained, want only the row written around the store")
	head, err := s.ChainHead(ctx, "acme")
	require.NoError(t, err, "ChainHead")
	require.EqualValues(t, 1, head.Seq, "ChainHead = %+v; want the first record stored after the upgrade at seq 1", head)
	require.Equal(t, "v4-row", head.RecordID, "ChainHead = %+v; want the first record stored after the upgrade at seq 1", head)
}

// A file written at version 4, where ids were unique across tenants, reaches version 5 with
// every row, its full-text index and its chain intact; afterwards a tenant may store an id that
// another tenant holds.
func TestMigrate_Version5KeysRecordsByTenantAndIDAndKeepsEveryRow(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openRaw(t, path)
	require.NoError(t, migrate(ctx, db, migrations[:4]))
	const rows = 300
	for i := range rows {
		tenant := []string{"acme", "globex"}[i%2]
		_, err := db.Exec(`INSERT INTO audit_logs (id, timestamp, observed_timestamp, level, tenant_id, message, search_text)
			VALUES (?, ?, ?, 2, ?, ?, 'kiwi')`, fmt.Sprintf("v4-%03d", i), i, i, tenant, fmt.Sprintf("written at v4 number %d", i))
		require.NoError(t, err)
	}
	var seqBefore int64
	require.NoError(t, db.QueryRow(`SELECT seq FROM audit_logs WHERE id = 'v4-007'`).Scan(&seqBefore))
	_ = db.Close()

	s := openAt(t, path)
	defer s.Close()
	require.Equal(t, allVersions(), versions(t, s.write), "schema_version")
	var n int
	var seqAfter int64
	require.NoError(t, s.write.QueryRow(`SELECT count(*) FROM audit_logs`).Scan(&n), "count rows after the upgrade")
	require.Equal(t, rows, n, "rows after the upgrade")
	require.NoError(t, s.write.QueryRow(`SELECT seq FROM audit_logs WHERE id = 'v4-007'`).Scan(&seqAfter), "seq of a row after the upgrade")
	require.Equal(t, seqBefore, seqAfter, "seq of a row moved: the full-text index addresses rows by seq")
	found, err := s.Query(ctx, store.Filter{TenantID: "acme", Text: "kiwi"}, store.Page{Limit: 1000})
	require.NoError(t, err, "search after the upgrade")
	require.Len(t, found.Records, rows/2, "search after the upgrade found %d of acme's %d rows", len(found.Records), rows/2)
	// acme's v4-000 is taken; globex may now store its own record of that id.
	theirs := record.Record{ID: "v4-000", TenantID: "globex", Timestamp: time.Unix(9, 0), Level: record.LevelInfo, Message: "globex's own"}
	_, err = s.Insert(ctx, "globex", []record.Record{theirs})
	require.NoError(t, err)
	got, err := s.Get(ctx, "globex", "v4-000")
	require.NoError(t, err, "globex's record of an id acme holds")
	require.Equal(t, "globex's own", got.Message, "globex's record of an id acme holds: %+v", got)
	mine, err := s.Get(ctx, "acme", "v4-000")
	require.NoError(t, err, "acme's record after globex wrote the same id")
	require.Equal(t, "written at v4 number 0", mine.Message, "acme's record after globex wrote the same id: %+v", mine)
	assert.Equal(t, []string{"tenant_id", "record_id"}, indexColumns(t, s.write, "audit_chain_record"), "audit_chain_record columns")
}

// v7 moves full-text indexing from the insert trigger into Insert: rows indexed by the trigger
// stay found, rows stored after the upgrade are indexed once, and deletes still reach the index.
func TestMigrate_Version7IndexesNewRowsWithoutTheInsertTrigger(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openRaw(t, path)
	require.NoError(t, migrate(ctx, db, migrations[:5]))
	for i := range 20 {
		_, err := db.Exec(`INSERT INTO audit_logs (id, timestamp, observed_timestamp, level, tenant_id, message, search_text)
			VALUES (?, ?, ?, 2, 'acme', 'written at v5', 'kiwi')`, fmt.Sprintf("v5-%03d", i), i+1, i+1)
		require.NoError(t, err)
	}
	_ = db.Close()

	s := openAt(t, path)
	defer s.Close()
	require.Equal(t, allVersions(), versions(t, s.write), "schema_version")
	var triggers int
	require.NoError(t, s.write.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name = 'audit_logs_fts_insert'`).Scan(&triggers))
	assert.Zero(t, triggers, "the insert trigger is still there")
	recs := records("v7", 30)
	for i := range recs {
		recs[i].Attributes = map[string]any{"fruit": "kiwi"}
	}
	_, err := s.Insert(ctx, "acme", recs)
	require.NoError(t, err)
	found, err := s.Query(ctx, store.Filter{TenantID: "acme", Text: "kiwi"}, store.Page{Limit: 1000})
	require.NoError(t, err, "search after the upgrade")
	assert.Len(t, found.Records, 50, "records found: the 20 of v5 and the 30 stored since, each once")
	_, err = s.write.Exec(`DELETE FROM audit_logs WHERE id IN ('v5-003', 'v7-0004')`)
	require.NoError(t, err)
	_, err = s.write.Exec(`INSERT INTO audit_fts (audit_fts, rank) VALUES ('integrity-check', 1)`)
	assert.NoError(t, err, "FTS5 integrity-check against audit_logs")
	assert.Equal(t, 48, count(t, s, `SELECT count(*) FROM audit_fts WHERE audit_fts MATCH 'kiwi'`), "rows the index finds after two deletes")
}

// v8 puts the tags of rows stored before it into the full-text index, and indexes company_id.
func TestMigrate_Version8MakesStoredTagsSearchable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openRaw(t, path)
	require.NoError(t, migrate(ctx, db, migrations[:7]))
	old := records("v7", 3)
	old[0].Tags = []string{"quarterly-close"}
	old[1].Tags = []string{"quarterly-close", "pci"}
	old[1].Attributes = map[string]any{"fruit": "kiwi"}
	args := make([]any, 0)
	for i := range old {
		a, err := encodeRecord(args[:0], &old[i], "acme")
		require.NoError(t, err)
		// What a v7 binary stored: search_text from attributes only.
		a[len(a)-1] = searchText(old[i].Attributes)
		_, err = db.Exec(insertSQL(1, false), a...)
		require.NoError(t, err)
	}
	_, err := db.Exec(`INSERT INTO audit_fts (audit_fts) VALUES ('rebuild')`)
	require.NoError(t, err)
	_ = db.Close()

	s := openAt(t, path)
	defer s.Close()
	require.Equal(t, allVersions(), versions(t, s.write), "schema_version")
	for text, want := range map[string][]string{"quarterly": {"v7-0001", "v7-0000"}, "pci": {"v7-0001"}, "kiwi": {"v7-0001"}} {
		found, err := s.Query(ctx, store.Filter{Text: text}, store.Page{Limit: 100})
		require.NoError(t, err, "search %q after the upgrade", text)
		var got []string
		for _, r := range found.Records {
			got = append(got, r.ID)
		}
		assert.Equal(t, want, got, "search %q after the upgrade", text)
	}
	_, err = s.write.Exec(`INSERT INTO audit_fts (audit_fts, rank) VALUES ('integrity-check', 1)`)
	assert.NoError(t, err, "FTS5 integrity-check against audit_logs")
	assert.Equal(t, []string{"company_id", "timestamp", "id"}, indexColumns(t, s.write, "audit_logs_company"), "audit_logs_company columns")
}
