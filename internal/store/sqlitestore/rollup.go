package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Rollups: per-slot counts that Stats reads instead of the rows (schemaV6 creates the tables).
//
// A slot is the interval [slot*width, (slot+1)*width) of Unix nanoseconds: slot numbers are
// floor(timestamp / width), so slots are aligned to the epoch exactly like the histogram's
// buckets, and a slot number never overflows where its start time would (before 1677).
//
// Three tables, each keyed by (tenant_id, width, slot, key):
//   - audit_stats_levels counts rows per level: the histogram, the level counts and the failures.
//   - audit_stats_events and audit_stats_users count rows per event and per user: the top
//     lists. Empty events and users are not counted (Stats never lists them).
//
// Why these widths (rollupWidths): a histogram bucket of width I can be summed from slots of
// width w only when w divides I (a slot then never straddles two buckets), so the level widths
// are divisors of the intervals Normalize picks (1m, 5m, 15m, 1h, 1d; 15m serves 15m and 30m
// buckets). Level rows are few (at most five per tenant and slot), so five widths cost the
// writer little. Top lists need no alignment, only few slots per range: a day starting at any
// instant reads 3 six-hour slots and 5 hour slots (23 hour slots without the 6-hour width).
// Users are many (the load generator has 500 per tenant): a slot of them holds about as many
// keys as users active in it, so a per-minute count would be about as large as the rows, and
// users start at the hour; the parts of a range shorter than an hour are counted from the rows
// (stats.go). Every user width costs the writer one upsert per user per batch, 90% of the
// counts' writes, so users have no day width: a week reads 28 six-hour slots of users instead
// of about 22 slots with one. Events are few, so they have 5-minute to day slots and short row
// edges.
//
// Each width is a multiple of the one before (cover relies on it), and slots of every width
// are aligned to the epoch.
//
// Exactness: the counts change in the transaction that stores or deletes the rows (Insert,
// Prune, the v6 backfill), from the rows that statement actually stored or deleted, so a
// reader's snapshot always sees rows and counts that agree. A row written around the store
// (raw SQL) is not counted; the store never does that.
const (
	minute = int64(time.Minute)
	hour   = int64(time.Hour)
	day    = 24 * hour
)

// rollupTable is one of the three tables; key is its fourth key column.
type rollupTable struct {
	name, key string
}

var (
	levelsTable = rollupTable{"audit_stats_levels", "level"}
	eventsTable = rollupTable{"audit_stats_events", "event"}
	usersTable  = rollupTable{"audit_stats_users", "user_id"}
	// rollupTables is the order in which counts are written (any fixed order would do).
	rollupTables = []rollupTable{levelsTable, eventsTable, usersTable}
	// rollupWidths are each table's slot widths, narrowest first.
	rollupWidths = map[rollupTable][]int64{
		levelsTable: {minute, 5 * minute, 15 * minute, hour, day},
		eventsTable: {5 * minute, hour, 6 * hour, day},
		usersTable:  {hour, 6 * hour},
	}
)

// upsertSizes are the statement widths (rows per statement) a delta is written with: the
// largest first, so that a delta of n keys takes at most n/64 + 7 + 7 statements, all of them
// prepared once (three shapes per table) rather than one shape per n.
var upsertSizes = []int{64, 8, 1}

// upsertSQL adds n rows' counts to a table: an existing key's n grows by the delta (a negative
// delta from Prune shrinks it), a new key is inserted.
func upsertSQL(t rollupTable, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (tenant_id, width, slot, %s, n) VALUES ", t.name, t.key)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?)")
	}
	fmt.Fprintf(&b, " ON CONFLICT (tenant_id, width, slot, %s) DO UPDATE SET n = n + excluded.n", t.key)
	return b.String()
}

// upsertSQLs holds upsertSQL for every table and size, built once.
var upsertSQLs = func() map[rollupTable][]string {
	out := map[rollupTable][]string{}
	for _, t := range rollupTables {
		for _, n := range upsertSizes {
			out[t] = append(out[t], upsertSQL(t, n))
		}
	}
	return out
}()

// deleteEmptySQL removes a table's keys that Prune brought to zero, in the slot range it touched.
func deleteEmptySQL(t rollupTable) string {
	return fmt.Sprintf("DELETE FROM %s WHERE tenant_id = ? AND width = ? AND slot >= ? AND slot <= ? AND n = 0", t.name)
}

// rollupKey is one counted key: the fourth column is level (levels) or key (events, users).
type rollupKey struct {
	tenant      string
	width, slot int64
	level       int64
	key         string
}

// rollupDelta is what one transaction adds to (or, negative, removes from) the three tables,
// summed in Go so that each key is written once per transaction however many rows share it.
type rollupDelta struct {
	counts map[rollupTable]map[rollupKey]int64
}

func newRollupDelta() *rollupDelta {
	d := &rollupDelta{counts: map[rollupTable]map[rollupKey]int64{}}
	for _, t := range rollupTables {
		d.counts[t] = map[rollupKey]int64{}
	}
	return d
}

// add counts n rows (n < 0: removed rows) of one tenant, stored timestamp, level, event and user.
func (d *rollupDelta) add(tenant string, ts, level int64, event, user string, n int64) {
	levels := d.counts[levelsTable]
	for _, w := range rollupWidths[levelsTable] {
		levels[rollupKey{tenant: tenant, width: w, slot: floorDiv(ts, w), level: level}] += n
	}
	if event != "" {
		events := d.counts[eventsTable]
		for _, w := range rollupWidths[eventsTable] {
			events[rollupKey{tenant: tenant, width: w, slot: floorDiv(ts, w), key: event}] += n
		}
	}
	if user != "" {
		users := d.counts[usersTable]
		for _, w := range rollupWidths[usersTable] {
			users[rollupKey{tenant: tenant, width: w, slot: floorDiv(ts, w), key: user}] += n
		}
	}
}

// sortedKeys returns a table's keys in primary-key order, so that the upserts walk the table's
// B-tree forward instead of jumping around it.
func (d *rollupDelta) sortedKeys(t rollupTable) []rollupKey {
	keys := make([]rollupKey, 0, len(d.counts[t]))
	for k, n := range d.counts[t] {
		if n != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b rollupKey) int {
		return cmp.Or(strings.Compare(a.tenant, b.tenant), cmp.Compare(a.width, b.width),
			cmp.Compare(a.slot, b.slot), cmp.Compare(a.level, b.level), strings.Compare(a.key, b.key))
	})
	return keys
}

// rollupStatements gives the transaction's statement for a table and a size (an index of
// upsertSizes). Insert and Prune prepare them on the writer before their transaction begins (it
// holds the writer's only connection); the migration prepares them in its transaction.
type rollupStatements func(t rollupTable, size int) (*sql.Stmt, error)

// write applies d in tx.
func (d *rollupDelta) write(ctx context.Context, stmt rollupStatements) error {
	args := make([]any, 0, upsertSizes[0]*5)
	for _, t := range rollupTables {
		keys := d.sortedKeys(t)
		for si, size := range upsertSizes {
			for len(keys) >= size {
				args = args[:0]
				for _, k := range keys[:size] {
					var fourth any = k.key
					if t == levelsTable {
						fourth = k.level
					}
					args = append(args, k.tenant, k.width, k.slot, fourth, d.counts[t][k])
				}
				st, err := stmt(t, si)
				if err != nil {
					return fmt.Errorf("prepare %s: %w", t.name, err)
				}
				if _, err := st.ExecContext(ctx, args...); err != nil {
					return fmt.Errorf("update %s: %w", t.name, err)
				}
				keys = keys[size:]
			}
		}
	}
	return nil
}

// deleteEmpty removes the keys d brought to zero (Prune): for each table, tenant and width,
// the keys with n = 0 between the smallest and the largest slot d touched.
func (d *rollupDelta) deleteEmpty(ctx context.Context, tx *sql.Tx) error {
	type group struct {
		tenant string
		width  int64
	}
	for _, t := range rollupTables {
		ranges := map[group][2]int64{}
		for k := range d.counts[t] {
			g := group{k.tenant, k.width}
			r, ok := ranges[g]
			if !ok {
				r = [2]int64{math.MaxInt64, math.MinInt64}
			}
			ranges[g] = [2]int64{min(r[0], k.slot), max(r[1], k.slot)}
		}
		for g, r := range ranges {
			if _, err := tx.ExecContext(ctx, deleteEmptySQL(t), g.tenant, g.width, r[0], r[1]); err != nil {
				return fmt.Errorf("delete empty counts of %s: %w", t.name, err)
			}
		}
	}
	return nil
}

// prepareRollups prepares every upsert statement on the writer (cached for the store's life)
// and returns them bound to tx once it exists.
func (s *Store) prepareRollups(ctx context.Context) (map[rollupTable][]*sql.Stmt, error) {
	out := map[rollupTable][]*sql.Stmt{}
	for _, t := range rollupTables {
		for _, q := range upsertSQLs[t] {
			st, err := s.counts.prepare(ctx, q)
			if err != nil {
				return nil, err
			}
			out[t] = append(out[t], st)
		}
	}
	return out, nil
}

// inTx returns prepared statements bound to tx, each bound on first use.
func inTx(ctx context.Context, tx *sql.Tx, prepared map[rollupTable][]*sql.Stmt) rollupStatements {
	bound := map[*sql.Stmt]*sql.Stmt{}
	return func(t rollupTable, size int) (*sql.Stmt, error) {
		st := prepared[t][size]
		if b, ok := bound[st]; ok {
			return b, nil
		}
		b := tx.StmtContext(ctx, st)
		bound[st] = b
		return b, nil
	}
}

// preparedInTx prepares the statements in tx itself (the migration, which runs before the
// store's statement cache exists).
func preparedInTx(ctx context.Context, tx *sql.Tx) rollupStatements {
	cache := map[string]*sql.Stmt{}
	return func(t rollupTable, size int) (*sql.Stmt, error) {
		q := upsertSQLs[t][size]
		if st, ok := cache[q]; ok {
			return st, nil
		}
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return nil, err
		}
		cache[q] = st
		return st, nil
	}
}

// selectRowsAfter reads back the rows a transaction inserted, when some of its records were
// replays: SQLite gives a new row the largest seq so far plus one, so the rows stored by this
// transaction are exactly those above the largest seq it found before inserting.
const (
	selectMaxSeq    = `SELECT COALESCE(MAX(seq), 0) FROM audit_logs`
	selectRowsAfter = `SELECT tenant_id, timestamp, level, event, user_id FROM audit_logs WHERE seq > ?`
)

// countRowsAfter adds the rows above seq to d and returns how many there were.
func countRowsAfter(ctx context.Context, tx *sql.Tx, seq int64, d *rollupDelta) (int, error) {
	return countStoredRows(ctx, tx, d, selectRowsAfter, seq)
}

// countStoredRows adds to d every row query selects as (tenant_id, timestamp, level, event, user_id).
func countStoredRows(ctx context.Context, tx *sql.Tx, d *rollupDelta, query string, args ...any) (int, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var tenant, event, user string
		var ts, level int64
		if err := rows.Scan(&tenant, &ts, &level, &event, &user); err != nil {
			return n, err
		}
		d.add(tenant, ts, level, event, user, 1)
		n++
	}
	return n, rows.Err()
}

// backfillRollups counts the rows stored before version 6, one day of rows at a time in
// timestamp order (through audit_logs_time, which covers the columns), so memory holds one
// day's keys however large the file is. It is the same counting Insert does, so old and new
// rows are counted alike.
func backfillRollups(ctx context.Context, tx *sql.Tx) error {
	stmt := preparedInTx(ctx, tx)
	const selectDay = `SELECT tenant_id, timestamp, level, event, user_id FROM audit_logs
		WHERE timestamp >= ? AND timestamp <= ?`
	var next sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MIN(timestamp) FROM audit_logs`).Scan(&next); err != nil {
		return fmt.Errorf("find the oldest row: %w", err)
	}
	for next.Valid {
		slot := floorDiv(next.Int64, day)
		lo, hi := slot*day, slot*day+(day-1) // the day's first and last nanosecond
		if slot < 0 && next.Int64 < math.MinInt64+day {
			lo = math.MinInt64 // the first day of the storable range starts before it
		}
		if slot > 0 && lo > math.MaxInt64-(day-1) {
			hi = math.MaxInt64
		}
		d := newRollupDelta()
		if _, err := countStoredRows(ctx, tx, d, selectDay, lo, hi); err != nil {
			return fmt.Errorf("count the rows of day %d: %w", slot, err)
		}
		if err := d.write(ctx, stmt); err != nil {
			return fmt.Errorf("write the counts of day %d: %w", slot, err)
		}
		if hi == math.MaxInt64 {
			return nil
		}
		if err := tx.QueryRowContext(ctx, `SELECT MIN(timestamp) FROM audit_logs WHERE timestamp > ?`, hi).Scan(&next); err != nil {
			return fmt.Errorf("find the day after day %d: %w", slot, err)
		}
	}
	return nil
}

// floorDiv is n/m rounded down (m > 0), also for negative n.
func floorDiv(n, m int64) int64 {
	q := n / m
	if n%m != 0 && n < 0 {
		q--
	}
	return q
}

// ceilDiv is n/m rounded up (m > 0).
func ceilDiv(n, m int64) int64 {
	q := n / m
	if n%m != 0 && n > 0 {
		q++
	}
	return q
}
