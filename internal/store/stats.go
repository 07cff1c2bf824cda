package store

import (
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// StatsQuery asks for aggregates over [Start, End) of one tenant ("" = all tenants, admin only).
type StatsQuery struct {
	TenantID string
	Start    time.Time
	End      time.Time
	// Interval is the histogram bucket width; buckets are aligned to multiples of it since the
	// Unix epoch (UTC) so that two queries over overlapping ranges agree.
	Interval time.Duration
	// Top is how many events and users to list (default 10).
	Top int
}

// Count is one entry of a top list.
type Count struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// Bucket is one histogram interval. Failures counts its error and security records.
type Bucket struct {
	Start    time.Time `json:"start"`
	Count    int64     `json:"count"`
	Failures int64     `json:"failures"`
}

// Stats are the aggregates of a StatsQuery. ByLevel has every level name as a key, zero
// included, so dashboards need no special case. Histogram lists every bucket of the range in
// time order, empty ones included.
type Stats struct {
	Total     int64            `json:"total"`
	ByLevel   map[string]int64 `json:"by_level"`
	Failures  int64            `json:"failures"`
	TopEvents []Count          `json:"top_events"`
	TopUsers  []Count          `json:"top_users"`
	Histogram []Bucket         `json:"histogram"`
}

// RetentionPolicy says how long records of each level are kept. A level missing from ByLevel
// is kept for Default; a zero duration keeps records of that level forever.
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

// PruneResult reports what a retention run removed.
type PruneResult struct {
	RemovedByLevel map[string]int64 `json:"removed_by_level"`
	Total          int64            `json:"total"`
}
