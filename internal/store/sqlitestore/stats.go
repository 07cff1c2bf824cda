package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// The three statements of Stats. Each reads only the rows of [start, end) through an index
// that starts with the tenant and the timestamp (audit_logs_tenant_time, or audit_logs_time for
// an admin), so their cost is the rows of the range, never the table. {tenant} is replaced by
// "tenant_id = ? AND " or by nothing.
//
// The histogram and the level counts come from one pass: rows grouped by (bucket, level), the
// bucket being the distance from the first bucket's start divided by the interval. Every row
// of the range is at or after that start, so the division never meets a negative number.
const (
	statsByBucketAndLevel = `SELECT (timestamp - ?) / ?, level, count(*) FROM audit_logs
WHERE {tenant}timestamp >= ? AND timestamp < ?
GROUP BY 1, 2`
	statsTopEvents = `SELECT event, count(*) AS n FROM audit_logs
WHERE {tenant}timestamp >= ? AND timestamp < ? AND event <> ''
GROUP BY event ORDER BY n DESC, event LIMIT ?`
	statsTopUsers = `SELECT user_id, count(*) AS n FROM audit_logs
WHERE {tenant}timestamp >= ? AND timestamp < ? AND user_id <> ''
GROUP BY user_id ORDER BY n DESC, user_id LIMIT ?`
)

// Stats returns the aggregates of q. The three statements run in one read transaction, so
// they see one snapshot: the top lists never count a record the total does not.
func (s *Store) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	q, err := q.Normalize()
	if err != nil {
		return store.Stats{}, fmt.Errorf("sqlitestore: %w", err)
	}
	st, err := s.stats(ctx, q, q.Top)
	if err != nil {
		return store.Stats{}, fmt.Errorf("sqlitestore: stats: %w", err)
	}
	return st, nil
}

// stats runs a normalized query; top < 0 lists every event and user (to merge the stats of
// several databases exactly).
func (s *Store) stats(ctx context.Context, q store.StatsQuery, top int) (store.Stats, error) {
	tenantCond, tenantArgs := "", []any(nil)
	if q.TenantID != "" {
		tenantCond, tenantArgs = "tenant_id = ? AND ", []any{q.TenantID}
	}
	render := func(sqlText string) string { return replaceTenant(sqlText, tenantCond) }
	start, end := q.Start.UnixNano(), q.End.UnixNano()
	first := q.BucketStart(q.Start).UnixNano()

	out := store.Stats{ByLevel: store.LevelCounts(), Histogram: q.EmptyHistogram()}

	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return out, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	args := append(append([]any{first, int64(q.Interval)}, tenantArgs...), start, end)
	rows, err := tx.QueryContext(ctx, render(statsByBucketAndLevel), args...)
	if err != nil {
		return out, fmt.Errorf("histogram: %w", err)
	}
	for rows.Next() {
		var bucket, level, n int64
		if err := rows.Scan(&bucket, &level, &n); err != nil {
			rows.Close()
			return out, fmt.Errorf("histogram: %w", err)
		}
		if bucket < 0 || bucket >= int64(len(out.Histogram)) {
			rows.Close()
			return out, fmt.Errorf("histogram: bucket %d outside the %d of the range", bucket, len(out.Histogram))
		}
		l := record.Level(level)
		b := &out.Histogram[bucket]
		b.Count += n
		out.Total += n
		out.ByLevel[l.String()] += n
		if store.IsFailure(l) {
			b.Failures += n
			out.Failures += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("histogram: %w", err)
	}

	limit := int64(top)
	if top < 0 {
		limit = -1 // SQLite: no limit
	}
	topArgs := append(append(append([]any(nil), tenantArgs...), start, end), limit)
	if out.TopEvents, err = topCounts(ctx, tx, render(statsTopEvents), topArgs); err != nil {
		return out, fmt.Errorf("top events: %w", err)
	}
	if out.TopUsers, err = topCounts(ctx, tx, render(statsTopUsers), topArgs); err != nil {
		return out, fmt.Errorf("top users: %w", err)
	}
	return out, nil
}

func topCounts(ctx context.Context, tx *sql.Tx, query string, args []any) ([]store.Count, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Count{}
	for rows.Next() {
		var c store.Count
		if err := rows.Scan(&c.Key, &c.Count); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func replaceTenant(query, cond string) string {
	return strings.Replace(query, "{tenant}", cond, 1)
}

// mergeStats adds the stats of several databases (the admin view of database_per_tenant).
// parts must have been computed with every event and user listed (top < 0), so that the
// merged top lists are exact, and with the same normalized q, so the histograms line up.
func mergeStats(q store.StatsQuery, parts []store.Stats) store.Stats {
	out := store.Stats{ByLevel: store.LevelCounts(), Histogram: q.EmptyHistogram()}
	events, users := map[string]int64{}, map[string]int64{}
	for _, p := range parts {
		out.Total += p.Total
		out.Failures += p.Failures
		for k, v := range p.ByLevel {
			out.ByLevel[k] += v
		}
		for i := range p.Histogram {
			out.Histogram[i].Count += p.Histogram[i].Count
			out.Histogram[i].Failures += p.Histogram[i].Failures
		}
		for _, c := range p.TopEvents {
			events[c.Key] += c.Count
		}
		for _, c := range p.TopUsers {
			users[c.Key] += c.Count
		}
	}
	out.TopEvents = topOf(events, q.Top)
	out.TopUsers = topOf(users, q.Top)
	return out
}

// topOf returns the n largest counts of m, ties by key ascending: the order of the SQL above.
func topOf(m map[string]int64, n int) []store.Count {
	out := make([]store.Count, 0, len(m))
	for k, v := range m {
		out = append(out, store.Count{Key: k, Count: v})
	}
	slices.SortFunc(out, func(a, b store.Count) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
