package auditexporter

import (
	"sync"

	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/wal"
)

// ackedEntry is the life of one acknowledged request, from its WAL append to done. Its
// records may span several tenants, and so several queue items (parts); the entry is done,
// and its WAL space reclaimable, once every part is committed to the store or set aside in
// the DLQ. Until then a crash replays it (the store's idempotent insert absorbs the parts that
// had committed).
type ackedEntry struct {
	mu      sync.Mutex
	pending int // parts not yet committed or set aside
	wal     *wal.WAL
	pos     wal.Position
	logger  *zap.Logger
}

// newAckedEntry starts an entry of parts parts at pos; w is nil in volatile mode, where there
// is nothing to mark.
func newAckedEntry(w *wal.WAL, pos wal.Position, parts int, logger *zap.Logger) *ackedEntry {
	return &ackedEntry{pending: parts, wal: w, pos: pos, logger: logger}
}

// partDone records that one part is safe in the store or the DLQ; the last one marks the
// entry done in the WAL.
func (a *ackedEntry) partDone() {
	a.mu.Lock()
	a.pending--
	last := a.pending == 0
	a.mu.Unlock()
	if last {
		a.markDone()
	}
}

// markDone tells the WAL the entry is committed or set aside, so its space can be reclaimed.
func (a *ackedEntry) markDone() {
	if a.wal == nil {
		return
	}
	if err := a.wal.Done(a.pos); err != nil {
		// Harmless for the data (at worst the entry is replayed and deduplicated), but it
		// means the bookkeeping is off: say so.
		a.logger.Warn("write-ahead log: done for an unknown position", zap.Any("position", a.pos), zap.Error(err))
	}
}
