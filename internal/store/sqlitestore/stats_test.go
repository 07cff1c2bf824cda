package sqlitestore

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// The counts answer every range and interval exactly as the rows do: ranges at arbitrary
// instants (edges read from the rows), whole days and hours (only counts), intervals that the
// level widths divide and ones they do not (90s, 7m: rows), for a tenant and for an admin.
func TestStats_CountsAnswerExactlyAsTheRowsDo(t *testing.T) {
	s := openTemp(t)
	rng := rand.New(rand.NewPCG(17, 6))
	day0 := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	recs := statsRecords(rng, "r", 6000, day0, 5*24*time.Hour)
	insertByTenant(t, s, recs)
	require.Equal(t, recount(t, s.write), rollupContents(t, s.write), "counts after the inserts")

	intervals := []time.Duration{0, time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour, 24 * time.Hour, 90 * time.Second, 7 * time.Minute}
	for i := range 200 {
		var q store.StatsQuery
		switch i % 4 {
		case 0: // arbitrary instants
			q.Start = day0.Add(time.Duration(rng.Int64N(int64(6 * 24 * time.Hour))))
			q.End = q.Start.Add(time.Duration(1 + rng.Int64N(int64(3*24*time.Hour))))
		case 1: // whole hours
			q.Start = day0.Add(time.Duration(rng.IntN(100)) * time.Hour)
			q.End = q.Start.Add(time.Duration(1+rng.IntN(60)) * time.Hour)
		case 2: // whole days, also beyond the data
			q.Start = day0.Add(time.Duration(rng.IntN(5)-1) * 24 * time.Hour)
			q.End = q.Start.Add(time.Duration(1+rng.IntN(6)) * 24 * time.Hour)
		case 3: // a minute-aligned range shorter than an hour
			q.Start = day0.Add(time.Duration(rng.IntN(5000)) * time.Minute)
			q.End = q.Start.Add(time.Duration(1+rng.IntN(59)) * time.Minute)
		}
		q.Interval = intervals[rng.IntN(len(intervals))]
		q.TenantID = []string{"", "acme", "globex", "initech", "nobody"}[rng.IntN(5)]
		q.Top = 1 + rng.IntN(12)
		nq, err := q.Normalize()
		if err != nil {
			continue // too many buckets for an explicit interval
		}
		got, err := s.Stats(context.Background(), q)
		require.NoErrorf(t, err, "Stats(%+v)", q)
		require.Equalf(t, expectedStats(nq, recs, nq.Top), got, "Stats(%+v)", nq)
		// The per-tenant pool merges the lists of several files, asking each for all keys.
		all, err := s.stats(context.Background(), nq, -1)
		require.NoError(t, err, "stats with every key listed")
		require.Equalf(t, expectedStats(nq, recs, -1), all, "stats(%+v, -1)", nq)
	}
}

func TestCover_SplitsARangeIntoWholeSlotsAndEdgesShorterThanTheNarrowest(t *testing.T) {
	m, h, d := int64(time.Minute), int64(time.Hour), int64(24*time.Hour)
	widths := []int64{m, h, d}
	tests := []struct {
		name       string
		start, end int64
		want       []span
	}{
		{"inside one minute: rows only", 10, 20, []span{{0, 10, 20}}},
		{"two days and a bit", 2*d - h - m - 5, 4*d + h + m + 7, []span{
			{0, 2*d - h - m - 5, 2*d - h - m}, {m, 2*d - h - m, 2*d - h}, {h, 2*d - h, 2 * d},
			{d, 2 * d, 4 * d}, {h, 4 * d, 4*d + h}, {m, 4*d + h, 4*d + h + m}, {0, 4*d + h + m, 4*d + h + m + 7},
		}},
		{"aligned to hours: no rows", 3 * h, 7 * h, []span{{h, 3 * h, 7 * h}}},
		{"before 1970", -d - 30*m - 1, -d + 2*h, []span{{0, -d - 30*m - 1, -d - 30*m}, {m, -d - 30*m, -d}, {h, -d, -d + 2*h}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, cover(tc.start, tc.end, widths))
		})
	}
	assert.Equal(t, []span{{0, 5, 3 * d}}, cover(5, 3*d, nil), "without widths")
	levels := rollupWidths[levelsTable]
	assert.Equal(t, levels[:3], dividing(levels, int64(30*time.Minute)), "widths dividing 30m")
	assert.Empty(t, dividing(levels, int64(90*time.Second)), "widths dividing 90s")
}

func TestCheaperEdges_ReadsAtMostHalfASlotOfRowsForAnEdge(t *testing.T) {
	m, h := int64(time.Minute), int64(time.Hour)
	tests := []struct {
		name        string
		in          []span
		spans, less []span
	}{
		{"short edges stay rows", []span{{0, 10*h - 20*m, 10 * h}, {h, 10 * h, 12 * h}, {0, 12 * h, 12*h + 30*m}},
			[]span{{0, 10*h - 20*m, 10 * h}, {h, 10 * h, 12 * h}, {0, 12 * h, 12*h + 30*m}}, nil},
		{"long edges become their slots less the rest", []span{{0, 10*h - 40*m, 10 * h}, {h, 10 * h, 12 * h}, {0, 12 * h, 12*h + 50*m}},
			[]span{{h, 9 * h, 10 * h}, {h, 10 * h, 12 * h}, {h, 12 * h, 13 * h}},
			[]span{{0, 9 * h, 10*h - 40*m}, {0, 12*h + 50*m, 13 * h}}},
		{"a range inside one slot, both ends subtracted", []span{{0, 3*h + 5*m, 3*h + 50*m}},
			[]span{{h, 3 * h, 4 * h}}, []span{{0, 3 * h, 3*h + 5*m}, {0, 3*h + 50*m, 4 * h}}},
		{"rows across two slots stay rows", []span{{0, 3*h + 40*m, 4*h + 10*m}},
			[]span{{0, 3*h + 40*m, 4*h + 10*m}}, nil},
		{"before 1970", []span{{0, -h + 10*m, 0}}, []span{{h, -h, 0}}, []span{{0, -h, -h + 10*m}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spans, less := cheaperEdges(tc.in, h)
			assert.Equal(t, tc.spans, spans)
			assert.Equal(t, tc.less, less)
			for _, sp := range append(spans, less...) {
				if sp.width == 0 && floorDiv(sp.from, h) == floorDiv(sp.to-1, h) {
					assert.LessOrEqual(t, sp.to-sp.from, h/2, "rows of one slot: %+v", sp)
				}
			}
		})
	}
}
