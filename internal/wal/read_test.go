package wal

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWAL_ReadReturnsAnOutstandingEntryFromAnySegment(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := openReplayed(t, dir, manualMarks(Options{SegmentSize: 1024}))
	var positions []Position
	for i := range 30 {
		pos, err := w.Append(context.Background(), payloadFor(i, 100+i))
		require.NoError(t, err)
		positions = append(positions, pos)
	}
	require.Greater(t, w.Segments(), 2, "entries of sealed segments and of the active one are read")
	for i, pos := range positions {
		got, err := w.Read(pos)
		require.NoError(t, err, "entry %d", i)
		assert.Equal(t, payloadFor(i, 100+i), got, "entry %d", i)
	}
	require.NoError(t, w.Close())
}

func TestWAL_ReadRefusesADoneEntryAndNamesACorruptOne(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := openReplayed(t, dir, manualMarks(Options{}))
	first, err := w.Append(context.Background(), payloadFor(1, 200))
	require.NoError(t, err)
	second, err := w.Append(context.Background(), payloadFor(2, 200))
	require.NoError(t, err)

	assert.Equal(t, 2, w.Pending())
	require.NoError(t, w.Done(second))
	assert.Equal(t, 1, w.Pending(), "an entry done out of order is no longer pending")
	_, err = w.Read(second)
	require.ErrorIs(t, err, ErrUnknownPosition, "an entry marked done (out of order) is no longer readable")
	_, err = w.Read(Position{Segment: 1, Offset: 1})
	require.ErrorIs(t, err, ErrUnknownPosition, "a position that was never handed out")

	// Flip one payload byte of the first entry on disk: the CRC no longer holds.
	f, err := os.OpenFile(segmentPath(dir, first.Segment), os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{0xFF}, first.Offset+entryHeaderSize+10)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = w.Read(first)
	var c *Corruption
	require.ErrorAs(t, err, &c)
	assert.Equal(t, first.Offset, c.Offset)
	require.NoError(t, w.Close())

	_, err = w.Read(first)
	require.ErrorIs(t, err, ErrClosed)
}
