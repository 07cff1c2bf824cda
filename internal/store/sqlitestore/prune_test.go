package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
	if err := s.read.QueryRow(`SELECT count(*) FROM audit_logs WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// With chunks of 7 rows, chunk boundaries fall between rows of one timestamp and between
// kept and expired rows: the keyset walk must still delete every expired row and no other.
func TestPrune_ChunkBoundariesNeitherMissNorOverreachRows(t *testing.T) {
	s := openTemp(t)
	s.pruneChunkRows = 7
	recs := agedRecords("c", "acme", 600, 0)
	if _, err := s.Insert(context.Background(), "acme", recs); err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != total {
		t.Errorf("Prune removed %d, want %d (%v, want %v)", res.Total, total, res.RemovedByLevel, want)
	}
	for level, n := range want {
		if res.RemovedByLevel[level] != n {
			t.Errorf("removed %s = %d, want %d", level, res.RemovedByLevel[level], n)
		}
	}
	for _, r := range recs {
		p := policy.For(r.Level)
		expired := p > 0 && r.Timestamp.Before(pruneNow.Add(-p))
		_, err := s.Get(context.Background(), "", r.ID)
		switch {
		case expired && err == nil:
			t.Errorf("%s (%s, %s old) survived", r.ID, r.Level, pruneNow.Sub(r.Timestamp))
		case !expired && err != nil:
			t.Errorf("%s (%s, %s old) was removed: %v", r.ID, r.Level, pruneNow.Sub(r.Timestamp), err)
		}
	}
	var fts int64
	if err := s.read.QueryRow(`SELECT count(*) FROM audit_fts WHERE audit_fts MATCH 'aged'`).Scan(&fts); err != nil {
		t.Fatal(err)
	}
	if remaining := countRows(t, s, "1"); fts != remaining {
		t.Errorf("the full-text index holds %d rows for %d records", fts, remaining)
	}
}

func TestPrune_ANewFileReturnsFreedPagesToTheFileSystem(t *testing.T) {
	s := openTemp(t)
	var mode int
	if err := s.write.QueryRow(`PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != autoVacuumIncremental {
		t.Fatalf("auto_vacuum = %d (%v), want INCREMENTAL (2)", mode, err)
	}
	for i := range 3 {
		if _, err := s.Insert(context.Background(), "acme", agedRecords(fmt.Sprintf("v%d", i), "acme", 1000, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.write.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	before := fileSize(t, s.cfg.Path)
	res, err := s.Prune(context.Background(), store.RetentionPolicy{Default: time.Nanosecond}, pruneNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 3000 {
		t.Fatalf("Prune removed %d records, want 3000", res.Total)
	}
	var free int64
	if err := s.write.QueryRow(`PRAGMA freelist_count`).Scan(&free); err != nil || free != 0 {
		t.Errorf("freelist_count = %d (%v) after Prune, want 0", free, err)
	}
	if _, err := s.write.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	if after := fileSize(t, s.cfg.Path); after > before/4 {
		t.Errorf("the file is %d bytes after pruning everything, was %d: space was not reclaimed", after, before)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// A file created by the first release has auto_vacuum NONE and tables: Open leaves its mode
// alone (converting it means rewriting the whole file), and Prune still deletes.
func TestPrune_AFileWithoutIncrementalVacuumIsPrunedAndLeftInItsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openRaw(t, path)
	if err := migrate(context.Background(), db, migrations[:1]); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	s := openAt(t, path)
	defer s.Close()
	var mode int
	if err := s.write.QueryRow(`PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != 0 {
		t.Fatalf("auto_vacuum = %d (%v), want the file's NONE (0) kept", mode, err)
	}
	if _, err := s.Insert(context.Background(), "acme", agedRecords("old", "acme", 300, 500)); err != nil {
		t.Fatal(err)
	}
	res, err := s.Prune(context.Background(), store.RetentionPolicy{Default: time.Nanosecond}, pruneNow.Add(time.Hour))
	if err != nil || res.Total != 300 {
		t.Fatalf("Prune = %d, %v; want 300 removed", res.Total, err)
	}
	if n := countRows(t, s, "1"); n != 0 {
		t.Errorf("%d rows left", n)
	}
}

func TestPrune_StopsBetweenChunksWhenCancelledAndReportsWhatItRemoved(t *testing.T) {
	s := openTemp(t)
	s.pruneChunkRows = 10
	if _, err := s.Insert(context.Background(), "acme", agedRecords("x", "acme", 100, 0)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := s.Prune(ctx, store.RetentionPolicy{Default: time.Nanosecond}, pruneNow.Add(time.Hour))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Prune with a cancelled context = %v, want context.Canceled", err)
	}
	if left := countRows(t, s, "1"); res.Total != 100-left {
		t.Errorf("Prune reported %d removed, but %d of 100 rows are left", res.Total, left)
	}
}

// Inserts keep succeeding while a long prune runs: the writer is released between chunks.
func TestPrune_InsertsProceedBetweenChunks(t *testing.T) {
	s := openTemp(t)
	s.pruneChunkRows = 50
	if _, err := s.Insert(context.Background(), "acme", agedRecords("old", "acme", 3000, 200)); err != nil {
		t.Fatal(err)
	}
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
	if err != nil || insErr != nil {
		t.Fatalf("Prune: %v; Insert: %v", err, insErr)
	}
	if res.Total != 3000 {
		t.Errorf("Prune removed %d, want the 3000 old records", res.Total)
	}
	if inserted == 0 {
		t.Error("no insert completed while Prune ran its 60 chunks")
	}
	if n := countRows(t, s, "id LIKE 'new-%'"); n != int64(inserted) {
		t.Errorf("%d new records stored, want %d", n, inserted)
	}
}

func TestPruneCutoffs_ZeroKeepsForeverAndTheLongestPeriodDoesNotOverflow(t *testing.T) {
	cutoffs, upper := pruneCutoffs(store.RetentionPolicy{
		ByLevel: map[record.Level]time.Duration{record.LevelDebug: time.Hour, record.LevelSecurity: 0},
		Default: math.MaxInt64,
	}, pruneNow)
	if cutoffs[0] != pruneNow.Add(-time.Hour).UnixNano() {
		t.Errorf("debug cutoff = %d", cutoffs[0])
	}
	if cutoffs[4] != math.MinInt64 {
		t.Errorf("security cutoff = %d, want MinInt64 (forever)", cutoffs[4])
	}
	// now - MaxInt64 in integer nanoseconds would wrap around to the far future and delete
	// everything; as a time it is 1733.
	if want := pruneNow.Add(-math.MaxInt64).UnixNano(); cutoffs[1] != want || cutoffs[1] > 0 {
		t.Errorf("the longest period gives cutoff %d, want %d", cutoffs[1], want)
	}
	if upper != cutoffs[0] {
		t.Errorf("upper = %d, want the debug cutoff", upper)
	}
}

// Stats and the retention delete read the time indexes only (covering), never the table.
func TestStatsAndPrunePlans_ReadCoveringIndexes(t *testing.T) {
	s := openTemp(t)
	tests := []struct {
		name, query string
		args        []any
		want        string
	}{
		{"a tenant's histogram", replaceTenant(statsByBucketAndLevel, "tenant_id = ? AND "), []any{0, 1, "acme", 0, 1}, "COVERING INDEX audit_logs_tenant_time"},
		{"a tenant's top events", replaceTenant(statsTopEvents, "tenant_id = ? AND "), []any{"acme", 0, 1, 10}, "COVERING INDEX audit_logs_tenant_time"},
		{"a tenant's top users", replaceTenant(statsTopUsers, "tenant_id = ? AND "), []any{"acme", 0, 1, 10}, "COVERING INDEX audit_logs_tenant_time"},
		{"an admin's histogram", replaceTenant(statsByBucketAndLevel, ""), []any{0, 1, 0, 1}, "COVERING INDEX audit_logs_time"},
		{"an admin's top users", replaceTenant(statsTopUsers, ""), []any{0, 1, 10}, "COVERING INDEX audit_logs_time"},
		{"the retention delete", pruneStatement, []any{0, 1, 1, 1, 1, 1, 1, 1, 10}, "COVERING INDEX audit_logs_time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if plan := queryPlan(t, s, tc.query, tc.args); !strings.Contains(plan, tc.want) {
				t.Errorf("plan = %s, want %s", plan, tc.want)
			}
		})
	}
}
