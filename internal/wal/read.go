package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// Read returns a copy of the payload of the outstanding entry at pos, checking its frame and
// CRC as replay does. It lets the WAL serve as the queue: a caller that keeps only positions
// in memory reads each entry back when it has room for its records. Entries are read with
// pread from their segment, the active one included (an entry is readable once Append has
// returned its position; in SyncInterval mode from the page cache).
func (w *WAL) Read(pos Position) ([]byte, error) {
	w.mu.Lock()
	closed := w.closed
	_, outstanding := slices.BinarySearchFunc(w.outstanding[w.head:], pos, Position.Compare)
	if _, done := w.done[pos]; done {
		outstanding = false
	}
	w.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if !outstanding {
		return nil, fmt.Errorf("%w: %v", ErrUnknownPosition, pos)
	}
	f, err := os.Open(segmentPath(w.dir, pos.Segment))
	if err != nil {
		return nil, fmt.Errorf("wal: read entry %v: %w", pos, err)
	}
	defer f.Close()
	var h [entryHeaderSize]byte
	if _, err := f.ReadAt(h[:], pos.Offset); err != nil {
		return nil, fmt.Errorf("wal: read entry %v: header: %w", pos, err)
	}
	n := binary.BigEndian.Uint32(h[8:])
	if int64(n) > w.opts.SegmentSize {
		return nil, fmt.Errorf("wal: read entry %v: %w", pos, &Corruption{Segment: pos.Segment, Offset: pos.Offset, Length: entryHeaderSize, Reason: fmt.Sprintf("length %d exceeds the segment size", n)})
	}
	buf := make([]byte, entrySize(int(n)))
	if _, err := f.ReadAt(buf, pos.Offset); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("wal: read entry %v: %w", pos, err)
	}
	payload, _, ok := entryAt(buf, 0)
	if !ok {
		return nil, fmt.Errorf("wal: read entry %v: %w", pos, &Corruption{Segment: pos.Segment, Offset: pos.Offset, Length: int64(len(buf)), Reason: diagnose(buf, 0)})
	}
	return payload, nil
}
