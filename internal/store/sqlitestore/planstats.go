package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
)

// optimize runs PRAGMA optimize (with mask, "" for SQLite's default) and then removes the
// sampled statistics (sqlite_stat4) of the full-text index's shadow tables and of the trace
// index.
//
// Why: with samples for an index, SQLite marks a bound value compared with that index as able
// to change the plan, and binding a new value makes the statement prepare itself again at its
// next step. FTS5 looks each term up in each index segment through one internal statement on
// audit_fts_idx, binding the term anew for every segment, so with samples there every segment
// of every search re-parsed and re-planned that statement: a CPU profile of a rare-word search
// over 200 partitions spent a third of its time in sqlite3Reprepare. Its lookups are primary
// key seeks, which sqlite_stat1 plans as well. Without the samples (BenchmarkQuery1MPartitioned,
// 200 partitions of 5,000 rows, three runs each alternated): rare-word search p50 78 -> 59 ms.
// The trace index's samples go too, for the same reason: a trace lookup binds a new trace id
// each time, and every partition's Trace recompiled its statement on every call (with the
// statement cached, see Store.reads); the trace index is the only one a trace id can use, so
// the samples chose nothing. The other samples of the audit tables stay: they choose between
// the user, event and time indexes.
func optimize(ctx context.Context, db *sql.DB, mask string) error {
	pragma := `PRAGMA optimize`
	if mask != "" {
		pragma += ` = ` + mask
	}
	if _, err := db.ExecContext(ctx, pragma); err != nil {
		return err
	}
	var hasStat4 int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat4'`).Scan(&hasStat4); err != nil {
		return fmt.Errorf("look for sqlite_stat4: %w", err)
	}
	if hasStat4 == 0 {
		return nil // never analyzed, or a build without STAT4
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM sqlite_stat4 WHERE tbl LIKE 'audit\_fts%' ESCAPE '\' OR idx = 'audit_logs_trace'`); err != nil {
		return fmt.Errorf("drop the full-text and trace indexes' samples: %w", err)
	}
	return nil
}
