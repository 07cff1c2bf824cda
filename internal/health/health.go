// Package health is the pipeline state the exporter reports and the query API serves at
// /api/v1/health.
package health

import "time"

// Snapshot is a point-in-time view of the write path.
type Snapshot struct {
	Status        string     `json:"status"` // "ok" or "degraded"
	FailureCount  int64      `json:"failure_count"`
	LastFailureAt *time.Time `json:"last_failure_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	QueueDepth    int        `json:"queue_depth"`
	DLQFiles      int        `json:"dlq_files"`
	DeadFiles     int        `json:"dead_files"`
}

// Source produces snapshots; the exporter implements it.
type Source interface {
	Health() Snapshot
}
