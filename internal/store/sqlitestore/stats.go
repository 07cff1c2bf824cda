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

// How Stats reads (rollup.go says what the counts hold):
//
// cover splits [start, end) into whole slots, as wide as possible, and at most two edges
// shorter than the narrowest slot. The slots' counts are read from the rollup tables; the
// edges' rows from audit_logs, through the covering time index (audit_logs_tenant_time, or
// audit_logs_time for an admin), as Stats did for the whole range before version 6. So the
// cost is the number of slots times the keys per slot, plus the rows of the edges, never the
// rows of the range:
//   - histogram and level counts: slots of the level widths that divide the interval (a slot
//     must not straddle two buckets), edges under a minute. An interval that no level width
//     divides (under a minute, or such as 90s) is counted from the rows of the whole range;
//     Normalize picks one only for ranges of an hour or less (30s buckets), and an explicit one
//     is bounded by MaxBuckets.
//   - top events: slots from 5 minutes to a day, edges under 5 minutes; top users: slots of an
//     hour and 6 hours, edges under an hour.
//
// {tenant} is replaced by "tenant_id = ? AND " or by nothing (rows), {tenants} by
// "tenant_id = ?" or, for an admin, by a list of every tenant (counts: their key starts with
// the tenant, so each tenant's slots are one range of it).
//
// A bucket number is the distance from the first bucket's start divided by the interval.
// Every row and slot read is at or after that start, so the division never meets a negative number.
const (
	statsRowsByBucketAndLevel = `SELECT (timestamp - ?) / ?, level, count(*) FROM audit_logs
WHERE {tenant}timestamp >= ? AND timestamp < ?
GROUP BY 1, 2`
	statsSlotsByBucketAndLevel = `SELECT (slot * ? - ?) / ?, level, sum(n) FROM audit_stats_levels
WHERE {tenants} AND width = ? AND slot >= ? AND slot < ?
GROUP BY 1, 2`
	// A top list sums its parts in one statement, so only the listed keys leave SQLite.
	// A key whose slot counts its subtracted rows cancel (cheaperEdges) is not listed.
	statsTopOf         = `SELECT key, sum(n) AS c FROM ({parts}) GROUP BY key HAVING c > 0 ORDER BY c DESC, key LIMIT ?`
	statsKeyRows       = `SELECT {key} AS key, 1 AS n FROM audit_logs WHERE {tenant}timestamp >= ? AND timestamp < ? AND {key} <> ''`
	statsKeyRowsLess   = `SELECT {key} AS key, -1 AS n FROM audit_logs WHERE {tenant}timestamp >= ? AND timestamp < ? AND {key} <> ''`
	statsKeySlots      = `SELECT {key} AS key, n FROM {table} WHERE {tenants} AND width = ? AND slot >= ? AND slot < ?`
	statsTenantList    = `tenant_id IN (SELECT value FROM json_each(?))`
	selectStatsTenants = `WITH RECURSIVE t(id) AS (
	SELECT MIN(tenant_id) FROM audit_stats_levels
	UNION ALL
	SELECT (SELECT MIN(tenant_id) FROM audit_stats_levels WHERE tenant_id > t.id) FROM t WHERE t.id IS NOT NULL
) SELECT json_group_array(id) FROM t WHERE id IS NOT NULL`
)

// Stats returns the aggregates of q. Its statements run in one read transaction, so they see
// one snapshot: the top lists never count a record the total does not, and the counts agree
// with the rows (they are written in the rows' transactions).
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

// span is a part of a stats range: rows (width 0) or whole slots of width, from and to being
// Unix nanoseconds (multiples of width for slots).
type span struct {
	width, from, to int64
}

// cover splits [start, end) into spans: slots of the widest of widths that fit, narrower ones
// towards the ends, and rows for the edges narrower than widths[0]. Each width must be a
// multiple of the one before.
func cover(start, end int64, widths []int64) []span {
	if len(widths) == 0 {
		return []span{{0, start, end}}
	}
	w := widths[0]
	lo, hi := ceilDiv(start, w), floorDiv(end, w)
	if lo >= hi {
		return []span{{0, start, end}}
	}
	var out []span
	if start < lo*w {
		out = append(out, span{0, start, lo * w})
	}
	out = append(out, coverSlots(lo*w, hi*w, widths)...)
	if hi*w < end {
		out = append(out, span{0, hi * w, end})
	}
	return out
}

// coverSlots splits [from, to), whose ends are multiples of widths[0], into slots.
func coverSlots(from, to int64, widths []int64) []span {
	w := widths[0]
	if len(widths) == 1 {
		return []span{{w, from, to}}
	}
	next := widths[1]
	lo, hi := ceilDiv(from, next), floorDiv(to, next)
	if lo >= hi {
		return []span{{w, from, to}}
	}
	var out []span
	if from < lo*next {
		out = append(out, span{w, from, lo * next})
	}
	out = append(out, coverSlots(lo*next, hi*next, widths[1:])...)
	if hi*next < to {
		out = append(out, span{w, hi * next, to})
	}
	return out
}

// cheaperEdges replaces each rows span of spans (an edge) that is longer than half of the slot
// of width w holding it by that slot, returned in spans, less the rows of the slot's rest,
// returned in less: the edge's keys are then counted from at most half a slot of rows instead
// of up to a whole one. At 10M rows over 30 days (14k rows an hour), the rows of the top
// users' edges under an hour were most of a day's stats (BENCHMARKS.md, 10M rows). Only the
// top lists can use it: a subtracted row falls outside the range, in no bucket of a histogram.
// Exact as long as the slot counts its rows exactly, which Insert and Prune keep (rollup.go).
func cheaperEdges(in []span, w int64) (spans, less []span) {
	for _, sp := range in {
		from := floorDiv(sp.from, w) * w
		if sp.width != 0 || sp.to > from+w || 2*(sp.to-sp.from) <= w {
			spans = append(spans, sp) // slots, an edge across two slots, or the cheaper side
			continue
		}
		spans = append(spans, span{w, from, from + w})
		if from < sp.from {
			less = append(less, span{0, from, sp.from})
		}
		if sp.to < from+w {
			less = append(less, span{0, sp.to, from + w})
		}
	}
	return spans, less
}

// dividing returns the widths that divide interval: a prefix of widths, each a multiple of
// the one before.
func dividing(widths []int64, interval int64) []int64 {
	n := 0
	for n < len(widths) && interval%widths[n] == 0 {
		n++
	}
	return widths[:n]
}

// statsScope renders the statements for one tenant or, with tenants a JSON list, for an admin.
type statsScope struct {
	rowsCond  string // for rows: "tenant_id = ? AND " or ""
	rowsArgs  []any
	slotsCond string // for counts: "tenant_id = ?" or statsTenantList
	slotsArg  any
}

func tenantScope(tenant string) statsScope {
	return statsScope{"tenant_id = ? AND ", []any{tenant}, "tenant_id = ?", tenant}
}

func adminScope(tenantsJSON string) statsScope {
	return statsScope{"", nil, statsTenantList, tenantsJSON}
}

func (sc statsScope) render(query string) string {
	return strings.NewReplacer("{tenant}", sc.rowsCond, "{tenants}", sc.slotsCond).Replace(query)
}

// histogramQuery counts sp's (bucket, level) pairs, buckets of interval from first.
func (sc statsScope) histogramQuery(sp span, first, interval int64) (string, []any) {
	if sp.width == 0 {
		return sc.render(statsRowsByBucketAndLevel), append(append([]any{first, interval}, sc.rowsArgs...), sp.from, sp.to)
	}
	return sc.render(statsSlotsByBucketAndLevel), []any{sp.width, first, interval, sc.slotsArg, sp.width, sp.from / sp.width, sp.to / sp.width}
}

// topQuery lists the limit most frequent keys of t over spans less the rows of the spans in
// less (limit -1: all of them).
func (sc statsScope) topQuery(t rollupTable, spans, less []span, limit int64) (string, []any) {
	parts := make([]string, 0, len(spans)+len(less))
	var args []any
	for _, sp := range spans {
		if sp.width == 0 {
			parts = append(parts, statsKeyRows)
			args = append(append(args, sc.rowsArgs...), sp.from, sp.to)
		} else {
			parts = append(parts, statsKeySlots)
			args = append(args, sc.slotsArg, sp.width, sp.from/sp.width, sp.to/sp.width)
		}
	}
	for _, sp := range less {
		parts = append(parts, statsKeyRowsLess)
		args = append(append(args, sc.rowsArgs...), sp.from, sp.to)
	}
	query := strings.Replace(statsTopOf, "{parts}", strings.Join(parts, "\nUNION ALL\n"), 1)
	query = strings.NewReplacer("{key}", t.key, "{table}", t.name).Replace(sc.render(query))
	return query, append(args, limit)
}

// stats runs a normalized query; top < 0 lists every event and user (to merge the stats of
// several databases exactly).
func (s *Store) stats(ctx context.Context, q store.StatsQuery, top int) (store.Stats, error) {
	out := store.Stats{ByLevel: store.LevelCounts(), Histogram: q.EmptyHistogram()}

	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return out, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	sc := tenantScope(q.TenantID)
	if q.TenantID == "" {
		var list string
		if err := tx.QueryRowContext(ctx, selectStatsTenants).Scan(&list); err != nil {
			return out, fmt.Errorf("list tenants: %w", err)
		}
		sc = adminScope(list)
	}
	start, end := q.Start.UnixNano(), q.End.UnixNano()
	first, interval := q.BucketStart(q.Start).UnixNano(), int64(q.Interval)

	for _, sp := range cover(start, end, dividing(rollupWidths[levelsTable], interval)) {
		query, args := sc.histogramQuery(sp, first, interval)
		if err := addHistogram(ctx, tx, &out, query, args); err != nil {
			return out, fmt.Errorf("histogram: %w", err)
		}
	}

	limit := int64(top)
	if top < 0 {
		limit = -1 // SQLite: no limit
	}
	spans, less := topSpans(start, end, rollupWidths[eventsTable])
	query, args := sc.topQuery(eventsTable, spans, less, limit)
	if out.TopEvents, err = topCounts(ctx, tx, query, args); err != nil {
		return out, fmt.Errorf("top events: %w", err)
	}
	spans, less = topSpans(start, end, rollupWidths[usersTable])
	query, args = sc.topQuery(usersTable, spans, less, limit)
	if out.TopUsers, err = topCounts(ctx, tx, query, args); err != nil {
		return out, fmt.Errorf("top users: %w", err)
	}
	return out, nil
}

// topSpans is what a top list over [start, end) reads: cover's spans, with cheaperEdges.
func topSpans(start, end int64, widths []int64) (spans, less []span) {
	return cheaperEdges(cover(start, end, widths), widths[0])
}

// addHistogram adds the (bucket, level, count) rows of query to out's histogram and totals.
func addHistogram(ctx context.Context, tx *sql.Tx, out *store.Stats, query string, args []any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var bucket, level, n int64
		if err := rows.Scan(&bucket, &level, &n); err != nil {
			return err
		}
		if bucket < 0 || bucket >= int64(len(out.Histogram)) {
			return fmt.Errorf("bucket %d outside the %d of the range", bucket, len(out.Histogram))
		}
		l := record.Level(level)
		b := &out.Histogram[bucket]
		b.Count += n
		b.ByLevel[l.String()] += n
		out.Total += n
		out.ByLevel[l.String()] += n
		if store.IsFailure(l) {
			b.Failures += n
			out.Failures += n
		}
	}
	return rows.Err()
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
			for k, v := range p.Histogram[i].ByLevel {
				out.Histogram[i].ByLevel[k] += v
			}
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
