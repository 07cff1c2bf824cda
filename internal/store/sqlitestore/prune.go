package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// defaultPruneChunk is how many rows one retention transaction deletes (Store.pruneChunkRows;
// tests lower it to cross chunk boundaries with few rows). The writer is a single
// connection: while a chunk runs, inserts wait. 5,000 rows (and their index and full-text
// entries) take tens of milliseconds, which the exporter's queue absorbs.
const defaultPruneChunk = 5000

// vacuumStepPages is how many free pages one incremental_vacuum statement returns to the file
// system (16 MiB with 4 KiB pages), for the same reason.
const vacuumStepPages = 4096

// pruneStatement deletes the oldest expired rows, at most one chunk, and returns their levels.
// One statement serves every level: each level's cutoff is bound in the CASE, and a level kept
// forever gets math.MinInt64, which no timestamp is below. The rows are found by walking
// audit_logs_time from lower up to the largest cutoff, so the cost of a chunk is the rows it
// walks, and lower (the newest timestamp the previous chunk deleted) keeps each chunk from
// walking again the kept rows that the previous ones walked. The full-text rows go with their
// rows through the delete trigger; the stats counts of the deleted rows are taken back in the
// same transaction from what the statement returns (rollup.go).
const pruneStatement = `DELETE FROM audit_logs WHERE seq IN (
	SELECT seq FROM audit_logs
	WHERE timestamp >= ? AND timestamp < ?
	  AND timestamp < CASE level WHEN 1 THEN ? WHEN 2 THEN ? WHEN 3 THEN ? WHEN 4 THEN ? WHEN 5 THEN ? ELSE ? END
	ORDER BY timestamp
	LIMIT ?
) RETURNING level, timestamp, tenant_id, event, user_id`

// Prune deletes every record whose timestamp is before now minus its level's period (a zero
// period keeps the level forever), in transactions of pruneChunkRows rows so that inserts are
// never held up for long, then returns the freed pages to the file system.
//
// Between two chunks the writer connection is released; database/sql hands it to an insert
// waiting for it before the next chunk can begin. A cancelled ctx stops between chunks: what
// was deleted stays deleted and is reported along with the error.
func (s *Store) Prune(ctx context.Context, policy store.RetentionPolicy, now time.Time) (store.PruneResult, error) {
	res := store.PruneResult{RemovedByLevel: store.LevelCounts()}
	cutoffs, upper := pruneCutoffs(policy, now)
	if upper == math.MinInt64 {
		return res, nil // every level is kept forever
	}
	args := make([]any, 0, 3+len(cutoffs)+1)
	lower := int64(math.MinInt64)
	for {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("sqlitestore: prune: %w", err)
		}
		args = append(args[:0], lower, upper)
		for _, c := range cutoffs {
			args = append(args, c)
		}
		args = append(args, s.pruneChunkRows)
		n, newest, err := s.pruneChunk(ctx, args, &res)
		if err != nil {
			return res, fmt.Errorf("sqlitestore: prune: %w", err)
		}
		if n < s.pruneChunkRows {
			break
		}
		lower = newest
	}
	if res.Total > 0 {
		if err := s.reclaim(ctx); err != nil {
			return res, fmt.Errorf("sqlitestore: prune: reclaim space: %w", err)
		}
	}
	return res, nil
}

// pruneCutoffs returns the cutoff of each level (debug to security, then the default for
// any other level) and the largest of them.
func pruneCutoffs(policy store.RetentionPolicy, now time.Time) ([]int64, int64) {
	cutoff := func(period time.Duration) int64 {
		if period <= 0 {
			return math.MinInt64
		}
		return clampNanos(now.Add(-period))
	}
	out := make([]int64, 0, len(record.Levels)+1)
	for _, l := range record.Levels {
		out = append(out, cutoff(policy.For(l)))
	}
	out = append(out, cutoff(policy.Default))
	upper := int64(math.MinInt64)
	for _, c := range out {
		upper = max(upper, c)
	}
	return out, upper
}

// pruneChunk deletes one chunk in its own transaction, takes its rows out of the stats counts
// and counts what it removed.
func (s *Store) pruneChunk(ctx context.Context, args []any, res *store.PruneResult) (n int, newest int64, err error) {
	rollups, err := s.prepareRollups(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("prepare: %w", err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, pruneStatement, args...)
	if err != nil {
		return 0, 0, fmt.Errorf("delete: %w", err)
	}
	removed := map[string]int64{}
	counts := newRollupDelta()
	newest = math.MinInt64
	for rows.Next() {
		var level, ts int64
		var tenant, event, user string
		if err := rows.Scan(&level, &ts, &tenant, &event, &user); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("delete: %w", err)
		}
		removed[record.Level(level).String()]++
		counts.add(tenant, ts, level, event, user, -1)
		newest = max(newest, ts)
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("delete: %w", err)
	}
	if err := counts.write(ctx, inTx(ctx, tx, rollups)); err != nil {
		return 0, 0, fmt.Errorf("stats counts: %w", err)
	}
	if err := counts.deleteEmpty(ctx, tx); err != nil {
		return 0, 0, fmt.Errorf("stats counts: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("commit: %w", err)
	}
	// Counted only once committed, so the result never reports rows that are still there.
	for k, v := range removed {
		res.RemovedByLevel[k] += v
		res.Total += v
	}
	return n, newest, nil
}

// reclaim returns free pages to the file system, vacuumStepPages per statement (each its own
// transaction on the writer), then checkpoints the WAL so that the database file actually
// shrinks. On a file without auto_vacuum=INCREMENTAL (created before this version) the
// vacuum statements do nothing: its free pages stay in the file and later inserts reuse them.
func (s *Store) reclaim(ctx context.Context) error {
	var mode int
	if err := s.write.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return fmt.Errorf("read auto_vacuum: %w", err)
	}
	if mode != autoVacuumIncremental {
		return nil
	}
	for prev := int64(math.MaxInt64); ; {
		var free int64
		if err := s.write.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
			return fmt.Errorf("read freelist_count: %w", err)
		}
		if free == 0 || free >= prev {
			break // done, or another process holds pages back: the next run continues
		}
		prev = free
		if _, err := s.write.ExecContext(ctx, fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, vacuumStepPages)); err != nil {
			return fmt.Errorf("incremental_vacuum: %w", err)
		}
	}
	// Deleting a large share of the table makes the planner's statistics stale; optimize
	// refreshes them when SQLite judges it worthwhile.
	if err := optimize(ctx, s.write, ""); err != nil {
		return fmt.Errorf("optimize: %w", err)
	}
	if s.cfg.Path == memoryPath {
		return nil
	}
	// PASSIVE never waits for readers or writers; what it cannot copy now, the next
	// automatic checkpoint does.
	var busy, logPages, checkpointed int
	if err := s.write.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &checkpointed); err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
