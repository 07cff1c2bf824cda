package sqlitestore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// sqlTamper edits the SQLite tables with plain SQL, as anyone holding the file could.
type sqlTamper struct {
	// db returns the connection to the file holding tenant's rows.
	db func(t *testing.T, s store.ChainStore, tenant string) *sql.DB
}

func (x sqlTamper) exec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	res, err := db.ExecContext(context.Background(), query, args...)
	require.NoErrorf(t, err, "%s", query)
	n, _ := res.RowsAffected()
	require.NotZero(t, n, "%s %v changed no row", query, args)
}

func (x sqlTamper) EditRecord(t *testing.T, s store.ChainStore, id string) {
	x.exec(t, x.db(t, s, "acme"), `UPDATE audit_logs SET message = 'edited' WHERE id = ?`, id)
}

func (x sqlTamper) DeleteRecord(t *testing.T, s store.ChainStore, id string) {
	x.exec(t, x.db(t, s, "acme"), `DELETE FROM audit_logs WHERE id = ?`, id)
}

func (x sqlTamper) InsertRecord(t *testing.T, s store.ChainStore, r record.Record) {
	args, err := encodeRecord(nil, &r, r.TenantID)
	require.NoError(t, err)
	x.exec(t, x.db(t, s, r.TenantID), insertSQL(1, false), args...)
}

func (x sqlTamper) SwapLinks(t *testing.T, s store.ChainStore, tenant string, a, b uint64) {
	db := x.db(t, s, tenant)
	// Move a out of the way, b to a, then a to b: (tenant_id, seq) is the primary key.
	x.exec(t, db, `UPDATE audit_chain SET seq = -1 WHERE tenant_id = ? AND seq = ?`, tenant, a)
	x.exec(t, db, `UPDATE audit_chain SET seq = ? WHERE tenant_id = ? AND seq = ?`, a, tenant, b)
	x.exec(t, db, `UPDATE audit_chain SET seq = ? WHERE tenant_id = ? AND seq = -1`, b, tenant)
}

func TestStore_KeepsATamperEvidentChain(t *testing.T) {
	storetest.RunChain(t, func(t *testing.T) store.ChainStore { return openTemp(t) },
		sqlTamper{db: func(_ *testing.T, s store.ChainStore, _ string) *sql.DB { return s.(*Store).write }})
}

func TestPerTenant_KeepsATamperEvidentChainPerFile(t *testing.T) {
	open := func(t *testing.T) store.ChainStore {
		cfg := DefaultConfig()
		cfg.Tenancy, cfg.Directory = TenancyDatabasePerTenant, filepath.Join(t.TempDir(), "tenants")
		p, err := OpenPerTenant(context.Background(), cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	storetest.RunChain(t, open, sqlTamper{db: func(t *testing.T, s store.ChainStore, tenant string) *sql.DB {
		h, err := s.(*PerTenant).acquire(context.Background(), tenant, false)
		require.NoError(t, err, "tenant %q has no file", tenant)
		require.NotNil(t, h, "tenant %q has no file", tenant)
		t.Cleanup(func() { s.(*PerTenant).release(h) })
		return h.st.write
	}})
}
