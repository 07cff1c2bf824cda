package wal

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWAL_SavingTheMarkDeletesOnlySegmentsBelowTheLowestNotDoneEntry(t *testing.T) {
	dir := t.TempDir()
	opts := manualMarks(Options{SegmentSize: 300})
	w, _, _ := openReplayed(t, dir, opts)
	const n = 24
	var positions []Position
	for i := range n {
		pos, err := w.Append(context.Background(), payloadFor(i, 50))
		require.NoError(t, err)
		positions = append(positions, pos)
	}
	require.Greater(t, positions[n-1].Segment, 5)

	// Everything is done except entry keep, marked from many goroutines in random order.
	const keep = 13
	order := rand.Perm(n)
	var wg sync.WaitGroup
	for _, i := range order {
		if i == keep {
			continue
		}
		wg.Go(func() { assert.NoError(t, w.Done(positions[i])) })
	}
	wg.Wait()
	assert.Equal(t, positions[keep], w.LowWater(), "the low-water mark is the lowest entry not done")

	require.NoError(t, w.SaveMark())
	for _, num := range segmentFiles(t, dir) {
		assert.GreaterOrEqual(t, num, positions[keep].Segment, "segment %d is below the mark and must be gone", num)
	}
	for s := positions[keep].Segment; s <= positions[n-1].Segment; s++ {
		assert.FileExists(t, segmentPath(dir, s), "segment %d holds or follows the lowest not-done entry", s)
	}
	assert.Equal(t, len(segmentFiles(t, dir)), w.Segments())
	require.NoError(t, w.Close())

	// A restart replays from the mark: the kept entry and everything after it, including
	// entries that were done but lie above the mark.
	w, stats, got := openReplayed(t, dir, opts)
	assert.Equal(t, positions[keep], stats.From)
	want := make([][]byte, 0, n-keep)
	for i := keep; i < n; i++ {
		want = append(want, payloadFor(i, 50))
	}
	require.Equal(t, want, payloads(got))
	assert.Equal(t, positions[keep], got[0].pos)

	// Once everything replayed is done, only the active segment is left.
	for _, e := range got {
		require.NoError(t, w.Done(e.pos))
	}
	require.NoError(t, w.SaveMark())
	assert.Equal(t, 1, w.Segments())
	assert.Equal(t, []int{positions[n-1].Segment}, segmentFiles(t, dir), "the active segment is never deleted")
	require.NoError(t, w.Close())

	stats, got = replayAll(t, dir, opts)
	assert.Empty(t, got, "nothing is replayed once everything was done")
	assert.Zero(t, stats.TornTails)
}

func TestWAL_DoneRejectsUnknownAndRepeatedPositions(t *testing.T) {
	w, _, _ := openReplayed(t, t.TempDir(), manualMarks(Options{}))
	defer w.Close()
	a, err := w.Append(context.Background(), []byte("a"))
	require.NoError(t, err)
	b, err := w.Append(context.Background(), []byte("b"))
	require.NoError(t, err)

	require.ErrorIs(t, w.Done(Position{Segment: 1, Offset: 3}), ErrUnknownPosition, "a position that is no entry")
	require.NoError(t, w.Done(b))
	require.ErrorIs(t, w.Done(b), ErrUnknownPosition, "done twice out of order")
	require.NoError(t, w.Done(a))
	require.ErrorIs(t, w.Done(a), ErrUnknownPosition, "done twice in order")
	assert.Equal(t, Position{Segment: 1, Offset: b.Offset + entrySize(1)}, w.LowWater(), "with nothing outstanding the mark is the end of the log")
}

func TestWAL_BackgroundSavePersistsTheMark(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := openReplayed(t, dir, Options{MarkInterval: 10 * time.Millisecond})
	a, err := w.Append(context.Background(), []byte("a"))
	require.NoError(t, err)
	b, err := w.Append(context.Background(), []byte("b"))
	require.NoError(t, err)
	require.NoError(t, w.Done(a))
	require.Eventually(t, func() bool {
		raw, err := os.ReadFile(filepath.Join(dir, markFileName))
		if err != nil {
			return false
		}
		p, err := decodeMark(raw)
		return err == nil && p == b
	}, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, w.Close())
	_, got := replayAll(t, dir, Options{})
	assert.Equal(t, [][]byte{[]byte("b")}, payloads(got))
}

func TestWAL_UnreadableMarkFileReplaysEverything(t *testing.T) {
	dir := t.TempDir()
	positions := writeEntries(t, dir, 3, 20)
	w, _, _ := openReplayed(t, dir, manualMarks(Options{}))
	require.NoError(t, w.Done(positions[0]))
	require.NoError(t, w.Done(positions[1]))
	require.NoError(t, w.Close())
	stats, got := replayAll(t, dir, Options{})
	require.Len(t, got, 1, "the intact mark file skips done entries")
	assert.Equal(t, positions[2], stats.From)

	raw, err := os.ReadFile(filepath.Join(dir, markFileName))
	require.NoError(t, err)
	raw[17] ^= 0xff
	require.NoError(t, os.WriteFile(filepath.Join(dir, markFileName), raw, 0o640))
	stats, got = replayAll(t, dir, Options{})
	assert.Len(t, got, 3, "a damaged mark file costs duplicates, never entries")
	assert.Equal(t, Position{}, stats.From)
}

func TestWAL_AppendsAfterAMarkPastTheLogStartAboveIt(t *testing.T) {
	// A mark that points past the end of the surviving log (its segment lost
	// data) must not let new entries land below the mark, where a restart would skip them.
	dir := t.TempDir()
	writeEntries(t, dir, 2, 20)
	mark := Position{Segment: 1, Offset: 10_000}
	require.NoError(t, writeMark(dir, mark))

	w, stats, got := openReplayed(t, dir, manualMarks(Options{}))
	assert.Empty(t, got)
	assert.Equal(t, mark, stats.From)
	pos, err := w.Append(context.Background(), []byte("new"))
	require.NoError(t, err)
	assert.Equal(t, 1, pos.Compare(mark))
	require.NoError(t, w.Close())
	_, got = replayAll(t, dir, Options{})
	assert.True(t, slices.ContainsFunc(got, func(e entry) bool { return string(e.payload) == "new" }))
}

// A data directory written before the mark file was renamed keeps its low-water mark: the
// old file is read, then replaced by the new one.
func TestWAL_ReadsTheMarkFileUnderItsFormerName(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := openReplayed(t, dir, manualMarks(Options{}))
	var positions []Position
	for i := range 3 {
		pos, err := w.Append(t.Context(), []byte{byte(i)})
		require.NoError(t, err)
		positions = append(positions, pos)
	}
	require.NoError(t, w.Done(positions[0]))
	require.NoError(t, w.Close())
	require.NoError(t, os.Rename(filepath.Join(dir, markFileName), filepath.Join(dir, legacyMarkFileName)))

	w, _, got := openReplayed(t, dir, manualMarks(Options{}))
	assert.Len(t, got, 2, "the entry done before the mark was saved is not replayed")
	_, err := os.Stat(filepath.Join(dir, markFileName))
	assert.NoError(t, err, "the mark is saved under its new name at once")
	_, err = os.Stat(filepath.Join(dir, legacyMarkFileName))
	assert.ErrorIs(t, err, os.ErrNotExist, "the former file is gone once the new one is written")
	require.NoError(t, w.Close())
}
