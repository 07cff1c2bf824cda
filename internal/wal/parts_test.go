package wal

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An entry appended in parts is the entry of their concatenation, byte for byte: it replays
// as one payload, and Append and AppendParts write the same bytes.
func TestWAL_AppendPartsWritesTheConcatenation(t *testing.T) {
	header, body := []byte{2, 4, 'a', 'c', 'm', 'e'}, payloadFor(7, 3000)
	whole := append(append([]byte{}, header...), body...)
	assert.Equal(t, appendEntry(nil, whole), appendEntryParts(nil, len(whole), [][]byte{header, nil, body}),
		"framing of parts differs from framing of the concatenation")

	dir := t.TempDir()
	w, _, _ := openReplayed(t, dir, Options{})
	p1, err := w.AppendParts(context.Background(), header, nil, body)
	require.NoError(t, err)
	p2, err := w.Append(context.Background(), whole)
	require.NoError(t, err)
	_, err = w.AppendParts(context.Background())
	require.NoError(t, err, "no parts is an empty payload")
	require.NoError(t, w.Close())

	_, got := replayAll(t, dir, Options{})
	require.Len(t, got, 3)
	assert.Equal(t, p1, got[0].pos)
	assert.Equal(t, string(whole), string(got[0].payload))
	assert.Equal(t, p2, got[1].pos)
	assert.EqualValues(t, p1.Offset+entrySize(len(whole)), p2.Offset, "the parted entry's size counts every part")
	assert.Empty(t, got[2].payload)
}

func TestWAL_AppendPartsLargerThanSegmentIsRefused(t *testing.T) {
	w, _, _ := openReplayed(t, t.TempDir(), Options{SegmentSize: 1024})
	defer w.Close()
	largest := 1024 - fileHeaderSize - entryHeaderSize
	_, err := w.AppendParts(context.Background(), make([]byte, largest), []byte{1})
	require.ErrorIs(t, err, ErrEntryTooLarge)
	_, err = w.AppendParts(context.Background(), make([]byte, largest-1), []byte{1})
	require.NoError(t, err)
}
