package storetest

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

func mustStats(t *testing.T, s store.Store, q store.StatsQuery) store.Stats {
	t.Helper()
	st, err := s.Stats(ctx(t), q)
	require.NoErrorf(t, err, "Stats(%+v)", q)
	return st
}

func countOf(key string, n int64) store.Count { return store.Count{Key: key, Count: n} }

// levels builds a ByLevel map: every level name, the given ones set.
func levels(set map[string]int64) map[string]int64 {
	m := store.LevelCounts()
	maps.Copy(m, set)
	return m
}

func testStatsCounts(t *testing.T, open Open) {
	s := open(t)
	fixture := filterFixture()
	mustInsert(t, s, "acme", fixture[:8])
	mustInsert(t, s, "globex", fixture[8:])

	tests := []struct {
		name          string
		q             store.StatsQuery
		total, failed int64
		byLevel       map[string]int64
		events, users []store.Count
	}{
		{
			name:  "a tenant's stats count only its records, every level listed",
			q:     store.StatsQuery{TenantID: "acme", Start: at(0), End: at(60)},
			total: 8, failed: 2,
			byLevel: levels(map[string]int64{"debug": 1, "info": 3, "warn": 2, "error": 1, "security": 1}),
			// user.login 3, document.delete 2, then three events once each in key order.
			events: []store.Count{countOf("user.login", 3), countOf("document.delete", 2), countOf("cache.refresh", 1), countOf("document.view", 1), countOf("user.logout", 1)},
			// u1 and u2 tie at 3: key order; r05 has no user and is not listed.
			users: []store.Count{countOf("u1", 3), countOf("u2", 3), countOf("u3", 1)},
		},
		{
			name:  "an admin's stats count every tenant",
			q:     store.StatsQuery{Start: at(0), End: at(60)},
			total: 9, failed: 3,
			byLevel: levels(map[string]int64{"debug": 1, "info": 3, "warn": 2, "error": 2, "security": 1}),
			events:  []store.Count{countOf("user.login", 4), countOf("document.delete", 2), countOf("cache.refresh", 1), countOf("document.view", 1), countOf("user.logout", 1)},
			users:   []store.Count{countOf("u1", 4), countOf("u2", 3), countOf("u3", 1)},
		},
		{
			name:  "top limits the lists and the range excludes its end",
			q:     store.StatsQuery{TenantID: "acme", Start: at(1), End: at(4), Top: 1},
			total: 3, failed: 2,
			byLevel: levels(map[string]int64{"warn": 1, "error": 1, "security": 1}),
			events:  []store.Count{countOf("user.login", 2)},
			users:   []store.Count{countOf("u1", 1)},
		},
		{
			name:    "another tenant's stats see none of acme's records",
			q:       store.StatsQuery{TenantID: "initech", Start: at(0), End: at(60)},
			byLevel: levels(nil),
			events:  []store.Count{}, users: []store.Count{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := mustStats(t, s, tc.q)
			assert.EqualValues(t, tc.total, st.Total, "Total")
			assert.EqualValues(t, tc.failed, st.Failures, "Failures")
			assert.Equal(t, tc.byLevel, st.ByLevel, "ByLevel")
			assert.Equal(t, tc.events, st.TopEvents, "TopEvents")
			assert.Equal(t, tc.users, st.TopUsers, "TopUsers")
			var sum, failures int64
			perLevel := store.LevelCounts()
			for _, b := range st.Histogram {
				sum += b.Count
				failures += b.Failures
				var inBucket int64
				for k, v := range b.ByLevel {
					perLevel[k] += v
					inBucket += v
				}
				assert.Len(t, b.ByLevel, len(record.Levels), "bucket %s: every level is a key", b.Start)
				assert.Equal(t, b.Count, inBucket, "bucket %s: its levels add up to its count", b.Start)
				assert.Equal(t, b.Failures, b.ByLevel["error"]+b.ByLevel["security"], "bucket %s: failures are its error and security records", b.Start)
			}
			assert.Equal(t, st.Total, sum, "records in the histogram vs the total")
			assert.Equal(t, st.Failures, failures, "failures in the histogram vs the total")
			assert.Equal(t, st.ByLevel, perLevel, "each level's records in the histogram vs its total")
		})
	}
}

func testStatsHistogram(t *testing.T, open Open) {
	s := open(t)
	fixture := filterFixture()
	mustInsert(t, s, "acme", fixture[:8])
	mustInsert(t, s, "globex", fixture[8:])

	// base is 09:26:53.59; the records are one minute apart from there. Buckets of two
	// minutes are aligned to the epoch, so the range's first bucket starts at 09:20:00, before
	// Start, and the last one (09:40) holds End minus one nanosecond.
	bucket := func(hh, mm int) time.Time { return time.Date(2025, 3, 14, hh, mm, 0, 0, time.UTC) }
	q := store.StatsQuery{Start: at(-5), End: at(14), Interval: 2 * time.Minute}
	type b struct {
		mm              int
		count, failures int64
	}
	tests := []struct {
		name   string
		tenant string
		want   []b
	}{
		{"a tenant's histogram lists every bucket, empty ones included", "acme", []b{
			{20, 0, 0}, {22, 0, 0}, {24, 0, 0}, {26, 2, 0}, {28, 2, 2}, {30, 2, 0}, {32, 2, 0}, {34, 0, 0}, {36, 0, 0}, {38, 0, 0}, {40, 0, 0},
		}},
		{"an admin's histogram adds every tenant", "", []b{
			{20, 0, 0}, {22, 0, 0}, {24, 0, 0}, {26, 2, 0}, {28, 2, 2}, {30, 2, 0}, {32, 2, 0}, {34, 1, 1}, {36, 0, 0}, {38, 0, 0}, {40, 0, 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := q
			q.TenantID = tc.tenant
			st := mustStats(t, s, q)
			var want []store.Bucket
			for _, w := range tc.want {
				want = append(want, store.Bucket{Start: bucket(9, w.mm), Count: w.count, Failures: w.failures})
			}
			require.Len(t, st.Histogram, len(want), "Histogram buckets: %v", st.Histogram)
			for i := range want {
				got := st.Histogram[i]
				desc := fmt.Sprintf("bucket %d = %s %d/%d, want %s %d/%d", i, got.Start.Format(time.TimeOnly), got.Count, got.Failures,
					want[i].Start.Format(time.TimeOnly), want[i].Count, want[i].Failures)
				assert.True(t, got.Start.Equal(want[i].Start), desc)
				assert.Equal(t, want[i].Count, got.Count, desc)
				assert.Equal(t, want[i].Failures, got.Failures, desc)
			}
		})
	}
}

func testStatsRefusals(t *testing.T, open Open) {
	s := open(t)
	mustInsert(t, s, "acme", simpleRecords("st", "acme", 3, time.Second))
	tests := []struct {
		name string
		q    store.StatsQuery
	}{
		{"a range without a start is refused", store.StatsQuery{End: at(1)}},
		{"a range without an end is refused", store.StatsQuery{Start: at(1)}},
		{"an end before the start is refused", store.StatsQuery{Start: at(1), End: at(0)}},
		{"a nanosecond interval over an hour is refused as too many buckets", store.StatsQuery{Start: at(0), End: at(60), Interval: time.Nanosecond}},
		{"a negative interval is refused", store.StatsQuery{Start: at(0), End: at(60), Interval: -time.Minute}},
		{"a negative top is refused", store.StatsQuery{Start: at(0), End: at(60), Top: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Stats(ctx(t), tc.q)
			assert.ErrorIs(t, err, store.ErrInvalidQuery, "Stats(%+v)", tc.q)
		})
	}
	t.Run("a zero interval picks one that gives at most AutoBuckets buckets", func(t *testing.T) {
		st := mustStats(t, s, store.StatsQuery{Start: at(0), End: at(24 * 60)})
		assert.NotEmpty(t, st.Histogram, "an automatic interval over a day gave no buckets")
		assert.LessOrEqual(t, len(st.Histogram), store.AutoBuckets, "buckets of an automatic interval over a day")
		assert.EqualValues(t, 3, st.Total, "Total")
	})
}
