// Package health is the state of the write path: the store's and each writer's (queue, WAL,
// DLQ), merged by the auditstore extension and served by the query API at /api/v1/health.
package health

import "time"

// Snapshot is a point-in-time view of the write path.
type Snapshot struct {
	Status        string     `json:"status"` // StatusOK or StatusDegraded
	FailureCount  int64      `json:"failure_count"`
	LastFailureAt *time.Time `json:"last_failure_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	QueueDepth    int        `json:"queue_depth"`
	// The durable backlog: acknowledged WAL entries waiting on disk for room in the memory
	// queue, and the WAL's size, which intake refuses beyond (wal.max_bytes).
	WALBacklogEntries int   `json:"wal_backlog_entries"`
	WALBytes          int64 `json:"wal_bytes"`
	DLQFiles          int   `json:"dlq_files"`
	DeadFiles         int   `json:"dead_files"`
	// Damage found on disk: DLQ batch files set aside as .corrupt (kept for a human), the
	// records salvaged from them and those that could not be read (since start), and the
	// corrupt ranges the last WAL replay had to skip. Any of them non-zero needs a look.
	DLQCorruptFiles    int    `json:"dlq_corrupt_files"`
	DLQRecordsSalvaged uint64 `json:"dlq_records_salvaged"`
	DLQRecordsLost     uint64 `json:"dlq_records_lost"`
	WALCorruptRanges   int64  `json:"wal_corrupt_ranges"`
}

// Statuses of a Snapshot.
const (
	StatusOK       = "ok"
	StatusDegraded = "degraded"
)

// Source produces snapshots; the exporter and the auditstore extension implement it.
type Source interface {
	Health() Snapshot
}
