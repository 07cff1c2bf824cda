package health

// Merge is the state of a store and the writers that feed it in one snapshot: degraded when
// any part is, failures and backlogs added up, the most recent failure's time and error kept.
func Merge(parts ...Snapshot) Snapshot {
	out := Snapshot{Status: StatusOK}
	for _, p := range parts {
		if p.Status == StatusDegraded {
			out.Status = StatusDegraded
		}
		out.FailureCount += p.FailureCount
		if p.LastFailureAt != nil && (out.LastFailureAt == nil || p.LastFailureAt.After(*out.LastFailureAt)) {
			out.LastFailureAt, out.LastError = p.LastFailureAt, p.LastError
		}
		out.QueueDepth += p.QueueDepth
		out.WALBacklogEntries += p.WALBacklogEntries
		out.WALBytes += p.WALBytes
		out.DLQFiles += p.DLQFiles
		out.DeadFiles += p.DeadFiles
		out.DLQCorruptFiles += p.DLQCorruptFiles
		out.DLQRecordsSalvaged += p.DLQRecordsSalvaged
		out.DLQRecordsLost += p.DLQRecordsLost
		out.WALCorruptRanges += p.WALCorruptRanges
	}
	return out
}
