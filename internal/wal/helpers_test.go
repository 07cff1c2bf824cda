package wal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// entry is what a test expects Replay to hand over.
type entry struct {
	pos     Position
	payload []byte
}

func payloadFor(i, size int) []byte {
	p := fmt.Appendf(nil, "entry-%06d:", i)
	for len(p) < size {
		p = append(p, byte('a'+len(p)%26))
	}
	return p
}

// manualMarks keeps the background save of the mark out of tests that check its effects.
func manualMarks(o Options) Options {
	o.MarkInterval = -1
	return o
}

// openReplayed opens dir and replays it, returning the WAL, the stats and the entries.
func openReplayed(t testing.TB, dir string, opts Options) (*WAL, ReplayStats, []entry) {
	t.Helper()
	w, err := Open(dir, opts)
	require.NoError(t, err)
	var got []entry
	stats, err := w.Replay(func(pos Position, payload []byte) error {
		got = append(got, entry{pos: pos, payload: bytes.Clone(payload)})
		return nil
	})
	require.NoError(t, err)
	return w, stats, got
}

// replayAll reopens dir read-and-close, returning what a restart would see.
func replayAll(t testing.TB, dir string, opts Options) (ReplayStats, []entry) {
	t.Helper()
	w, stats, got := openReplayed(t, dir, manualMarks(opts))
	require.NoError(t, w.Close())
	return stats, got
}

func payloads(es []entry) [][]byte {
	out := make([][]byte, len(es))
	for i, e := range es {
		out[i] = e.payload
	}
	return out
}

func readSegment(t testing.TB, dir string, n int) []byte {
	t.Helper()
	b, err := os.ReadFile(segmentPath(dir, n))
	require.NoError(t, err)
	return b
}

func writeSegment(t testing.TB, dir string, n int, data []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(segmentPath(dir, n), data, 0o640))
}

func segmentFiles(t testing.TB, dir string) []int {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"+segmentExt))
	require.NoError(t, err)
	var nums []int
	for _, name := range names {
		n, ok := parseSegmentName(filepath.Base(name))
		require.True(t, ok, name)
		nums = append(nums, n)
	}
	return nums
}
