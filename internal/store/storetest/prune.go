package storetest

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

const day = 24 * time.Hour

// retentionFixture returns, for two tenants, one record per level and age, at now minus age,
// and the ids the policy below must remove. Messages say "expiring" or "lasting" so that a
// search can tell whether pruned rows are still indexed.
//
// Policy: debug 7 days, info and warn 30 (info by its own entry, warn by the default), error
// 90, security 0 (forever). A record exactly one period old is at the cutoff, not before it,
// and is kept.
func retentionFixture(now time.Time) (store.RetentionPolicy, []record.Record, map[string]int64) {
	policy := store.RetentionPolicy{
		ByLevel: map[record.Level]time.Duration{
			record.LevelDebug: 7 * day, record.LevelInfo: 30 * day, record.LevelError: 90 * day, record.LevelSecurity: 0,
		},
		Default: 30 * day,
	}
	ages := []time.Duration{day, 7 * day, 8 * day, 30 * day, 31 * day, 91 * day, 400 * day}
	var recs []record.Record
	removed := store.LevelCounts()
	for _, tenant := range []string{"acme", "globex"} {
		for _, l := range record.Levels {
			for _, age := range ages {
				period := policy.For(l)
				expires := period > 0 && age > period
				word := "lasting"
				if expires {
					word = "expiring"
					removed[l.String()]++
				}
				ts := now.Add(-age)
				recs = append(recs, record.Record{
					ID: fmt.Sprintf("%s-%s-%03dd-%s", tenant, l, age/day, word), Timestamp: ts, ObservedTimestamp: ts,
					Level: l, TenantID: tenant, Event: "retention.fixture", Message: word + " record",
				})
			}
		}
	}
	return policy, recs, removed
}

func insertByTenant(t *testing.T, s store.Store, recs []record.Record) {
	t.Helper()
	byTenant := map[string][]record.Record{}
	for _, r := range recs {
		byTenant[r.TenantID] = append(byTenant[r.TenantID], r)
	}
	for _, tenant := range slices.Sorted(maps.Keys(byTenant)) {
		mustInsert(t, s, tenant, byTenant[tenant])
	}
}

func testPruneRemovesExactlyTheExpired(t *testing.T, open Open) {
	s := open(t)
	now := base.Add(500 * day)
	policy, recs, wantRemoved := retentionFixture(now)
	insertByTenant(t, s, recs)

	res, err := s.Prune(ctx(t), policy, now)
	require.NoError(t, err, "Prune")
	var total int64
	for _, n := range wantRemoved {
		total += n
	}
	assert.Equal(t, wantRemoved, res.RemovedByLevel, "Prune removed by level")
	assert.Equal(t, total, res.Total, "Prune removed in total")

	var want []record.Record
	for _, r := range recs {
		if r.Message == "lasting record" {
			want = append(want, r)
		}
	}
	assert.Equal(t, newestFirst(want), ids(queryAll(t, s, store.Filter{}, 100)), "after Prune the store holds")

	again, err := s.Prune(ctx(t), policy, now)
	if assert.NoError(t, err, "a second Prune at the same time") {
		assert.Zero(t, again.Total, "a second Prune at the same time removed records, want nothing")
	}
}

func testPruneKeepsForever(t *testing.T, open Open) {
	s := open(t)
	now := base.Add(500 * day)
	_, recs, _ := retentionFixture(now)
	insertByTenant(t, s, recs)
	res, err := s.Prune(ctx(t), store.RetentionPolicy{}, now)
	require.NoError(t, err, "Prune")
	assert.Zero(t, res.Total, "Prune with zero periods removed %v", res.RemovedByLevel)
	assert.Equal(t, store.LevelCounts(), res.RemovedByLevel, "Prune with zero periods removed")
	assert.Len(t, queryAll(t, s, store.Filter{}, 1000), len(recs), "records after Prune with zero periods")
}

func testPrunedRecordsAreNotFound(t *testing.T, open Open) {
	s := open(t)
	now := base.Add(500 * day)
	policy, recs, _ := retentionFixture(now)
	insertByTenant(t, s, recs)
	require.NotEmpty(t, queryAll(t, s, store.Filter{Text: "expiring"}, 1000), "the fixture's expiring records are not found before Prune")
	_, err := s.Prune(ctx(t), policy, now)
	require.NoError(t, err, "Prune")
	got := queryAll(t, s, store.Filter{Text: "expiring"}, 1000)
	assert.Empty(t, got, "search still finds %d pruned records: %v", len(got), ids(got))
	assert.NotEmpty(t, queryAll(t, s, store.Filter{TenantID: "acme", Text: "lasting"}, 1000), "search no longer finds the records Prune kept")
	for _, r := range recs {
		if r.Message != "expiring record" {
			continue
		}
		_, err := s.Get(ctx(t), "", r.ID)
		assert.Error(t, err, "Get(%s) still finds a pruned record", r.ID)
	}
	st := mustStats(t, s, store.StatsQuery{Start: now.Add(-1000 * day), End: now.Add(day)})
	assert.EqualValues(t, 4, st.ByLevel["debug"], "stats after Prune count debug")
	assert.EqualValues(t, 14, st.ByLevel["security"], "stats after Prune count security")
}
