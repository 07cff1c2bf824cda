package harness

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
	"github.com/otelcol-audit/otelcol-audit/testbed/loadgen"
)

// withoutFullText replaces the store's FTS5 table by a plain table of the same columns, so
// that the store runs without full-text indexing: since schema v6 Insert itself writes each
// transaction's rows into audit_fts (no trigger does), and into a plain table that is a copy of
// three text columns instead of index postings. The delete and update triggers go first, as
// they write FTS5 commands into the table.
var withoutFullText = []string{
	"DROP TRIGGER audit_logs_fts_delete",
	"DROP TRIGGER audit_logs_fts_update",
	"DROP TABLE audit_fts",
	"CREATE TABLE audit_fts (message TEXT, event TEXT, search_text TEXT)",
}

// StoreCeilingResult is one in-process run of the store alone.
type StoreCeilingResult struct {
	Records int
	Elapsed time.Duration
	// FirstHalf and SecondHalf are the rates over the first and second half of the records:
	// a drop shows the cost growing with the file.
	FirstHalf, SecondHalf float64
}

// Rate is records per second over the whole run.
func (r StoreCeilingResult) Rate() float64 { return float64(r.Records) / r.Elapsed.Seconds() }

// MeasureStoreCeiling inserts n of the load generator's records (mapped as the exporter maps
// them) straight into a new SQLite store in dir, batch records of one tenant per Insert (one
// transaction), with no WAL, queue or network: the ceiling of the embedded path for exactly
// the records the pipeline benchmarks send. withoutFTS replaces the full-text index by a plain
// table first (withoutFullText).
func MeasureStoreCeiling(ctx context.Context, dir string, n, batch int, withoutFTS bool) (StoreCeilingResult, error) {
	m := record.DefaultMapping()
	b := loadgen.NewBuilder(1)
	pending := map[string][]record.Record{}
	var batches [][]record.Record
	var tenants []string
	for made := 0; made < n; made += 100 {
		ld, _ := b.Build(min(100, n-made))
		record.EnsureIDs(ld)
		for _, r := range m.FromLogs(ld, "", time.Now()) {
			pending[r.TenantID] = append(pending[r.TenantID], r)
			if len(pending[r.TenantID]) == batch {
				batches, tenants = append(batches, pending[r.TenantID]), append(tenants, r.TenantID)
				pending[r.TenantID] = nil
			}
		}
	}
	for t, recs := range pending {
		if len(recs) > 0 {
			batches, tenants = append(batches, recs), append(tenants, t)
		}
	}

	cfg := sqlitestore.DefaultConfig()
	cfg.Path = filepath.Join(dir, "ceiling.db")
	st, err := sqlitestore.Open(ctx, cfg)
	if err != nil {
		return StoreCeilingResult{}, fmt.Errorf("store ceiling: open %s: %w", cfg.Path, err)
	}
	defer st.Close()
	if withoutFTS {
		db, err := sql.Open("sqlite", cfg.Path)
		if err != nil {
			return StoreCeilingResult{}, fmt.Errorf("store ceiling: open %s: %w", cfg.Path, err)
		}
		for _, stmt := range withoutFullText {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				db.Close()
				return StoreCeilingResult{}, fmt.Errorf("store ceiling: %s: %w", stmt, err)
			}
		}
		db.Close()
	}
	res := StoreCeilingResult{}
	began := time.Now()
	var half time.Time
	atHalf := 0
	for i, recs := range batches {
		if _, err := st.Insert(ctx, tenants[i], recs); err != nil {
			return res, fmt.Errorf("store ceiling: insert %d records of %s: %w", len(recs), tenants[i], err)
		}
		res.Records += len(recs)
		if half.IsZero() && res.Records >= n/2 {
			half, atHalf = time.Now(), res.Records
			res.FirstHalf = float64(res.Records) / half.Sub(began).Seconds()
		}
	}
	res.Elapsed = time.Since(began)
	if !half.IsZero() {
		res.SecondHalf = float64(res.Records-atHalf) / time.Since(half).Seconds()
	}
	return res, nil
}
