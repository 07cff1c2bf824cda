package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// versions lists schema_version's rows.
func versions(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.Query(`SELECT version FROM schema_version ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_version: %v", err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// openRaw opens path as a writer without migrating, as another binary version would.
func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Path = path
	db, err := openPool(context.Background(), cfg.dsn(false), 1)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func hasColumn(t *testing.T, db *sql.DB, table, column string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, table, column).Scan(&n); err != nil {
		t.Fatal(err)
	}
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
	if got := versions(t, s.write); !slices.Equal(got, allVersions()) {
		t.Errorf("schema_version = %v, want %v", got, allVersions())
	}
	if SchemaVersion() != len(migrations) {
		t.Errorf("SchemaVersion() = %d, want %d", SchemaVersion(), len(migrations))
	}
	for i, m := range migrations {
		if m.version != i+1 {
			t.Errorf("migrations[%d].version = %d, want %d: versions must be consecutive", i, m.version, i+1)
		}
	}
}

func TestMigrate_ReopeningAFileAppliesNothingTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	cfg := DefaultConfig()
	cfg.Path = path
	for i := 0; i < 3; i++ {
		s, err := Open(context.Background(), cfg)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := versions(t, openRaw(t, path)); !slices.Equal(got, allVersions()) {
		t.Errorf("after three opens schema_version = %v, want %v", got, allVersions())
	}
}

// A file written by this binary is upgraded by a later one: the test plays the later binary
// by appending a version N+1 to the list.
func TestMigrate_UpgradesAFileAndKeepsItsRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	cfg := DefaultConfig()
	cfg.Path = path
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := record.Record{ID: "kept", Timestamp: time.Now(), Level: record.LevelInfo, Message: "written at v1"}
	if _, err := s.Insert(context.Background(), "acme", []record.Record{rec}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	next := SchemaVersion() + 1
	v2 := append(slices.Clone(migrations), migration{version: next, steps: []string{
		`ALTER TABLE audit_logs ADD COLUMN region TEXT NOT NULL DEFAULT ''`,
		`CREATE INDEX audit_logs_region ON audit_logs (region)`,
	}})
	db := openRaw(t, path)
	if err := migrate(context.Background(), db, v2); err != nil {
		t.Fatalf("migrate to v%d: %v", next, err)
	}
	if got := versions(t, db); !slices.Equal(got, append(allVersions(), next)) {
		t.Errorf("schema_version = %v, want %v", got, append(allVersions(), next))
	}
	if !hasColumn(t, db, "audit_logs", "region") {
		t.Error("the v2 column is missing")
	}
	var msg string
	if err := db.QueryRow(`SELECT message FROM audit_logs WHERE id = 'kept'`).Scan(&msg); err != nil || msg != "written at v1" {
		t.Errorf("the v1 record after the upgrade: %q, %v", msg, err)
	}
	if err := migrate(context.Background(), db, v2); err != nil {
		t.Fatalf("migrate to v%d again: %v", next, err)
	}
	if got := versions(t, db); !slices.Equal(got, append(allVersions(), next)) {
		t.Errorf("a second migrate changed schema_version to %v", got)
	}
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
	if err == nil {
		t.Fatal("a failing migration reported success")
	}
	if got := versions(t, db); !slices.Equal(got, allVersions()) {
		t.Errorf("schema_version = %v after a failed step, want %v", got, allVersions())
	}
	if hasColumn(t, db, "audit_logs", "region") {
		t.Error("the first step of the failed migration was kept")
	}
}

func TestMigrate_RefusesADatabaseFromANewerBinary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	s := openAt(t, path)
	_ = s.Close()
	db := openRaw(t, path)
	if _, err := db.Exec(insertSchemaVersion, 7, time.Now().UnixNano()); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	cfg := DefaultConfig()
	cfg.Path = path
	_, err := Open(context.Background(), cfg)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
	want := fmt.Sprintf("sqlitestore: database schema version 7 is newer than this binary supports (%d); upgrade otelcol-audit", SchemaVersion())
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err.Error(), want)
	}
}

func TestMigrate_RefusesAFileThatHoldsSomethingElse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openRaw(t, path)
	if _, err := db.Exec(`CREATE TABLE audit_logs (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	cfg := DefaultConfig()
	cfg.Path = path
	if _, err := Open(context.Background(), cfg); err == nil {
		t.Fatal("Open migrated over a foreign audit_logs table")
	}
}

func openAt(t *testing.T, path string) *Store {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Path = path
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return s
}

// indexColumns lists an index's columns in order.
func indexColumns(t *testing.T, db *sql.DB, index string) []string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`, index)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// A file left at version 1 by the first release reaches version 2 at Open: its time indexes
// carry the columns Stats reads, and its records are kept.
func TestMigrate_Version2WidensTheTimeIndexesOfAV1File(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openRaw(t, path)
	if err := migrate(context.Background(), db, migrations[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO audit_logs (id, timestamp, observed_timestamp, level, tenant_id) VALUES ('v1-row', 1, 1, 2, 'acme')`); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	s := openAt(t, path)
	defer s.Close()
	if got := versions(t, s.write); !slices.Equal(got, allVersions()) {
		t.Errorf("schema_version = %v, want %v", got, allVersions())
	}
	for index, want := range map[string][]string{
		"audit_logs_tenant_time": {"tenant_id", "timestamp", "id", "level", "event", "user_id"},
		"audit_logs_time":        {"timestamp", "id", "level", "event", "user_id", "tenant_id"},
	} {
		if got := indexColumns(t, s.write, index); !slices.Equal(got, want) {
			t.Errorf("%s columns = %v, want %v", index, got, want)
		}
	}
	if _, err := s.Get(context.Background(), "acme", "v1-row"); err != nil {
		t.Errorf("the v1 record after the upgrade: %v", err)
	}
}

func TestMigrate_Version4StartsTheChainAfterTheRecordsItFinds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openRaw(t, path)
	if err := migrate(context.Background(), db, migrations[:3]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO audit_logs (id, timestamp, observed_timestamp, level, tenant_id) VALUES ('v3-row', 1, 1, 2, 'acme')`); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	s := openAt(t, path)
	defer s.Close()
	ctx := context.Background()
	// The history the upgrade found is not on the chain, and not reported as inserted around it.
	if ids, err := s.Unchained(ctx, "acme", 10); err != nil || len(ids) != 0 {
		t.Fatalf("Unchained after the upgrade = %v, %v; want none", ids, err)
	}
	if _, err := s.Insert(ctx, "acme", []record.Record{{ID: "v4-row", Timestamp: time.Unix(2, 0), Level: record.LevelInfo}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.Exec(`INSERT INTO audit_logs (id, timestamp, observed_timestamp, level, tenant_id) VALUES ('forged', 3, 3, 2, 'acme')`); err != nil {
		t.Fatal(err)
	}
	ids, err := s.Unchained(ctx, "acme", 10)
	if err != nil || !slices.Equal(ids, []string{"forged"}) {
		t.Fatalf("Unchained = %v, %v; want only the row written around the store", ids, err)
	}
	if head, err := s.ChainHead(ctx, "acme"); err != nil || head.Seq != 1 || head.RecordID != "v4-row" {
		t.Fatalf("ChainHead = %+v, %v; want the first record stored after the upgrade at seq 1", head, err)
	}
}

// A file written at version 4, where ids were unique across tenants, reaches version 5 with
// every row, its full-text index and its chain intact; afterwards a tenant may store an id that
// another tenant holds.
func TestMigrate_Version5KeysRecordsByTenantAndIDAndKeepsEveryRow(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openRaw(t, path)
	if err := migrate(ctx, db, migrations[:4]); err != nil {
		t.Fatal(err)
	}
	const rows = 300
	for i := range rows {
		tenant := []string{"acme", "globex"}[i%2]
		if _, err := db.Exec(`INSERT INTO audit_logs (id, timestamp, observed_timestamp, level, tenant_id, message, search_text)
			VALUES (?, ?, ?, 2, ?, ?, 'kiwi')`, fmt.Sprintf("v4-%03d", i), i, i, tenant, fmt.Sprintf("written at v4 number %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var seqBefore int64
	if err := db.QueryRow(`SELECT seq FROM audit_logs WHERE id = 'v4-007'`).Scan(&seqBefore); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	s := openAt(t, path)
	defer s.Close()
	if got := versions(t, s.write); !slices.Equal(got, allVersions()) {
		t.Fatalf("schema_version = %v, want %v", got, allVersions())
	}
	var n int
	var seqAfter int64
	if err := s.write.QueryRow(`SELECT count(*) FROM audit_logs`).Scan(&n); err != nil || n != rows {
		t.Fatalf("%d rows after the upgrade (%v), want %d", n, err, rows)
	}
	if err := s.write.QueryRow(`SELECT seq FROM audit_logs WHERE id = 'v4-007'`).Scan(&seqAfter); err != nil || seqAfter != seqBefore {
		t.Fatalf("seq of a row moved from %d to %d (%v): the full-text index addresses rows by seq", seqBefore, seqAfter, err)
	}
	found, err := s.Query(ctx, store.Filter{TenantID: "acme", Text: "kiwi"}, store.Page{Limit: 1000})
	if err != nil || len(found.Records) != rows/2 {
		t.Fatalf("search after the upgrade found %d of acme's %d rows (%v)", len(found.Records), rows/2, err)
	}
	// acme's v4-000 is taken; globex may now store its own record of that id.
	theirs := record.Record{ID: "v4-000", TenantID: "globex", Timestamp: time.Unix(9, 0), Level: record.LevelInfo, Message: "globex's own"}
	if _, err := s.Insert(ctx, "globex", []record.Record{theirs}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "globex", "v4-000")
	if err != nil || got.Message != "globex's own" {
		t.Fatalf("globex's record of an id acme holds: %+v, %v", got, err)
	}
	if mine, err := s.Get(ctx, "acme", "v4-000"); err != nil || mine.Message != "written at v4 number 0" {
		t.Fatalf("acme's record after globex wrote the same id: %+v, %v", mine, err)
	}
	if got := indexColumns(t, s.write, "audit_chain_record"); !slices.Equal(got, []string{"tenant_id", "record_id"}) {
		t.Errorf("audit_chain_record columns = %v, want tenant_id, record_id", got)
	}
}
