package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatsQuery_NormalizeFillsDefaultsAndRefusesAbsurdRanges(t *testing.T) {
	day := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name         string
		q            StatsQuery
		wantInterval time.Duration
		wantTop      int
		wantErr      string // a word the error must contain; "" for success
	}{
		{"a day without an interval gets 15 minutes (96 buckets)", StatsQuery{Start: day, End: day.Add(24 * time.Hour)}, 15 * time.Minute, DefaultTop, ""},
		{"an hour without an interval gets 30 seconds (120 buckets)", StatsQuery{Start: day, End: day.Add(time.Hour)}, 30 * time.Second, DefaultTop, ""},
		{"ten years without an interval get the widest step, a week", StatsQuery{Start: day, End: day.AddDate(10, 0, 0)}, 7 * 24 * time.Hour, DefaultTop, ""},
		{"an explicit interval and top are kept", StatsQuery{Start: day, End: day.Add(time.Hour), Interval: 10 * time.Minute, Top: 3}, 10 * time.Minute, 3, ""},
		{"a top above the maximum is clamped", StatsQuery{Start: day, End: day.Add(time.Hour), Top: 5000}, 30 * time.Second, MaxTop, ""},
		{"exactly MaxBuckets buckets are allowed", StatsQuery{Start: day, End: day.Add(MaxBuckets * time.Second), Interval: time.Second}, time.Second, DefaultTop, ""},
		{"one bucket more is refused", StatsQuery{Start: day, End: day.Add((MaxBuckets + 1) * time.Second), Interval: time.Second}, 0, 0, "buckets"},
		{"a nanosecond interval over a year does not overflow and is refused", StatsQuery{Start: day, End: day.AddDate(1, 0, 0), Interval: time.Nanosecond}, 0, 0, "buckets"},
		{"a start beyond 2262 is refused", StatsQuery{Start: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2301, 1, 1, 0, 0, 0, 0, time.UTC)}, 0, 0, "between"},
		{"an empty range is refused", StatsQuery{Start: day, End: day}, 0, 0, "after"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.q.Normalize()
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidQuery, "Normalize(), want ErrInvalidQuery mentioning %q", tc.wantErr)
				require.ErrorContains(t, err, tc.wantErr, "Normalize(), want ErrInvalidQuery mentioning %q", tc.wantErr)
				return
			}
			require.NoError(t, err, "Normalize()")
			assert.Equal(t, tc.wantInterval, got.Interval, "Interval")
			assert.Equal(t, tc.wantTop, got.Top, "Top")
		})
	}
}

func TestStatsQuery_BucketsAreEpochAlignedAlsoBefore1970(t *testing.T) {
	q := StatsQuery{Interval: time.Hour}
	for in, want := range map[time.Time]time.Time{
		time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC):                time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 30, 0, 0, time.UTC):               time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC),
		time.Date(2025, 3, 14, 9, 0, 0, 0, time.FixedZone("X", 1800)): time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC),
	} {
		got := q.BucketStart(in)
		assert.True(t, got.Equal(want), "BucketStart(%s) = %s, want %s", in, got, want)
		assert.Same(t, time.UTC, got.Location(), "BucketStart(%s) = %s, want UTC", in, got)
	}
	q = StatsQuery{Start: time.Date(2025, 1, 1, 0, 30, 0, 0, time.UTC), End: time.Date(2025, 1, 1, 3, 0, 0, 0, time.UTC), Interval: time.Hour}
	h := q.EmptyHistogram()
	if assert.Len(t, h, 3, "EmptyHistogram = %v, want 00:00, 01:00, 02:00 (End is exclusive)", h) {
		assert.True(t, h[0].Start.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)), "EmptyHistogram = %v, want 00:00, 01:00, 02:00 (End is exclusive)", h)
		assert.True(t, h[2].Start.Equal(time.Date(2025, 1, 1, 2, 0, 0, 0, time.UTC)), "EmptyHistogram = %v, want 00:00, 01:00, 02:00 (End is exclusive)", h)
	}
}
