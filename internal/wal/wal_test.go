package wal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWAL_AppendedEntriesReplayInOrderAfterReopen(t *testing.T) {
	dir := t.TempDir()
	want := [][]byte{
		[]byte(`{"id":"0192","event":"login"}`),
		{}, // an empty payload is a valid entry
		append([]byte("binary "), syncMarker[:]...), // a payload may contain the sync marker
		payloadFor(3, 5000),
	}
	w, stats, got := openReplayed(t, dir, Options{})
	require.Empty(t, got, "a new WAL replays nothing")
	assert.Equal(t, 0, stats.Entries)
	var positions []Position
	for _, p := range want {
		pos, err := w.Append(context.Background(), p)
		require.NoError(t, err)
		positions = append(positions, pos)
	}
	require.NoError(t, w.Close())

	stats, got = replayAll(t, dir, Options{})
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, positions[i], got[i].pos, "entry %d replays at the position Append returned", i)
		assert.Equal(t, string(want[i]), string(got[i].payload), "entry %d payload", i)
	}
	assert.Equal(t, len(want), stats.Entries)
	assert.EqualValues(t, len(want[0])+len(want[2])+len(want[3]), stats.Bytes)
	assert.Zero(t, stats.TornTails)
	assert.Zero(t, stats.CorruptEntries())
	assert.Equal(t, Position{Segment: 1, Offset: fileHeaderSize}, positions[0], "the first entry follows the file header")
	assert.EqualValues(t, fileHeaderSize+entrySize(len(want[0])), positions[1].Offset, "entries are packed back to back")
}

func TestWAL_EntriesSpreadOverSegmentsNeverSpanOne(t *testing.T) {
	dir := t.TempDir()
	opts := manualMarks(Options{SegmentSize: 1024})
	w, _, _ := openReplayed(t, dir, opts)
	const n = 200
	var prev Position
	for i := range n {
		pos, err := w.Append(context.Background(), payloadFor(i, 90+i%50))
		require.NoError(t, err)
		require.Equal(t, 1, pos.Compare(prev), "positions grow")
		prev = pos
	}
	assert.Greater(t, w.Segments(), 10)
	var onDisk int64
	for _, num := range segmentFiles(t, dir) {
		fi, err := os.Stat(segmentPath(dir, num))
		require.NoError(t, err)
		assert.LessOrEqual(t, fi.Size(), opts.SegmentSize, "segment %d exceeds SegmentSize", num)
		onDisk += fi.Size()
	}
	assert.Equal(t, onDisk, w.Size(), "Size reports the bytes of the segment files")
	assert.Len(t, segmentFiles(t, dir), w.Segments())
	require.NoError(t, w.Close())

	stats, got := replayAll(t, dir, opts)
	require.Len(t, got, n)
	for i, e := range got {
		assert.Equal(t, payloadFor(i, 90+i%50), e.payload)
	}
	assert.Equal(t, len(segmentFiles(t, dir)), stats.Segments)
}

func TestWAL_EntryLargerThanSegmentIsRefused(t *testing.T) {
	w, _, _ := openReplayed(t, t.TempDir(), Options{SegmentSize: 1024})
	defer w.Close()
	largest := 1024 - fileHeaderSize - entryHeaderSize
	_, err := w.Append(context.Background(), make([]byte, largest+1))
	require.ErrorIs(t, err, ErrEntryTooLarge)
	assert.Contains(t, err.Error(), "1024-byte segment")
	_, err = w.Append(context.Background(), make([]byte, largest))
	require.NoError(t, err, "an entry that exactly fills a segment is accepted")
}

func TestWAL_AppendBeforeReplayIsRefused(t *testing.T) {
	w, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	defer w.Close()
	_, err = w.Append(context.Background(), []byte("x"))
	require.ErrorIs(t, err, ErrNotReplayed)

	_, err = w.Replay(func(Position, []byte) error { return nil })
	require.NoError(t, err)
	_, err = w.Replay(func(Position, []byte) error { return nil })
	require.Error(t, err, "a second Replay is refused")
	_, err = w.Append(context.Background(), []byte("x"))
	require.NoError(t, err)
}

func TestWAL_ReplayCallbackErrorStopsReplayAndKeepsAppendRefused(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := openReplayed(t, dir, Options{})
	for i := range 3 {
		_, err := w.Append(context.Background(), payloadFor(i, 10))
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())

	w, err := Open(dir, Options{})
	require.NoError(t, err)
	boom := errors.New("store down")
	calls := 0
	_, err = w.Replay(func(Position, []byte) error {
		calls++
		return boom
	})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, 1, calls, "replay stops at the first callback error")
	_, err = w.Append(context.Background(), []byte("x"))
	require.ErrorIs(t, err, ErrNotReplayed)
	require.NoError(t, w.Close())

	_, got := replayAll(t, dir, Options{})
	assert.Len(t, got, 3, "a failed replay loses nothing")
}

func TestWAL_CloseIsIdempotentAndLaterCallsFail(t *testing.T) {
	w, _, _ := openReplayed(t, t.TempDir(), Options{})
	_, err := w.Append(context.Background(), []byte("x"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, w.Close())
	_, err = w.Append(context.Background(), []byte("y"))
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, w.SaveMark(), ErrClosed)

	unreplayed, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	require.NoError(t, unreplayed.Close(), "Close before Replay")
	require.NoError(t, unreplayed.Close())
	_, err = unreplayed.Replay(func(Position, []byte) error { return nil })
	require.ErrorIs(t, err, ErrClosed)
}

func TestWAL_AppendWithEndedContextWritesNothing(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := openReplayed(t, dir, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := w.Append(ctx, []byte("never"))
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, w.Close())
	_, got := replayAll(t, dir, Options{})
	assert.Empty(t, got)
}

func TestWAL_InvalidOptionsAreRefused(t *testing.T) {
	for name, opts := range map[string]Options{
		"a segment too small for an entry": {SegmentSize: 10},
		"a segment larger than 1 GiB":      {SegmentSize: 2 << 30},
		"an unknown sync mode":             {Sync: "sometimes"},
		"a negative sync interval":         {Sync: SyncInterval, SyncInterval: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Open(t.TempDir(), opts)
			require.Error(t, err)
		})
	}
}

func TestWAL_ForeignSegmentFileIsRefused(t *testing.T) {
	valid := encodeFileHeader(1)
	with := func(i int, b byte) []byte {
		h := append([]byte(nil), valid...)
		h[i] = b
		return h
	}
	for name, tc := range map[string]struct {
		files map[int][]byte
		want  string
	}{
		"a file with another magic":                {map[int][]byte{1: []byte("SQLite format 3\x00 and more")}, "not a WAL segment"},
		"a segment of a newer format":              {map[int][]byte{1: with(9, 2)}, "version 2"},
		"a segment renamed to another number":      {map[int][]byte{1: encodeFileHeader(7)}, "header says segment 7"},
		"an earlier segment shorter than a header": {map[int][]byte{1: valid[:5], 2: encodeFileHeader(2)}, "read header"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for n, b := range tc.files {
				writeSegment(t, dir, n, b)
			}
			_, err := Open(dir, Options{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), segmentName(1), "the error names the file")
		})
	}
}

func TestWAL_UnrelatedFilesInTheDirectoryAreIgnored(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README"), []byte("notes"), 0o640))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "1.wal"), []byte("not eight digits"), 0o640))
	w, _, got := openReplayed(t, dir, Options{})
	assert.Empty(t, got)
	require.NoError(t, w.Close())
}
