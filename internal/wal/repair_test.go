package wal

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// writeEntries creates a WAL in dir holding n entries of about size bytes, closed.
func writeEntries(t *testing.T, dir string, n, size int) []Position {
	t.Helper()
	w, _, _ := openReplayed(t, dir, manualMarks(Options{}))
	var positions []Position
	for i := range n {
		pos, err := w.Append(context.Background(), payloadFor(i, size))
		require.NoError(t, err)
		positions = append(positions, pos)
	}
	require.NoError(t, w.Close())
	// Close saves the mark; these tests are about segment contents, so start from no mark.
	require.NoError(t, os.Remove(filepath.Join(dir, markFileName)))
	return positions
}

func TestWAL_TornTailIsCutAndCounted(t *testing.T) {
	const n, size = 3, 60
	template := t.TempDir()
	positions := writeEntries(t, template, n, size)
	segment := readSegment(t, template, 1)
	lastStart := int(positions[n-1].Offset)
	require.Equal(t, lastStart+int(entrySize(size)), len(segment))

	// Every length that keeps a strict prefix of the last entry: a crash at any byte of it.
	for cut := lastStart + 1; cut < len(segment); cut++ {
		dir := t.TempDir()
		writeSegment(t, dir, 1, segment[:cut])

		core, logs := observer.New(zapcore.WarnLevel)
		opts := manualMarks(Options{Logger: zap.New(core)})
		w, stats, got := openReplayed(t, dir, opts)
		require.Equal(t, [][]byte{payloadFor(0, size), payloadFor(1, size)}, payloads(got), "cut at %d: the entries before the torn one replay", cut)
		require.Equal(t, 1, stats.TornTails, "cut at %d", cut)
		require.EqualValues(t, cut-lastStart, stats.TornBytes, "cut at %d", cut)
		require.Zero(t, stats.CorruptEntries(), "cut at %d: a torn tail is not corruption", cut)
		require.Equal(t, 1, logs.FilterMessage("WAL cut a torn tail after the last intact entry").Len(), "cut at %d: the repair is logged", cut)
		require.Len(t, readSegment(t, dir, 1), lastStart, "cut at %d: the file ends at the last intact entry", cut)

		pos, err := w.Append(context.Background(), []byte("after the crash"))
		require.NoError(t, err)
		require.Equal(t, positions[n-1], pos, "cut at %d: appending continues where the torn entry began", cut)
		require.NoError(t, w.Close())

		stats, got = replayAll(t, dir, Options{})
		require.Equal(t, [][]byte{payloadFor(0, size), payloadFor(1, size), []byte("after the crash")}, payloads(got), "cut at %d", cut)
		require.Zero(t, stats.TornTails, "cut at %d: the repair is durable", cut)
	}
}

func TestWAL_TornSegmentHeaderIsRewritten(t *testing.T) {
	dir := t.TempDir()
	writeEntries(t, dir, 2, 40)
	writeSegment(t, dir, 2, encodeFileHeader(2)[:5]) // crash while creating segment 2

	w, stats, got := openReplayed(t, dir, manualMarks(Options{}))
	assert.Len(t, got, 2)
	assert.Equal(t, 1, stats.TornTails)
	pos, err := w.Append(context.Background(), []byte("next"))
	require.NoError(t, err)
	assert.Equal(t, Position{Segment: 2, Offset: fileHeaderSize}, pos)
	require.NoError(t, w.Close())
	_, got = replayAll(t, dir, Options{})
	assert.Equal(t, []byte("next"), got[2].payload)
}

func TestWAL_CorruptMiddleEntryIsSkippedAndCounted(t *testing.T) {
	const n, size, bad = 6, 50, 2
	template := t.TempDir()
	positions := writeEntries(t, template, n, size)
	segment := readSegment(t, template, 1)
	at := int(positions[bad].Offset)

	for name, damage := range map[string]func(b []byte){
		"a flipped payload byte":              func(b []byte) { b[at+entryHeaderSize+7] ^= 0x01 },
		"a flipped sync marker byte":          func(b []byte) { b[at] ^= 0xff },
		"an unknown entry type":               func(b []byte) { b[at+4] = 9 },
		"a non-zero reserved byte":            func(b []byte) { b[at+6] = 1 },
		"an impossible length":                func(b []byte) { binary.BigEndian.PutUint32(b[at+8:], 0xfffffff0) },
		"a length one byte too long":          func(b []byte) { binary.BigEndian.PutUint32(b[at+8:], size+1) },
		"a length one byte too short":         func(b []byte) { binary.BigEndian.PutUint32(b[at+8:], size-1) },
		"a flipped CRC byte":                  func(b []byte) { b[at+13] ^= 0x80 },
		"a zeroed header":                     func(b []byte) { clear(b[at : at+entryHeaderSize]) },
		"a whole entry overwritten with zero": func(b []byte) { clear(b[at : at+int(entrySize(size))]) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			damaged := append([]byte(nil), segment...)
			damage(damaged)
			writeSegment(t, dir, 1, damaged)

			core, logs := observer.New(zapcore.WarnLevel)
			w, stats, got := openReplayed(t, dir, manualMarks(Options{Logger: zap.New(core)}))
			defer w.Close()
			var want [][]byte
			for i := range n {
				if i != bad {
					want = append(want, payloadFor(i, size))
				}
			}
			require.Equal(t, want, payloads(got), "every entry but the damaged one replays")
			require.Equal(t, 1, stats.CorruptEntries())
			c := stats.Corrupt[0]
			assert.Equal(t, 1, c.Segment)
			assert.EqualValues(t, at, c.Offset, "the corruption is reported where the damaged entry starts")
			assert.EqualValues(t, entrySize(size), c.Length, "exactly the damaged entry is skipped")
			assert.NotEmpty(t, c.Reason)
			assert.Contains(t, c.Error(), "00000001.wal at offset")
			assert.Zero(t, stats.TornTails)
			assert.Equal(t, 1, logs.FilterMessage("WAL skipped a corrupt range; the entries after it are replayed").Len())
			assert.Len(t, readSegment(t, dir, 1), len(segment), "a corrupt middle is skipped, not cut")
		})
	}
}

func TestWAL_UnreadableEndOfSealedSegmentIsSkippedNotCut(t *testing.T) {
	dir := t.TempDir()
	opts := manualMarks(Options{SegmentSize: 256})
	w, _, _ := openReplayed(t, dir, opts)
	for i := range 8 {
		_, err := w.Append(context.Background(), payloadFor(i, 60))
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, markFileName)))
	require.Greater(t, len(segmentFiles(t, dir)), 2)

	first := readSegment(t, dir, 1)
	writeSegment(t, dir, 1, append(first, "garbage"...))

	stats, got := replayAll(t, dir, opts)
	assert.Len(t, got, 8, "no entry is lost")
	require.Equal(t, 1, stats.CorruptEntries())
	assert.Equal(t, &Corruption{Segment: 1, Offset: int64(len(first)), Length: 7, Reason: stats.Corrupt[0].Reason}, stats.Corrupt[0])
	assert.Zero(t, stats.TornTails, "only the last segment has a torn tail")
	assert.Len(t, readSegment(t, dir, 1), len(first)+7, "a sealed segment is never modified")
}
