package store

import (
	"fmt"
	"math"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// StatsQuery asks for aggregates over [Start, End) of one tenant ("" = all tenants, admin only).
// Start and End are required, End after Start; Normalize fills the defaults and checks the rest.
type StatsQuery struct {
	TenantID string
	Start    time.Time // inclusive
	End      time.Time // exclusive
	// Interval is the histogram bucket width; buckets are aligned to multiples of it since the
	// Unix epoch (UTC) so that two queries over overlapping ranges agree. Zero lets the store
	// pick the narrowest width of AutoIntervals that yields at most AutoBuckets buckets.
	Interval time.Duration
	// Top is how many events and users to list (default DefaultTop, at most MaxTop).
	Top int
}

// Limits of a StatsQuery.
const (
	DefaultTop = 10
	MaxTop     = 1000
	// MaxBuckets bounds the histogram: a one-second interval over a year would otherwise ask
	// the store to build (and the API to send) 31 million buckets.
	MaxBuckets = 10_000
	// AutoBuckets is the most buckets an automatically chosen Interval yields.
	AutoBuckets = 120
)

// AutoIntervals are the widths Normalize chooses from when Interval is zero, narrowest first:
// round numbers a chart axis can label.
var AutoIntervals = []time.Duration{
	time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
}

// Stored timestamps are Unix nanoseconds in an int64.
var (
	minStatsTime = time.Unix(0, math.MinInt64).UTC()
	maxStatsTime = time.Unix(0, math.MaxInt64).UTC()
)

// Normalize returns q with Interval and Top defaulted, or an error wrapping ErrInvalidQuery that
// names the offending field. Every backend calls it first, so they agree on the buckets.
func (q StatsQuery) Normalize() (StatsQuery, error) {
	switch {
	case q.Start.IsZero():
		return q, fmt.Errorf("%w: stats: start is required", ErrInvalidQuery)
	case q.End.IsZero():
		return q, fmt.Errorf("%w: stats: end is required", ErrInvalidQuery)
	case !q.End.After(q.Start):
		return q, fmt.Errorf("%w: stats: end %s must be after start %s", ErrInvalidQuery, q.End.Format(time.RFC3339Nano), q.Start.Format(time.RFC3339Nano))
	case q.Start.Before(minStatsTime) || q.End.After(maxStatsTime):
		return q, fmt.Errorf("%w: stats: start and end must lie between %s and %s", ErrInvalidQuery, minStatsTime.Format(time.RFC3339), maxStatsTime.Format(time.RFC3339))
	case q.Interval < 0:
		return q, fmt.Errorf("%w: stats: interval %s must not be negative", ErrInvalidQuery, q.Interval)
	case q.Top < 0:
		return q, fmt.Errorf("%w: stats: top %d must not be negative", ErrInvalidQuery, q.Top)
	}
	if q.Top == 0 {
		q.Top = DefaultTop
	}
	q.Top = min(q.Top, MaxTop)
	if q.Interval == 0 {
		q.Interval = AutoIntervals[len(AutoIntervals)-1]
		for _, d := range AutoIntervals {
			q.Interval = d
			if q.bucketCount() <= AutoBuckets {
				break
			}
		}
	}
	if n := q.bucketCount(); n > MaxBuckets {
		return q, fmt.Errorf("%w: stats: interval %s over %s makes %d buckets, more than %d", ErrInvalidQuery, q.Interval, q.End.Sub(q.Start), n, MaxBuckets)
	}
	return q, nil
}

// BucketStart is the start of the bucket holding t: t rounded down to a multiple of Interval
// since the epoch (down, also before 1970).
func (q StatsQuery) BucketStart(t time.Time) time.Time {
	return time.Unix(0, floorMultiple(t.UnixNano(), int64(q.Interval))).UTC()
}

// EmptyHistogram lists every bucket of [Start, End) in order, with zero counts. The first
// bucket starts at or before Start, the last one holds End minus one nanosecond.
func (q StatsQuery) EmptyHistogram() []Bucket {
	n := q.bucketCount()
	out := make([]Bucket, n)
	first := q.BucketStart(q.Start)
	for i := range out {
		out[i].Start = first.Add(time.Duration(i) * q.Interval)
		out[i].ByLevel = LevelCounts()
	}
	return out
}

// bucketCount is the number of buckets of [Start, End) at Interval, saturating instead of
// overflowing so that an absurd query is refused rather than wrapped around.
func (q StatsQuery) bucketCount() int64 {
	iv := int64(q.Interval)
	first := floorMultiple(q.Start.UnixNano(), iv)
	last := floorMultiple(q.End.UnixNano()-1, iv)
	n := (last-first)/iv + 1
	if n < 0 || last < first {
		return math.MaxInt64
	}
	return n
}

func floorMultiple(n, m int64) int64 {
	r := n % m
	if r < 0 {
		r += m
	}
	return n - r
}

// Count is one entry of a top list.
type Count struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// Bucket is one histogram interval, [Start, Start+Interval). Failures counts its error and
// security records; ByLevel has every level name as a key, zero included, so that a chart can
// stack the levels of each bucket (the viewer's volume histogram).
type Bucket struct {
	Start    time.Time        `json:"start"`
	Count    int64            `json:"count"`
	Failures int64            `json:"failures"`
	ByLevel  map[string]int64 `json:"by_level"`
}

// Stats are the aggregates of a StatsQuery. ByLevel has every level name as a key, zero
// included, so dashboards need no special case. Failures counts error and security records.
// TopEvents and TopUsers hold at most Top entries, most frequent first, ties by key ascending;
// records without an event or a user are not listed. Histogram lists every bucket of the range
// in time order, empty ones included.
type Stats struct {
	Total     int64            `json:"total"`
	ByLevel   map[string]int64 `json:"by_level"`
	Failures  int64            `json:"failures"`
	TopEvents []Count          `json:"top_events"`
	TopUsers  []Count          `json:"top_users"`
	Histogram []Bucket         `json:"histogram"`
}

// IsFailure reports whether records of level l count as failures in Stats.
func IsFailure(l record.Level) bool {
	return l == record.LevelError || l == record.LevelSecurity
}

// LevelCounts returns a map with every level name at zero.
func LevelCounts() map[string]int64 {
	m := make(map[string]int64, len(record.Levels))
	for _, l := range record.Levels {
		m[l.String()] = 0
	}
	return m
}

// RetentionPolicy says how long records of each level are kept. A level missing from ByLevel
// is kept for Default; a zero duration keeps records of that level forever. A record expires
// when its timestamp is before now minus its level's period.
type RetentionPolicy struct {
	ByLevel map[record.Level]time.Duration
	Default time.Duration
}

// For returns the retention period of level l.
func (p RetentionPolicy) For(l record.Level) time.Duration {
	if d, ok := p.ByLevel[l]; ok {
		return d
	}
	return p.Default
}

// Cutoffs returns, for each level kept for a limited period, the time before which its records
// expire at now: what a prune checkpoint records (internal/chain).
func (p RetentionPolicy) Cutoffs(now time.Time) map[record.Level]time.Time {
	out := make(map[record.Level]time.Time, len(record.Levels))
	for _, l := range record.Levels {
		if period := p.For(l); period > 0 {
			out[l] = now.Add(-period)
		}
	}
	return out
}

// PruneResult reports what a retention run removed. RemovedByLevel has every level name as a
// key, zero included; Total is their sum.
type PruneResult struct {
	RemovedByLevel map[string]int64 `json:"removed_by_level"`
	Total          int64            `json:"total"`
}

// Add accumulates o into r (a retention run over several databases).
func (r *PruneResult) Add(o PruneResult) {
	if r.RemovedByLevel == nil {
		r.RemovedByLevel = LevelCounts()
	}
	for k, v := range o.RemovedByLevel {
		r.RemovedByLevel[k] += v
	}
	r.Total += o.Total
}
