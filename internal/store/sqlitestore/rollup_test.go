package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// rollupContents lists every stored count as "table tenant width slot key" -> n.
func rollupContents(t *testing.T, db *sql.DB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, tb := range rollupTables {
		rows, err := db.Query(fmt.Sprintf(`SELECT tenant_id, width, slot, %s, n FROM %s`, tb.key, tb.name))
		require.NoErrorf(t, err, "read %s", tb.name)
		for rows.Next() {
			var tenant, key string
			var width, slot, n int64
			require.NoError(t, rows.Scan(&tenant, &width, &slot, &key, &n))
			out[fmt.Sprintf("%s %s %d %d %s", tb.name, tenant, width, slot, key)] = n
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
	}
	return out
}

// recount counts the rows db holds now, as Insert would have counted them.
func recount(t *testing.T, db *sql.DB) map[string]int64 {
	t.Helper()
	tx, err := db.Begin()
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	d := newRollupDelta()
	_, err = countStoredRows(context.Background(), tx, d, `SELECT tenant_id, timestamp, level, event, user_id FROM audit_logs`)
	require.NoError(t, err, "recount the rows")
	out := map[string]int64{}
	for _, tb := range rollupTables {
		for k, n := range d.counts[tb] {
			key := k.key
			if tb == levelsTable {
				key = fmt.Sprint(k.level)
			}
			out[fmt.Sprintf("%s %s %d %d %s", tb.name, k.tenant, k.width, k.slot, key)] = n
		}
	}
	return out
}

// statsRecords makes n records of a few tenants, users, events and levels, spread over span
// from start, some without a user or an event.
func statsRecords(rng *rand.Rand, prefix string, n int, start time.Time, span time.Duration) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		r := record.Record{
			ID:        fmt.Sprintf("%s-%05d", prefix, i),
			TenantID:  []string{"acme", "globex", "initech"}[rng.IntN(3)],
			Timestamp: start.Add(time.Duration(rng.Int64N(int64(span)))),
			Level:     record.Levels[rng.IntN(len(record.Levels))],
			Event:     []string{"", "user.login", "user.logout", "document.view", "role.grant"}[rng.IntN(5)],
			UserID:    fmt.Sprintf("u%02d", rng.IntN(40)),
		}
		if rng.IntN(8) == 0 {
			r.UserID = ""
		}
		out[i] = r
	}
	return out
}

func insertByTenant(t *testing.T, s store.Store, recs []record.Record) {
	t.Helper()
	by := map[string][]record.Record{}
	for _, r := range recs {
		by[r.TenantID] = append(by[r.TenantID], r)
	}
	for tenant, list := range by {
		_, err := s.Insert(context.Background(), tenant, list)
		require.NoErrorf(t, err, "Insert %s", tenant)
	}
}

// expectedStats computes q (normalized) from the records themselves: the oracle.
func expectedStats(q store.StatsQuery, recs []record.Record, top int) store.Stats {
	out := store.Stats{ByLevel: store.LevelCounts(), Histogram: q.EmptyHistogram()}
	events, users := map[string]int64{}, map[string]int64{}
	first := q.BucketStart(q.Start)
	for _, r := range recs {
		if q.TenantID != "" && r.TenantID != q.TenantID || r.Timestamp.Before(q.Start) || !r.Timestamp.Before(q.End) {
			continue
		}
		b := &out.Histogram[r.Timestamp.Sub(first)/q.Interval]
		b.Count++
		b.ByLevel[r.Level.String()]++
		out.Total++
		out.ByLevel[r.Level.String()]++
		if store.IsFailure(r.Level) {
			b.Failures++
			out.Failures++
		}
		if r.Event != "" {
			events[r.Event]++
		}
		if r.UserID != "" {
			users[r.UserID]++
		}
	}
	if top < 0 {
		top = len(events) + len(users)
	}
	out.TopEvents, out.TopUsers = topOf(events, top), topOf(users, top)
	return out
}

// A replayed record is skipped by the insert, so it must not be counted again: a whole batch
// sent twice, and a batch mixing replays, new records and a record repeated within the batch.
func TestInsert_CountsOnlyTheRowsItStores(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	day0 := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	recs := statsRecords(rng, "r", 300, day0, 3*time.Hour)
	for i := range recs {
		recs[i].TenantID = "acme"
	}
	n, err := s.Insert(ctx, "acme", recs)
	require.NoError(t, err)
	require.Equal(t, 300, n)
	before := rollupContents(t, s.write)

	n, err = s.Insert(ctx, "acme", recs)
	require.NoError(t, err, "replay")
	require.Zero(t, n, "a replay stored rows")
	assert.Equal(t, before, rollupContents(t, s.write), "counts after a replay of the whole batch")

	more := statsRecords(rng, "new", 120, day0, 3*time.Hour)
	for i := range more {
		more[i].TenantID = "acme"
	}
	mixed := append(append(append([]record.Record{}, recs[100:200]...), more...), more[7])
	n, err = s.Insert(ctx, "acme", mixed)
	require.NoError(t, err, "a batch of replays and new records")
	require.Equal(t, 120, n, "rows stored from the mixed batch")
	assert.Equal(t, recount(t, s.write), rollupContents(t, s.write), "counts after a mixed batch")

	all := append(append([]record.Record{}, recs...), more...)
	q := store.StatsQuery{TenantID: "acme", Start: day0, End: day0.Add(24 * time.Hour)}
	got, err := s.Stats(ctx, q)
	require.NoError(t, err)
	nq, _ := q.Normalize()
	assert.Equal(t, expectedStats(nq, all, nq.Top), got, "Stats after replays")
	assert.EqualValues(t, 420, got.Total, "Stats total after replays")
}

// Retention takes the rows it deletes out of the counts, chunk by chunk, and removes the keys
// it empties, so the tables shrink with the rows.
func TestPrune_TakesTheRowsItDeletesOutOfTheCounts(t *testing.T) {
	s := openTemp(t)
	s.pruneChunkRows = 37 // many chunks, boundaries inside slots
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	now := time.Date(2025, 3, 20, 12, 0, 0, 0, time.UTC)
	recs := statsRecords(rng, "r", 2000, now.Add(-10*24*time.Hour), 10*24*time.Hour)
	insertByTenant(t, s, recs)

	policy := store.RetentionPolicy{Default: 7 * 24 * time.Hour, ByLevel: map[record.Level]time.Duration{
		record.LevelDebug: 26*time.Hour + 17*time.Minute, record.LevelSecurity: 0,
	}}
	res, err := s.Prune(ctx, policy, now)
	require.NoError(t, err)
	require.NotZero(t, res.Total, "the fixture has expired rows")
	require.Less(t, int(res.Total), len(recs), "the fixture keeps rows")
	assert.Equal(t, recount(t, s.write), rollupContents(t, s.write), "counts after Prune")
	for _, tb := range rollupTables {
		var zero int
		require.NoError(t, s.write.QueryRow(`SELECT count(*) FROM `+tb.name+` WHERE n <= 0`).Scan(&zero))
		assert.Zerof(t, zero, "%s keeps %d counts at zero or below", tb.name, zero)
	}
	var kept []record.Record
	for _, r := range recs {
		if period := policy.For(r.Level); period == 0 || !r.Timestamp.Before(now.Add(-period)) {
			kept = append(kept, r)
		}
	}
	q := store.StatsQuery{Start: now.Add(-11 * 24 * time.Hour), End: now, Interval: time.Hour, Top: 50}
	got, err := s.Stats(ctx, q)
	require.NoError(t, err)
	nq, _ := q.Normalize()
	assert.Equal(t, expectedStats(nq, kept, nq.Top), got, "Stats after Prune")

	_, err = s.Prune(ctx, store.RetentionPolicy{Default: time.Nanosecond}, now.Add(time.Hour))
	require.NoError(t, err, "prune everything")
	assert.Empty(t, rollupContents(t, s.write), "counts after every row was pruned")
}

// A file written at version 5 reaches version 6 with its rows counted, across days and
// tenants, before 1970 too; Stats then answers from the counts as it did from the rows.
func TestMigrate_Version6CountsTheRowsAV5FileHolds(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openRaw(t, path)
	require.NoError(t, migrate(ctx, db, migrations[:5]))
	rng := rand.New(rand.NewPCG(8, 9))
	recs := statsRecords(rng, "v5", 1500, time.Date(1969, 12, 29, 5, 0, 0, 0, time.UTC), 6*24*time.Hour)
	for _, r := range recs {
		_, err := db.Exec(`INSERT INTO audit_logs (id, timestamp, observed_timestamp, level, tenant_id, event, user_id)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Timestamp.UnixNano(), r.Timestamp.UnixNano(), int64(r.Level), r.TenantID, r.Event, r.UserID)
		require.NoError(t, err)
	}
	_ = db.Close()

	s := openAt(t, path)
	defer s.Close()
	require.Equal(t, allVersions(), versions(t, s.write), "schema_version")
	counts := rollupContents(t, s.write)
	require.NotEmpty(t, counts, "no counts after the migration")
	assert.Equal(t, recount(t, s.write), counts, "counts after the migration")
	for _, tenant := range []string{"", "globex"} {
		q := store.StatsQuery{TenantID: tenant, Start: time.Date(1969, 12, 30, 7, 13, 0, 0, time.UTC), End: time.Date(1970, 1, 2, 19, 0, 0, 0, time.UTC), Interval: 15 * time.Minute, Top: 5}
		got, err := s.Stats(ctx, q)
		require.NoError(t, err)
		nq, _ := q.Normalize()
		assert.Equalf(t, expectedStats(nq, recs, nq.Top), got, "Stats of tenant %q after the migration", tenant)
	}
}
