package wal

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzReplay feeds arbitrary bytes as the body of a segment (after a valid file header).
// Replay must not panic, must terminate, must return only entries whose CRC checks, must
// account for every byte (entries, skipped ranges and the cut tail partition the body),
// and its repair must be stable: a second replay returns the same entries and repairs
// nothing more. Seeds live in testdata/fuzz/FuzzReplay.
func FuzzReplay(f *testing.F) {
	f.Add(appendEntry(appendEntry(nil, []byte("one")), []byte("two")))
	f.Add(appendEntry(nil, []byte("torn"))[:10])
	f.Add(syncMarker[:])
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, body []byte) {
		dir := t.TempDir()
		segment := append(encodeFileHeader(1), body...)
		writeSegment(t, dir, 1, segment)

		w, err := Open(dir, manualMarks(Options{}))
		require.NoError(t, err)
		var got []entry
		var entryBytes int64
		stats, err := w.Replay(func(pos Position, payload []byte) error {
			require.Equal(t, 1, pos.Segment)
			off := int(pos.Offset)
			require.GreaterOrEqual(t, off, fileHeaderSize)
			require.LessOrEqual(t, off+entryHeaderSize+len(payload), len(segment))
			h := segment[off : off+entryHeaderSize]
			require.Equal(t, syncMarker[:], h[:4])
			require.EqualValues(t, len(payload), binary.BigEndian.Uint32(h[8:]))
			require.Equal(t, segment[off+entryHeaderSize:off+entryHeaderSize+len(payload)], payload)
			crc := crc32.Update(crc32.Checksum(h[4:12], castagnoli), castagnoli, payload)
			require.Equal(t, binary.BigEndian.Uint32(h[12:]), crc, "an entry whose CRC does not check was returned")
			got = append(got, entry{pos: pos, payload: bytes.Clone(payload)})
			entryBytes += entrySize(len(payload))
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, len(got), stats.Entries)
		skipped := int64(0)
		for _, c := range stats.Corrupt {
			skipped += c.Length
		}
		require.EqualValues(t, len(body), entryBytes+skipped+stats.TornBytes, "entries, skipped ranges and the cut tail cover the body")
		require.NoError(t, w.Close())

		require.NoError(t, os.Remove(filepath.Join(dir, markFileName)))
		again, gotAgain := replayAll(t, dir, Options{})
		require.Equal(t, got, gotAgain, "replay after repair returns the same entries")
		require.Zero(t, again.TornTails, "a repaired tail stays repaired")
	})
}
