package wal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"strconv"
	"strings"
)

// On-disk format, version 1. README.md shows the same layout byte by byte; keep both in step.
//
// Segment file header (16 bytes):
//
//	0..7   magic "AUDITWAL"
//	8..9   format version, uint16 big endian (1)
//	10..11 reserved, zero
//	12..15 segment number, uint32 big endian (must match the file name)
//
// Entry (16-byte header + payload); entries never span segments:
//
//	0..3   sync marker E5 1A A7 5D
//	4      entry type (1 = record)
//	5..7   reserved, zero
//	8..11  payload length, uint32 big endian
//	12..15 CRC-32C (Castagnoli) of bytes 4..11 followed by the payload
//	16..   payload
const (
	fileMagic      = "AUDITWAL"
	formatVersion  = 1
	fileHeaderSize = 16

	entryHeaderSize = 16
	entryTypeRecord = 1

	segmentExt = ".wal"
)

// syncMarker opens every entry. It is not valid UTF-8 (0xE5 announces a three-byte
// sequence and 0x1A is not a continuation byte), so a JSON or other text payload can
// never contain it; binary payloads can, which is why a marker only counts when the
// header and the CRC around it check out.
var syncMarker = [4]byte{0xE5, 0x1A, 0xA7, 0x5D}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func segmentName(n int) string { return fmt.Sprintf("%08d%s", n, segmentExt) }

func segmentPath(dir string, n int) string { return filepath.Join(dir, segmentName(n)) }

// parseSegmentName reports the number of a segment file name such as "00000042.wal".
func parseSegmentName(name string) (int, bool) {
	base, ok := strings.CutSuffix(name, segmentExt)
	if !ok || len(base) != 8 {
		return 0, false
	}
	n, err := strconv.ParseUint(base, 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return int(n), true
}

func encodeFileHeader(segment int) []byte {
	h := make([]byte, fileHeaderSize)
	copy(h, fileMagic)
	binary.BigEndian.PutUint16(h[8:], formatVersion)
	binary.BigEndian.PutUint32(h[12:], uint32(segment))
	return h
}

// checkFileHeader refuses anything that is not a version-1 segment numbered as its name says.
func checkFileHeader(h []byte, segment int) error {
	switch {
	case len(h) < fileHeaderSize:
		return fmt.Errorf("file header is %d bytes, want %d", len(h), fileHeaderSize)
	case string(h[:8]) != fileMagic:
		return fmt.Errorf("magic %q is not %q: not a WAL segment", h[:8], fileMagic)
	case binary.BigEndian.Uint16(h[8:]) != formatVersion:
		return fmt.Errorf("format version %d is not supported (want %d)", binary.BigEndian.Uint16(h[8:]), formatVersion)
	case h[10] != 0 || h[11] != 0:
		return fmt.Errorf("reserved header bytes are not zero")
	case binary.BigEndian.Uint32(h[12:]) != uint32(segment):
		return fmt.Errorf("header says segment %d but the file name says %d", binary.BigEndian.Uint32(h[12:]), segment)
	}
	return nil
}

// appendEntry appends the framed entry for payload to buf.
func appendEntry(buf, payload []byte) []byte {
	return appendEntryParts(buf, len(payload), [][]byte{payload})
}

// appendEntryParts is appendEntry of the concatenation of parts, size bytes in all.
func appendEntryParts(buf []byte, size int, parts [][]byte) []byte {
	var h [entryHeaderSize]byte
	copy(h[:4], syncMarker[:])
	h[4] = entryTypeRecord
	binary.BigEndian.PutUint32(h[8:], uint32(size))
	crc := crc32.Checksum(h[4:12], castagnoli)
	for _, p := range parts {
		crc = crc32.Update(crc, castagnoli, p)
	}
	binary.BigEndian.PutUint32(h[12:], crc)
	buf = append(buf, h[:]...)
	for _, p := range parts {
		buf = append(buf, p...)
	}
	return buf
}

func entrySize(payloadLen int) int64 { return entryHeaderSize + int64(payloadLen) }

// entryAt decodes the entry starting at data[off:]. It returns the payload and the offset
// just past the entry, or ok=false when the bytes there are not a whole, intact entry
// (short, wrong marker, unknown type, non-zero reserved bytes, a length running past the
// data, or a CRC mismatch). It never reads outside data.
func entryAt(data []byte, off int) (payload []byte, end int, ok bool) {
	if off < 0 || len(data)-off < entryHeaderSize {
		return nil, 0, false
	}
	h := data[off : off+entryHeaderSize]
	if !bytes.Equal(h[:4], syncMarker[:]) || h[4] != entryTypeRecord || h[5] != 0 || h[6] != 0 || h[7] != 0 {
		return nil, 0, false
	}
	n := binary.BigEndian.Uint32(h[8:])
	if uint64(n) > uint64(len(data)-off-entryHeaderSize) {
		return nil, 0, false
	}
	start := off + entryHeaderSize
	end = start + int(n)
	payload = data[start:end]
	crc := crc32.Update(crc32.Checksum(h[4:12], castagnoli), castagnoli, payload)
	if crc != binary.BigEndian.Uint32(h[12:]) {
		return nil, 0, false
	}
	return payload, end, true
}

// nextEntry returns the offset of the first intact entry at or after from, or -1.
// It looks only at sync markers, so resynchronising after corruption costs one
// bytes.Index per candidate plus one CRC per marker that is found.
func nextEntry(data []byte, from int) int {
	for from < len(data) {
		i := bytes.Index(data[from:], syncMarker[:])
		if i < 0 {
			return -1
		}
		if _, _, ok := entryAt(data, from+i); ok {
			return from + i
		}
		from += i + 1
	}
	return -1
}
