package auditexporter

// The backlog: the WAL as the queue. Records wait in memory only up to max_queue_bytes; an
// entry acknowledged while the memory queue is full (or while older entries already wait on
// disk) is kept only in the WAL, as a position here, and the loader reads it back, in order,
// whenever a flush worker has freed room. Memory stays bounded whatever the offered rate, the
// writer is fed full batches at the store's speed, and the backlog is bounded on disk by
// wal.max_bytes, beyond which intake refuses with a retryable error.

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/wal"
)

type backlogEntry struct {
	pos      wal.Position
	replayed bool // found at start rather than acknowledged by this run (for the replay count)
}

// backlog is a FIFO of WAL positions whose records are not in memory.
type backlog struct {
	mu      sync.Mutex
	entries []backlogEntry // [head:] are waiting
	head    int
	notify  chan struct{} // signalled by push; capacity 1
}

func newBacklog() *backlog { return &backlog{notify: make(chan struct{}, 1)} }

func (b *backlog) push(e backlogEntry) {
	b.mu.Lock()
	b.entries = append(b.entries, e)
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

func (b *backlog) peek() (backlogEntry, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.head == len(b.entries) {
		return backlogEntry{}, false
	}
	return b.entries[b.head], true
}

func (b *backlog) pop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entries[b.head] = backlogEntry{}
	b.head++
	// Reclaim the consumed prefix once it dominates, as the WAL's outstanding list does.
	if b.head > 1024 && b.head*2 > len(b.entries) {
		b.entries = append(b.entries[:0], b.entries[b.head:]...)
		b.head = 0
	}
}

// len is the number of entries waiting on disk.
func (b *backlog) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.entries) - b.head
}

// loadRetryDelay paces the loader after a WAL read failed for a reason other than damage (an
// I/O error): the entry stays first in line and is tried again.
const loadRetryDelay = time.Second

// loadLoop moves backlog entries into the memory queue while it has room, oldest first, until
// the queue closes. What is still in the backlog then stays in the WAL for the next start.
func (e *auditExporter) loadLoop() {
	defer e.loader.Done()
	for {
		if ent, ok := e.backlog.peek(); ok && e.queue.hasRoom() {
			if !e.load(ent) {
				select {
				case <-e.queue.closing:
					return
				case <-time.After(loadRetryDelay):
				}
			}
			continue
		}
		select {
		case <-e.queue.closing:
			return
		case <-e.backlog.notify:
		case <-e.queue.room:
		}
	}
}

// load reads one backlog entry from the WAL into the queue. It returns false when the entry
// could not be read for now and should be tried again.
func (e *auditExporter) load(ent backlogEntry) bool {
	payload, err := e.wal.Read(ent.pos)
	var damaged *wal.Corruption
	switch {
	case errors.As(err, &damaged):
		// The bytes changed on disk since they were acknowledged: nothing can be recovered,
		// and keeping the entry would pin the WAL forever.
		e.logger.Error("write-ahead log entry is damaged and cannot be read back; skipping it", zap.Any("position", ent.pos), zap.Error(err))
		e.walCorruptRanges.Add(1)
		e.metrics.ExporterAuditWalCorruptRanges.Add(context.Background(), 1)
		e.backlog.pop()
		newAckedEntry(e.wal, ent.pos, 0, e.logger).markDone()
		return true
	case err != nil:
		e.noteOwnFailure(err)
		e.logger.Warn("write-ahead log entry could not be read back; retrying", zap.Any("position", ent.pos), zap.Error(err))
		return false
	}
	e.backlog.pop()
	recs, err := decodeEntry(payload, e.cfg.Mapping, e.cfg.MinLevel)
	if err != nil {
		e.logger.Error("write-ahead log entry cannot be decoded; skipping it", zap.Any("position", ent.pos), zap.Error(err))
		newAckedEntry(e.wal, ent.pos, 0, e.logger).markDone()
		return true
	}
	if ent.replayed {
		e.metrics.ExporterAuditRecordsReplayed.Add(context.Background(), int64(len(recs)))
	}
	e.enqueue(ent.pos, recs, record.ApproxBytes(recs))
	return true
}
