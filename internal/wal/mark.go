package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"

	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/atomicfile"
)

// The low-water-mark file, version 1 (28 bytes), replaced atomically (temp file, fsync, rename,
// directory fsync) so a crash leaves either the old or the new mark, never a mix:
//
//	0..7   magic "AWALCKPT"
//	8..9   format version, uint16 big endian (1)
//	10..11 reserved, zero
//	12..15 segment number of the low-water mark, uint32 big endian
//	16..23 offset of the low-water mark, uint64 big endian
//	24..27 CRC-32C (Castagnoli) of bytes 0..23
const (
	markFileName = "low-water-mark"
	markTmpName  = markFileName + ".tmp" // atomicfile.Replace's temp name; removed by Open
	// legacyMarkFileName is the same file as written before it was renamed (2026-12): read
	// when the new one is missing, removed once the new one is written.
	legacyMarkFileName = "checkpoint"
	markMagic          = "AWALCKPT"
	markSize           = 28
)

func encodeMark(p Position) []byte {
	b := make([]byte, markSize)
	copy(b, markMagic)
	binary.BigEndian.PutUint16(b[8:], formatVersion)
	binary.BigEndian.PutUint32(b[12:], uint32(p.Segment))
	binary.BigEndian.PutUint64(b[16:], uint64(p.Offset))
	binary.BigEndian.PutUint32(b[24:], crc32.Checksum(b[:24], castagnoli))
	return b
}

func decodeMark(b []byte) (Position, error) {
	switch {
	case len(b) != markSize:
		return Position{}, fmt.Errorf("low-water mark is %d bytes, want %d", len(b), markSize)
	case string(b[:8]) != markMagic:
		return Position{}, fmt.Errorf("low-water mark magic %q is not %q", b[:8], markMagic)
	case binary.BigEndian.Uint16(b[8:]) != formatVersion:
		return Position{}, fmt.Errorf("low-water mark version %d is not supported", binary.BigEndian.Uint16(b[8:]))
	case crc32.Checksum(b[:24], castagnoli) != binary.BigEndian.Uint32(b[24:]):
		return Position{}, errors.New("low-water mark CRC mismatch")
	}
	off := binary.BigEndian.Uint64(b[16:])
	if off > 1<<62 {
		return Position{}, fmt.Errorf("low-water mark offset %d is impossible", off)
	}
	return Position{Segment: int(binary.BigEndian.Uint32(b[12:])), Offset: int64(off)}, nil
}

// readMark returns the persisted low-water mark, the zero Position when there is
// none. An unreadable mark file is logged and ignored: replaying from the first segment
// only replays entries again, which the store tolerates, while refusing to start would
// leave every acknowledged entry stranded.
func readMark(dir string, log *zap.Logger) (Position, error) {
	b, err := os.ReadFile(filepath.Join(dir, markFileName))
	legacy := false
	if errors.Is(err, os.ErrNotExist) {
		b, err = os.ReadFile(filepath.Join(dir, legacyMarkFileName))
		legacy = err == nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return Position{}, nil
	}
	if err != nil {
		return Position{}, fmt.Errorf("wal: read low-water mark: %w", err)
	}
	p, err := decodeMark(b)
	if err != nil {
		log.Warn("WAL low-water mark is unreadable; replaying every segment", zap.String("dir", dir), zap.Error(err))
		return Position{}, nil
	}
	if legacy {
		// Under its own name from now on.
		return p, writeMark(dir, p)
	}
	return p, nil
}

func writeMark(dir string, p Position) error {
	if err := atomicfile.Replace(filepath.Join(dir, markFileName), encodeMark(p), 0o640); err != nil {
		return fmt.Errorf("wal: write low-water mark %v: %w", p, err)
	}
	// The new file is durable: an older name must not be read in its place later.
	if err := os.Remove(filepath.Join(dir, legacyMarkFileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("wal: remove legacy low-water mark: %w", err)
	}
	return nil
}

// Done marks the entry at pos as fully handled (committed to the store or set aside in a
// dead-letter queue). It only updates memory and may be called from many goroutines in
// any order; the low-water mark it moves is persisted, and segments below it deleted, by
// SaveMark (called every Options.MarkInterval and by Close).
func (w *WAL) Done(pos Position) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	pending := w.outstanding[w.head:]
	i, found := slices.BinarySearchFunc(pending, pos, Position.Compare)
	if !found {
		return fmt.Errorf("%w: %v", ErrUnknownPosition, pos)
	}
	if _, dup := w.done[pos]; dup {
		return fmt.Errorf("%w: %v (already done)", ErrUnknownPosition, pos)
	}
	if i > 0 {
		w.done[pos] = struct{}{}
		return nil
	}
	w.head++
	for w.head < len(w.outstanding) {
		next := w.outstanding[w.head]
		if _, ok := w.done[next]; !ok {
			break
		}
		delete(w.done, next)
		w.head++
	}
	// Reclaim the consumed prefix once it dominates the slice, keeping Done amortised O(log n).
	if w.head > 1024 && w.head*2 > len(w.outstanding) {
		w.outstanding = append(w.outstanding[:0], w.outstanding[w.head:]...)
		w.head = 0
	}
	return nil
}

// Pending returns the number of entries appended or replayed and not yet marked done.
func (w *WAL) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.outstanding) - w.head - len(w.done)
}

// LowWater returns the lowest position not yet marked done: the first outstanding entry,
// or, when none is outstanding, the position the next entry will be written at (as far
// as registered entries tell). Every entry below it is done.
func (w *WAL) LowWater() Position {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lowWaterLocked()
}

func (w *WAL) lowWaterLocked() Position {
	if w.head < len(w.outstanding) {
		return w.outstanding[w.head]
	}
	return w.tail
}

// registerLocked records entries that are now on disk (appended or replayed) as
// outstanding. Callers register in increasing position order, which keeps
// w.outstanding sorted.
func (w *WAL) registerLocked(pos Position, end int64) {
	w.outstanding = append(w.outstanding, pos)
	w.tail = Position{Segment: pos.Segment, Offset: end}
}

// SaveMark persists the current low-water mark and deletes every segment entirely below
// it (the active segment is never below it). It is safe to call at any time after Replay;
// the WAL calls it itself every Options.MarkInterval and on Close.
func (w *WAL) SaveMark() error {
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return w.saveMark()
}

func (w *WAL) saveMark() error {
	w.cpMu.Lock()
	defer w.cpMu.Unlock()

	w.mu.Lock()
	if !w.replayed {
		w.mu.Unlock()
		return nil
	}
	mark := w.lowWaterLocked()
	moved := mark != w.savedMark
	w.mu.Unlock()

	if moved {
		// In interval mode entries below the mark may still sit in the page cache. The mark
		// must never pass an entry that a crash could still take away, or new entries
		// written at those offsets after restart would sit below the mark and be skipped.
		w.wmu.Lock()
		err := w.syncActiveLocked()
		w.wmu.Unlock()
		if err != nil {
			return fmt.Errorf("wal: save low-water mark: %w", err)
		}
		if err := writeMark(w.dir, mark); err != nil {
			return err
		}
		w.mu.Lock()
		w.savedMark = mark
		w.mu.Unlock()
	}
	return w.deleteSegmentsBelow(mark.Segment)
}

// deleteSegmentsBelow removes segment files numbered below n. A segment leaves the
// in-memory list only once its file is gone, so a failed removal is retried next time.
func (w *WAL) deleteSegmentsBelow(n int) error {
	w.mu.Lock()
	var doomed []int
	for _, s := range w.segments {
		if s.num < n {
			doomed = append(doomed, s.num)
		}
	}
	w.mu.Unlock()
	if len(doomed) == 0 {
		return nil
	}
	var errs []error
	var removed []int
	for _, num := range doomed {
		if err := os.Remove(segmentPath(w.dir, num)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("wal: delete segment %s: %w", segmentName(num), err))
			continue
		}
		removed = append(removed, num)
	}
	w.mu.Lock()
	w.segments = slices.DeleteFunc(w.segments, func(s segmentInfo) bool { return slices.Contains(removed, s.num) })
	w.mu.Unlock()
	if len(removed) > 0 {
		if err := atomicfile.SyncDir(w.dir); err != nil {
			errs = append(errs, fmt.Errorf("wal: delete segments: %w", err))
		}
		w.log.Debug("WAL segments deleted below the low-water mark", zap.Ints("segments", removed))
	}
	return errors.Join(errs...)
}
