package sqlitestore

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

var pruneNow = time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)

// agedRecords returns n records of tenant, levels cycling, three per timestamp, the oldest
// n/3 hours before pruneNow, with messages padded to pad bytes.
func agedRecords(prefix, tenant string, n, pad int) []record.Record {
	out := make([]record.Record, n)
	filler := strings.Repeat("x", pad)
	for i := range out {
		ts := pruneNow.Add(-time.Duration(n/3-i/3) * time.Hour)
		out[i] = record.Record{
			ID: fmt.Sprintf("%s-%06d", prefix, i), Timestamp: ts, ObservedTimestamp: ts,
			Level: record.Levels[i%len(record.Levels)], TenantID: tenant, Event: "aged",
			Message: "aged record " + filler,
		}
	}
	return out
}

func countRows(t *testing.T, s *Store, where string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, s.read.QueryRow(`SELECT count(*) FROM audit_logs WHERE `+where, args...).Scan(&n))
	return n
}

// With chunks of 7 rows, chunk boundaries fall between rows of one timestamp and between
// kept and expired rows: the keyset walk must still delete every expired row and no other.
func TestPrune_ChunkBoundariesNeitherMissNorOverreachRows(t *testing.T) {
	s := openTemp(t)
	s.pruneChunkRows = 7
	recs := agedRecords("c", "acme", 600, 0)
	_, err := s.Insert(context.Background(), "acme", recs)
	require.NoError(t, err)
	policy := store.RetentionPolicy{
		ByLevel: map[record.Level]time.Duration{record.LevelDebug: 50 * time.Hour, record.LevelInfo: 120 * time.Hour, record.LevelSecurity: 0},
		Default: 170 * time.Hour,
	}
	want := store.LevelCounts()
	var total int64
	for _, r := range recs {
		if p := policy.For(r.Level); p > 0 && r.Timestamp.Before(pruneNow.Add(-p)) {
			want[r.Level.String()]++
			total++
		}
	}
	res, err := s.Prune(context.Background(), policy, pruneNow)
	require.NoError(t, err)
	assert.Equal(t, total, res.Total, "Prune removed (%v, want %v)", res.RemovedByLevel, want)
	for level, n := range want {
		assert.Equal(t, n, res.RemovedByLevel[level], "removed %s", level)
	}
	for _, r := range recs {
		p := policy.For(r.Level)
		expired := p > 0 && r.Timestamp.Before(pruneNow.Add(-p))
		_, err := s.Get(context.Background(), "", r.ID)
		if expired {
			assert.Error(t, err, "%s (%s, %s old) survived", r.ID, r.Level, pruneNow.Sub(r.Timestamp))
		} else {
			assert.NoError(t, err, "%s (%s, %s old) was removed", r.ID, r.Level, pruneNow.Sub(r.Timestamp))
		}
	}
	var fts int64
	require.NoError(t, s.read.QueryRow(`SELECT count(*) FROM audit_fts WHERE audit_fts MATCH 'aged'`).Scan(&fts))
	remaining := countRows(t, s, "1")
	assert.Equal(t, remaining, fts, "the full-text index holds %d rows for %d records", fts, remaining)
}

func TestPrune_ANewFileReturnsFreedPagesToTheFileSystem(t *testing.T) {
	s := openTemp(t)
	var mode int
	require.NoError(t, s.write.QueryRow(`PRAGMA auto_vacuum`).Scan(&mode), "PRAGMA auto_vacuum")
	require.Equal(t, autoVacuumIncremental, mode, "auto_vacuum, want INCREMENTAL (2)")
	for i := range 3 {
		_, err := s.Insert(context.Background(), "acme", agedRecords(fmt.Sprintf("v%d", i), "acme", 1000, 1000))
		require.NoError(t, err)
	}
	_, err := s.write.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	require.NoError(t, err)
	before := fileSize(t, s.cfg.Path)
	res, err := s.Prune(context.Background(), store.RetentionPolicy{Default: time.Nanosecond}, pruneNow.Add(time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 3000, res.Total, "records Prune removed")
	var free int64
	assert.NoError(t, s.write.QueryRow(`PRAGMA freelist_count`).Scan(&free), "PRAGMA freelist_count")
	assert.Zero(t, free, "freelist_count after Prune")
	_, err = s.write.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	require.NoError(t, err)
	after := fileSize(t, s.cfg.Path)
	assert.LessOrEqual(t, after, before/4, "the file is %d bytes after pruning everything, was %d: space was not reclaimed", after, before)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}

// A file created by the first release has auto_vacuum NONE and tables: Open leaves its mode
// alone (converting it means rewriting the whole file), and Prune still deletes.
func TestPrune_AFileWithoutIncrementalVacuumIsPrunedAndLeftInItsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openRaw(t, path)
	require.NoError(t, migrate(context.Background(), db, migrations[:1]))
	_ = db.Close()
	s := openAt(t, path)
	defer s.Close()
	var mode int
	require.NoError(t, s.write.QueryRow(`PRAGMA auto_vacuum`).Scan(&mode), "PRAGMA auto_vacuum")
	require.Zero(t, mode, "auto_vacuum, want the file's NONE (0) kept")
	_, err := s.Insert(context.Background(), "acme", agedRecords("old", "acme", 300, 500))
	require.NoError(t, err)
	res, err := s.Prune(context.Background(), store.RetentionPolicy{Default: time.Nanosecond}, pruneNow.Add(time.Hour))
	require.NoError(t, err, "Prune")
	require.EqualValues(t, 300, res.Total, "Prune removed")
	assert.Zero(t, countRows(t, s, "1"), "rows left")
}

func TestPrune_StopsBetweenChunksWhenCancelledAndReportsWhatItRemoved(t *testing.T) {
	s := openTemp(t)
	s.pruneChunkRows = 10
	_, err := s.Insert(context.Background(), "acme", agedRecords("x", "acme", 100, 0))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := s.Prune(ctx, store.RetentionPolicy{Default: time.Nanosecond}, pruneNow.Add(time.Hour))
	assert.ErrorIs(t, err, context.Canceled, "Prune with a cancelled context")
	left := countRows(t, s, "1")
	assert.Equal(t, 100-left, res.Total, "Prune reported %d removed, but %d of 100 rows are left", res.Total, left)
}

// Inserts keep succeeding while a long prune runs: the writer is released between chunks.
func TestPrune_InsertsProceedBetweenChunks(t *testing.T) {
	s := openTemp(t)
	s.pruneChunkRows = 50
	_, err := s.Insert(context.Background(), "acme", agedRecords("old", "acme", 3000, 200))
	require.NoError(t, err)
	var (
		wg       sync.WaitGroup
		inserted int
		pruned   = make(chan struct{})
		insErr   error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-pruned:
				return
			default:
			}
			ts := pruneNow.Add(time.Duration(i) * time.Second)
			r := record.Record{ID: fmt.Sprintf("new-%d", i), Timestamp: ts, Level: record.LevelInfo}
			if _, insErr = s.Insert(context.Background(), "acme", []record.Record{r}); insErr != nil {
				return
			}
			inserted++
		}
	}()
	res, err := s.Prune(context.Background(), store.RetentionPolicy{Default: time.Nanosecond}, pruneNow)
	close(pruned)
	wg.Wait()
	require.NoError(t, err, "Prune")
	require.NoError(t, insErr, "Insert")
	assert.EqualValues(t, 3000, res.Total, "Prune removed, want the 3000 old records")
	assert.NotZero(t, inserted, "no insert completed while Prune ran its 60 chunks")
	assert.Equal(t, int64(inserted), countRows(t, s, "id LIKE 'new-%'"), "new records stored")
}

func TestPruneCutoffs_ZeroKeepsForeverAndTheLongestPeriodDoesNotOverflow(t *testing.T) {
	cutoffs, upper := pruneCutoffs(store.RetentionPolicy{
		ByLevel: map[record.Level]time.Duration{record.LevelDebug: time.Hour, record.LevelSecurity: 0},
		Default: math.MaxInt64,
	}, pruneNow)
	assert.Equal(t, pruneNow.Add(-time.Hour).UnixNano(), cutoffs[0], "debug cutoff")
	assert.Equal(t, int64(math.MinInt64), cutoffs[4], "security cutoff, want MinInt64 (forever)")
	// now - MaxInt64 in integer nanoseconds would wrap around to the far future and delete
	// everything; as a time it is 1733.
	assert.Equal(t, pruneNow.Add(-math.MaxInt64).UnixNano(), cutoffs[1], "the longest period's cutoff")
	assert.LessOrEqual(t, cutoffs[1], int64(0), "the longest period gives cutoff %d, want it in the past", cutoffs[1])
	assert.Equal(t, cutoffs[0], upper, "upper, want the debug cutoff")
}

// Stats and the retention delete read the time indexes only (covering), never the table, and
// Stats reads each tenant's counts as one range of their primary key.
func TestStatsAndPrunePlans_ReadCoveringIndexes(t *testing.T) {
	s := openTemp(t)
	tenant, admin := tenantScope("acme"), adminScope(`["acme","globex"]`)
	rows := []span{{0, 0, 10}, {0, 20, 30}}
	slots := []span{{int64(time.Hour), 0, int64(time.Hour)}}
	first := func(q string, _ []any) string { return q }
	args := func(_ string, a []any) []any { return a }
	const slotSearch = "USING PRIMARY KEY (tenant_id=? AND width=? AND slot>? AND slot<?)"
	tests := []struct {
		name, query string
		args        []any
		want        string
	}{
		{"a tenant's histogram of rows", first(tenant.histogramQuery(rows[0], 0, 1)), args(tenant.histogramQuery(rows[0], 0, 1)), "COVERING INDEX audit_logs_tenant_time"},
		{"a tenant's top events of rows", first(tenant.topQuery(eventsTable, rows, nil, 10)), args(tenant.topQuery(eventsTable, rows, nil, 10)), "COVERING INDEX audit_logs_tenant_time"},
		{"a tenant's top users of rows", first(tenant.topQuery(usersTable, rows, nil, 10)), args(tenant.topQuery(usersTable, rows, nil, 10)), "COVERING INDEX audit_logs_tenant_time"},
		{"an admin's histogram of rows", first(admin.histogramQuery(rows[0], 0, 1)), args(admin.histogramQuery(rows[0], 0, 1)), "COVERING INDEX audit_logs_time"},
		{"an admin's top users of rows", first(admin.topQuery(usersTable, rows, nil, 10)), args(admin.topQuery(usersTable, rows, nil, 10)), "COVERING INDEX audit_logs_time"},
		{"a tenant's histogram of slots", first(tenant.histogramQuery(slots[0], 0, 1)), args(tenant.histogramQuery(slots[0], 0, 1)), "SEARCH audit_stats_levels " + slotSearch},
		{"a tenant's top users of slots", first(tenant.topQuery(usersTable, slots, nil, 10)), args(tenant.topQuery(usersTable, slots, nil, 10)), "SEARCH audit_stats_users " + slotSearch},
		{"an admin's histogram of slots", first(admin.histogramQuery(slots[0], 0, 1)), args(admin.histogramQuery(slots[0], 0, 1)), "SEARCH audit_stats_levels " + slotSearch},
		{"an admin's top events of slots", first(admin.topQuery(eventsTable, slots, nil, 10)), args(admin.topQuery(eventsTable, slots, nil, 10)), "SEARCH audit_stats_events " + slotSearch},
		{"an admin's top users of slots", first(admin.topQuery(usersTable, slots, nil, 10)), args(admin.topQuery(usersTable, slots, nil, 10)), "SEARCH audit_stats_users " + slotSearch},
		{"an admin's top users of slots less rows", first(admin.topQuery(usersTable, slots, rows, 10)), args(admin.topQuery(usersTable, slots, rows, 10)), "COVERING INDEX audit_logs_time"},
		{"a tenant's top users of slots less rows", first(tenant.topQuery(usersTable, slots, rows, 10)), args(tenant.topQuery(usersTable, slots, rows, 10)), "COVERING INDEX audit_logs_tenant_time"},
		{"the retention delete", pruneStatement, []any{0, 1, 1, 1, 1, 1, 1, 1, 10}, "COVERING INDEX audit_logs_time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Contains(t, queryPlan(t, s, tc.query, tc.args), tc.want, "plan")
		})
	}
}
