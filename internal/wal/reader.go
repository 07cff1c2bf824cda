package wal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// scanSegment reads data (a whole segment file) from off on. It calls entry for every
// intact entry and skipped for every unreadable range that is followed by an intact
// entry, so one bad entry never hides the ones after it. It returns the offset where
// the trailing unreadable bytes begin, len(data) when there are none: whether those
// bytes are a torn tail or corruption depends on whether the segment is the last one,
// which is the caller's knowledge.
//
// Invariant: every call to entry is for bytes that entryAt accepts, so a payload whose
// CRC does not check is never returned.
func scanSegment(data []byte, off int, entry func(off int, payload []byte) error, skipped func(from, to int)) (int, error) {
	for off < len(data) {
		if payload, end, ok := entryAt(data, off); ok {
			if err := entry(off, payload); err != nil {
				return off, err
			}
			off = end
			continue
		}
		next := nextEntry(data, off+1)
		if next < 0 {
			return off, nil
		}
		skipped(off, next)
		off = next
	}
	return len(data), nil
}

// diagnose says why entryAt rejects the bytes at off, for logs and Corruption.Reason.
func diagnose(data []byte, off int) string {
	rest := data[off:]
	switch {
	case len(rest) < entryHeaderSize:
		return fmt.Sprintf("%d bytes left, shorter than an entry header", len(rest))
	case !bytes.Equal(rest[:4], syncMarker[:]):
		return fmt.Sprintf("no sync marker (found % x)", rest[:4])
	case rest[4] != entryTypeRecord:
		return fmt.Sprintf("unknown entry type %d", rest[4])
	case rest[5] != 0 || rest[6] != 0 || rest[7] != 0:
		return "reserved header bytes are not zero"
	}
	n := binary.BigEndian.Uint32(rest[8:])
	if uint64(n) > uint64(len(rest)-entryHeaderSize) {
		return fmt.Sprintf("payload length %d runs past the end of the segment (%d bytes left)", n, len(rest)-entryHeaderSize)
	}
	payload := rest[entryHeaderSize : entryHeaderSize+int(n)]
	got := crc32.Update(crc32.Checksum(rest[4:12], castagnoli), castagnoli, payload)
	return fmt.Sprintf("CRC mismatch (stored %08x, computed %08x)", binary.BigEndian.Uint32(rest[12:]), got)
}
