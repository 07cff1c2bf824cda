package wal

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"go.uber.org/zap"
)

// ReplayStats reports what Replay read and what it repaired.
type ReplayStats struct {
	// From is the persisted low-water mark replay started at (zero: from the beginning).
	From Position
	// Segments is the number of segment files read.
	Segments int
	// Entries and Bytes count the entries handed to the callback and their payload bytes.
	Entries int
	Bytes   int64
	// TornTails counts segments whose unreadable end was cut off: the last segment after a
	// crash in the middle of a write. TornBytes is what was cut.
	TornTails int
	TornBytes int64
	// Corrupt lists the unreadable ranges that were skipped and left in place: in the
	// middle of a segment (followed by intact entries) or at the end of a segment that is
	// not the last one. Each range is usually one damaged entry.
	Corrupt []*Corruption
}

// CorruptEntries is the number of skipped unreadable ranges.
func (s ReplayStats) CorruptEntries() int { return len(s.Corrupt) }

// Replay calls fn, in log order, for every intact entry at or after the persisted
// low-water mark, registering each as outstanding (it must be marked Done like an
// appended one). payload is only valid during the call: fn must copy what it keeps.
//
// Replay repairs as it reads: an unreadable end of the last segment is a torn write and
// is cut, so appending continues right after the last intact entry; an unreadable range
// followed by intact entries, or at the end of an earlier segment, is skipped, logged
// and reported in the stats, and reading resumes at the next intact entry.
//
// Replay must be called exactly once, before Append. If it fails (an I/O error or an
// error from fn, returned wrapped) the WAL stays unusable and must be closed and opened
// again, which replays from the same place.
func (w *WAL) Replay(fn func(pos Position, payload []byte) error) (ReplayStats, error) {
	w.mu.Lock()
	switch {
	case w.closed:
		w.mu.Unlock()
		return ReplayStats{}, ErrClosed
	case w.replayCalled:
		w.mu.Unlock()
		return ReplayStats{}, errors.New("wal: Replay may only be called once")
	}
	w.replayCalled = true
	segs := slices.Clone(w.segments)
	from := w.savedMark
	w.mu.Unlock()

	stats := ReplayStats{From: from}
	for i, s := range segs {
		size, err := w.replaySegment(s, i == len(segs)-1, from, &stats, fn)
		if err != nil {
			return stats, err
		}
		w.mu.Lock()
		w.setSegmentSizeLocked(s.num, size)
		w.mu.Unlock()
		segs[i].size = size
	}

	if err := w.openActive(segs, from); err != nil {
		return stats, err
	}
	w.mu.Lock()
	if w.closed {
		// Close ran meanwhile and found nothing to close; do it here.
		w.mu.Unlock()
		w.wmu.Lock()
		if w.active != nil {
			_ = w.active.Close()
			w.active = nil
		}
		w.wmu.Unlock()
		return stats, ErrClosed
	}
	w.replayed = true
	w.tail = Position{Segment: w.activeNum, Offset: w.activeSize}
	w.bg.Add(1) // under mu, so Close's Wait cannot start before this Add
	w.mu.Unlock()
	go w.run()

	if stats.TornTails > 0 || len(stats.Corrupt) > 0 {
		w.log.Warn("WAL replay repaired the log",
			zap.Int("entries", stats.Entries), zap.Int("torn_tails", stats.TornTails),
			zap.Int64("torn_bytes", stats.TornBytes), zap.Int("corrupt_ranges", len(stats.Corrupt)))
	}
	return stats, nil
}

// replaySegment reads one segment, hands its entries to fn, and repairs it. It returns
// the segment's size afterwards.
func (w *WAL) replaySegment(s segmentInfo, last bool, from Position, stats *ReplayStats, fn func(Position, []byte) error) (int64, error) {
	path := segmentPath(w.dir, s.num)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("wal: replay: read segment %s: %w", path, err)
	}
	stats.Segments++
	if len(data) < fileHeaderSize {
		// Open only lets the last segment be this short: the crash hit while it was being
		// created, before any entry could be in it.
		f, err := w.createSegment(s.num)
		if err != nil {
			return 0, fmt.Errorf("wal: replay: rewrite torn header: %w", err)
		}
		_ = f.Close()
		stats.TornTails++
		stats.TornBytes += int64(len(data))
		w.log.Warn("WAL segment header was torn; rewrote it", zap.String("segment", path), zap.Int("bytes", len(data)))
		return fileHeaderSize, nil
	}

	off := fileHeaderSize
	if s.num == from.Segment && from.Offset > int64(off) {
		if from.Offset > int64(len(data)) {
			w.log.Warn("WAL low-water mark points past the end of its segment; nothing of it is replayed",
				zap.String("segment", path), zap.Int64("mark_offset", from.Offset), zap.Int("size", len(data)))
			return int64(len(data)), nil
		}
		off = int(from.Offset)
	}

	end, err := scanSegment(data, off,
		func(at int, payload []byte) error {
			pos := Position{Segment: s.num, Offset: int64(at)}
			w.mu.Lock()
			w.registerLocked(pos, int64(at)+entrySize(len(payload)))
			w.mu.Unlock()
			stats.Entries++
			stats.Bytes += int64(len(payload))
			if err := fn(pos, payload); err != nil {
				return fmt.Errorf("wal: replay entry %v: %w", pos, err)
			}
			return nil
		},
		func(a, b int) {
			c := &Corruption{Segment: s.num, Offset: int64(a), Length: int64(b - a), Reason: diagnose(data, a)}
			stats.Corrupt = append(stats.Corrupt, c)
			w.log.Warn("WAL skipped a corrupt range; the entries after it are replayed", zap.Error(c))
		})
	if err != nil {
		return 0, err
	}
	if end == len(data) {
		return int64(len(data)), nil
	}

	reason := diagnose(data, end)
	if !last {
		c := &Corruption{Segment: s.num, Offset: int64(end), Length: int64(len(data) - end), Reason: reason}
		stats.Corrupt = append(stats.Corrupt, c)
		w.log.Warn("WAL skipped the unreadable end of a sealed segment", zap.Error(c))
		return int64(len(data)), nil
	}
	if err := cutTail(path, int64(end)); err != nil {
		return 0, err
	}
	stats.TornTails++
	stats.TornBytes += int64(len(data) - end)
	w.log.Warn("WAL cut a torn tail after the last intact entry",
		zap.String("segment", path), zap.Int("offset", end), zap.Int("bytes", len(data)-end), zap.String("reason", reason))
	return int64(end), nil
}

func cutTail(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("wal: replay: cut torn tail of %s: %w", path, err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wal: replay: cut torn tail of %s at %d: %w", path, size, err)
	}
	return nil
}

// openActive picks the segment appends go to: the last one, continuing after its last
// intact entry, unless that end lies below the low-water mark (only possible if the
// segment lost synced data); then a new segment above the mark, so every new entry sits
// above the mark and would be replayed after a crash.
func (w *WAL) openActive(segs []segmentInfo, from Position) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if len(segs) > 0 {
		last := segs[len(segs)-1]
		if (Position{Segment: last.num, Offset: last.size}).Compare(from) >= 0 {
			f, err := w.opts.openFile(segmentPath(w.dir, last.num), os.O_RDWR, 0)
			if err != nil {
				return fmt.Errorf("wal: open active segment: %w", err)
			}
			w.active, w.activeNum, w.activeSize = f, last.num, last.size
			return nil
		}
		w.activeNum = last.num
	}
	w.activeNum = max(w.activeNum, from.Segment)
	// rotateLocked creates activeNum+1.
	return w.rotateLocked()
}
