package wal

import (
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWAL_ConcurrentAppendsShareFsyncsAndEachReplaysExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	opts := manualMarks(Options{SegmentSize: 64 << 10})
	w, _, _ := openReplayed(t, dir, opts)
	const writers, each = 64, 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]Position{}
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				p := fmt.Sprintf("writer-%02d-entry-%03d-%s", g, i, payloadFor(0, 200))
				pos, err := w.Append(context.Background(), []byte(p))
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				acked[p] = pos
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, acked, writers*each)
	syncs := w.fsyncs.Load()
	t.Logf("%d appends, %d fsyncs", writers*each, syncs)
	assert.Less(t, syncs, int64(writers*each), "concurrent appends share fsyncs")
	require.NoError(t, w.Close())

	stats, got := replayAll(t, dir, opts)
	assert.Zero(t, stats.CorruptEntries())
	seen := map[string]bool{}
	for i, e := range got {
		p := string(e.payload)
		require.False(t, seen[p], "%q replayed twice", p)
		seen[p] = true
		require.Equal(t, acked[p], e.pos, "%q replays at its acknowledged position", p)
		if i > 0 {
			require.Equal(t, 1, e.pos.Compare(got[i-1].pos), "replay is in log order")
		}
	}
	assert.Len(t, seen, writers*each, "every acknowledged append replays")
}

func TestWAL_IntervalSyncReturnsAfterWriteAndFsyncsInTheBackground(t *testing.T) {
	t.Run("Append does not fsync", func(t *testing.T) {
		dir := t.TempDir()
		w, _, _ := openReplayed(t, dir, Options{Sync: SyncInterval, SyncInterval: time.Hour, MarkInterval: -1})
		for i := range 100 {
			_, err := w.Append(context.Background(), payloadFor(i, 100))
			require.NoError(t, err)
		}
		assert.Zero(t, w.fsyncs.Load(), "no fsync before the interval elapses")
		require.NoError(t, w.Close())
		assert.Equal(t, int64(1), w.fsyncs.Load(), "Close fsyncs what is pending")
		_, got := replayAll(t, dir, Options{})
		assert.Len(t, got, 100)
	})
	t.Run("the background fsyncs written entries", func(t *testing.T) {
		w, _, _ := openReplayed(t, t.TempDir(), Options{Sync: SyncInterval, SyncInterval: 5 * time.Millisecond, MarkInterval: -1})
		defer w.Close()
		_, err := w.Append(context.Background(), []byte("x"))
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			w.wmu.Lock()
			defer w.wmu.Unlock()
			return !w.dirty && w.fsyncs.Load() >= 1
		}, 5*time.Second, time.Millisecond)
	})
}

// quota is a disk that holds only so many more bytes; it can also fail fsyncs.
type quota struct {
	mu            sync.Mutex
	left          int64
	failSyncs     int
	failTruncates int
}

func (q *quota) set(left int64) {
	q.mu.Lock()
	q.left = left
	q.mu.Unlock()
}

func (q *quota) open(path string, flag int, perm os.FileMode) (segmentFile, error) {
	f, err := os.OpenFile(path, flag, perm)
	if err != nil {
		return nil, err
	}
	return &quotaFile{File: f, q: q}, nil
}

type quotaFile struct {
	*os.File
	q *quota
}

// WriteAt writes what fits and fails the rest with ENOSPC, like a full disk.
func (f *quotaFile) WriteAt(p []byte, off int64) (int, error) {
	f.q.mu.Lock()
	defer f.q.mu.Unlock()
	if int64(len(p)) <= f.q.left {
		f.q.left -= int64(len(p))
		return f.File.WriteAt(p, off)
	}
	n, err := f.File.WriteAt(p[:f.q.left], off)
	f.q.left -= int64(n)
	if err == nil {
		err = syscall.ENOSPC
	}
	return n, &os.PathError{Op: "write", Path: f.Name(), Err: err}
}

func (f *quotaFile) Sync() error {
	f.q.mu.Lock()
	defer f.q.mu.Unlock()
	if f.q.failSyncs > 0 {
		f.q.failSyncs--
		return &os.PathError{Op: "fsync", Path: f.Name(), Err: syscall.EIO}
	}
	return f.File.Sync()
}

func (f *quotaFile) Truncate(size int64) error {
	f.q.mu.Lock()
	defer f.q.mu.Unlock()
	if f.q.failTruncates > 0 {
		f.q.failTruncates--
		return &os.PathError{Op: "truncate", Path: f.Name(), Err: syscall.EIO}
	}
	return f.File.Truncate(size)
}

func TestWAL_FailedWriteThatCannotBeCutMovesToANewSegment(t *testing.T) {
	dir := t.TempDir()
	q := &quota{left: 1 << 20}
	opts := manualMarks(Options{openFile: q.open})
	w, _, _ := openReplayed(t, dir, opts)
	_, err := w.Append(context.Background(), []byte("before"))
	require.NoError(t, err)

	q.mu.Lock()
	q.left, q.failTruncates = 10, 1
	q.mu.Unlock()
	_, err = w.Append(context.Background(), payloadFor(1, 100))
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.Contains(t, err.Error(), "truncate segment 00000001.wal back to")

	q.set(1 << 20)
	pos, err := w.Append(context.Background(), []byte("after"))
	require.NoError(t, err)
	assert.Equal(t, 2, pos.Segment, "the segment with uncut garbage is sealed")
	require.NoError(t, w.Close())

	stats, got := replayAll(t, dir, Options{})
	assert.Equal(t, [][]byte{[]byte("before"), []byte("after")}, payloads(got))
	require.Equal(t, 1, stats.CorruptEntries(), "the 10 partial bytes are reported, not hidden")
	assert.EqualValues(t, 10, stats.Corrupt[0].Length)
}

func TestWAL_FailedWriteLeavesNoTraceAndAppendRecoversWhenSpaceReturns(t *testing.T) {
	dir := t.TempDir()
	q := &quota{left: 1 << 20}
	opts := manualMarks(Options{SegmentSize: 4096, openFile: q.open})
	w, _, _ := openReplayed(t, dir, opts)
	for i := range 3 {
		_, err := w.Append(context.Background(), payloadFor(i, 100))
		require.NoError(t, err)
	}
	sizeBefore := w.Size()

	// The disk fills up in the middle of a group of concurrent appends: every waiter of
	// the group gets the error and none of their bytes stay in the segment.
	q.set(150)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for g := range errs {
		wg.Go(func() {
			_, errs[g] = w.Append(context.Background(), payloadFor(100+g, 100))
		})
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			assert.ErrorIs(t, err, syscall.ENOSPC, "appender %d", g)
		}
	}
	succeeded := 0
	for _, err := range errs {
		if err == nil {
			succeeded++ // the first 150 bytes hold one entry if it was alone in its group
		}
	}
	assert.LessOrEqual(t, succeeded, 1)
	fi, err := os.Stat(segmentPath(dir, 1))
	require.NoError(t, err)
	assert.Equal(t, sizeBefore+int64(succeeded)*entrySize(100), fi.Size(), "failed groups are truncated back")
	assert.Equal(t, fi.Size(), w.Size())

	// Space returns: appending works again, in the same segment.
	q.set(1 << 20)
	pos, err := w.Append(context.Background(), []byte("after space returned"))
	require.NoError(t, err)
	assert.Equal(t, 1, pos.Segment)
	require.NoError(t, w.Close())

	stats, got := replayAll(t, dir, Options{})
	assert.Zero(t, stats.CorruptEntries(), "a failed write leaves no corruption behind")
	assert.Zero(t, stats.TornTails)
	assert.Len(t, got, 3+succeeded+1)
	assert.Equal(t, []byte("after space returned"), got[len(got)-1].payload)
}

func TestWAL_FailedFsyncFailsTheGroupAndMovesToANewSegment(t *testing.T) {
	dir := t.TempDir()
	q := &quota{left: 1 << 20}
	opts := manualMarks(Options{openFile: q.open})
	w, _, _ := openReplayed(t, dir, opts)
	_, err := w.Append(context.Background(), []byte("before"))
	require.NoError(t, err)

	q.mu.Lock()
	q.failSyncs = 1
	q.mu.Unlock()
	_, err = w.Append(context.Background(), []byte("lost to EIO"))
	require.ErrorIs(t, err, syscall.EIO)
	assert.Contains(t, err.Error(), "fsync segment 00000001.wal")

	pos, err := w.Append(context.Background(), []byte("after"))
	require.NoError(t, err)
	assert.Equal(t, Position{Segment: 2, Offset: fileHeaderSize}, pos, "a segment whose fsync failed is not trusted again")
	require.NoError(t, w.Close())

	_, got := replayAll(t, dir, Options{})
	assert.Equal(t, [][]byte{[]byte("before"), []byte("after")}, payloads(got), "the failed entry was cut")
}

func TestWAL_FailedSegmentCreationIsRetriedByTheNextAppend(t *testing.T) {
	dir := t.TempDir()
	q := &quota{left: 1 << 20}
	opts := manualMarks(Options{SegmentSize: 256, openFile: q.open})
	w, _, _ := openReplayed(t, dir, opts)
	big := payloadFor(0, 200)
	_, err := w.Append(context.Background(), big)
	require.NoError(t, err)

	q.set(5) // the next entry needs a new segment, whose header no longer fits
	_, err = w.Append(context.Background(), big)
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.Contains(t, err.Error(), "create segment")
	assert.NoFileExists(t, segmentPath(dir, 2), "a half-created segment is removed")

	q.set(1 << 20)
	pos, err := w.Append(context.Background(), big)
	require.NoError(t, err)
	assert.Equal(t, 2, pos.Segment)
	require.NoError(t, w.Close())
	_, got := replayAll(t, dir, Options{SegmentSize: 256})
	assert.Len(t, got, 2)
}

func TestWAL_WaitingAppendGivesUpWhenItsContextEnds(t *testing.T) {
	w, _, _ := openReplayed(t, t.TempDir(), manualMarks(Options{}))
	defer w.Close()
	// Hold the writer so the next Append leads and blocks, and a third one waits in queue.
	w.wmu.Lock()
	leaderDone := make(chan error, 1)
	go func() {
		_, err := w.Append(context.Background(), []byte("leader"))
		leaderDone <- err
	}()
	require.Eventually(t, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.leading
	}, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := w.Append(ctx, []byte("impatient"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	w.wmu.Unlock()
	require.NoError(t, <-leaderDone)
	w.mu.Lock()
	defer w.mu.Unlock()
	assert.Len(t, w.outstanding, 1, "the abandoned entry was never written")
}
