package wal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/atomicfile"
)

// SyncMode says when an appended entry is forced to stable storage.
type SyncMode string

const (
	// SyncAlways fsyncs before Append returns: an acknowledged entry survives power loss.
	SyncAlways SyncMode = "always"
	// SyncInterval returns from Append after write(2) and fsyncs in the background every
	// Options.SyncInterval: entries survive a process crash, but a power loss or kernel
	// crash may lose what was appended during the last interval.
	SyncInterval SyncMode = "interval"
)

// Defaults applied by Open to zero Options fields.
const (
	DefaultSegmentSize  = 64 << 20
	DefaultSyncInterval = 100 * time.Millisecond
	DefaultMarkInterval = time.Second

	minSegmentSize = 64
	// maxSegmentSize bounds replay memory: Replay holds one whole segment at a time.
	maxSegmentSize = 1 << 30
)

// Options configure Open. The zero value is valid and means the defaults.
type Options struct {
	// SegmentSize is the size at which the active segment is closed and a new one started
	// (default 64 MiB, at most 1 GiB). An entry must fit in one segment: Append refuses a
	// larger payload with ErrEntryTooLarge.
	SegmentSize int64
	// Sync is SyncAlways (default) or SyncInterval.
	Sync SyncMode
	// SyncInterval is the background fsync period in SyncInterval mode (default 100ms).
	SyncInterval time.Duration
	// MarkInterval is how often the low-water mark is persisted and done segments
	// deleted (default 1s). A negative value disables the background save of the mark: the
	// caller then calls SaveMark itself (Close still saves it).
	MarkInterval time.Duration
	// Logger receives repair messages (torn tails cut, corruption skipped). Default: no-op.
	Logger *zap.Logger

	// openFile opens segment files for writing; tests replace it to inject I/O errors.
	openFile func(path string, flag int, perm os.FileMode) (segmentFile, error)
}

func (o Options) withDefaults() (Options, error) {
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.SegmentSize < minSegmentSize || o.SegmentSize > maxSegmentSize {
		return o, fmt.Errorf("wal: SegmentSize %d is outside [%d, %d]", o.SegmentSize, minSegmentSize, maxSegmentSize)
	}
	switch o.Sync {
	case "":
		o.Sync = SyncAlways
	case SyncAlways, SyncInterval:
	default:
		return o, fmt.Errorf("wal: Sync %q is neither %q nor %q", o.Sync, SyncAlways, SyncInterval)
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.SyncInterval < 0 {
		return o, fmt.Errorf("wal: SyncInterval %v is negative", o.SyncInterval)
	}
	if o.MarkInterval == 0 {
		o.MarkInterval = DefaultMarkInterval
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.openFile == nil {
		o.openFile = openOSFile
	}
	return o, nil
}

type segmentInfo struct {
	num  int
	size int64
}

// request is one Append waiting for its group to be committed.
type request struct {
	parts [][]byte // the payload, concatenated
	size  int      // its length
	pos   Position
	err   error
	// wake receives once: when the request's group is committed, or when the request is
	// promoted to lead the next group (promoted is then true).
	wake     chan struct{}
	promoted bool
}

// WAL is a segmented write-ahead log. See the package documentation for the contract.
type WAL struct {
	dir  string
	opts Options
	log  *zap.Logger

	// mu guards the fields below it. Lock order: cpMu, then wmu, then mu.
	mu           sync.Mutex
	closed       bool
	replayCalled bool
	replayed     bool
	queue        []*request // Appends waiting for a leader, in arrival order
	leading      bool       // a goroutine is committing a group
	segments     []segmentInfo
	outstanding  []Position // appended or replayed, sorted; [head:] are not yet done...
	head         int        // ...except those in done, which were marked out of order
	done         map[Position]struct{}
	tail         Position // just past the last registered entry
	savedMark    Position // the low-water mark last persisted
	inflight     sync.WaitGroup

	// wmu serialises I/O on the active segment: group commit, rotation, background fsync,
	// the mark's fsync and Close. Only the group leader writes.
	wmu        sync.Mutex
	active     segmentFile // nil until Replay completes, and after a failed rotation
	activeNum  int
	activeSize int64
	dirty      bool // written since the last fsync
	needRotate bool // the active segment's tail is in an unknown state after an I/O error
	buf        []byte

	cpMu sync.Mutex // serialises saves of the mark

	fsyncs atomic.Int64 // segment fsyncs, for the group-commit benchmark

	stop chan struct{}
	bg   sync.WaitGroup
}

// Open opens (creating if needed) the WAL in dir. It validates every segment's header,
// refusing a directory that holds a segment file of another format, and deletes segments
// that the persisted mark shows are fully done. Replay must be called next.
func Open(dir string, opts Options) (*WAL, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", dir, err)
	}
	if err := os.Remove(filepath.Join(dir, markTmpName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("wal: open %s: remove stale low-water mark: %w", dir, err)
	}
	w := &WAL{
		dir:  dir,
		opts: opts,
		log:  opts.Logger,
		done: make(map[Position]struct{}),
		stop: make(chan struct{}),
	}
	if w.savedMark, err = readMark(dir, w.log); err != nil {
		return nil, err
	}
	if w.segments, err = listSegments(dir); err != nil {
		return nil, err
	}
	for i, s := range w.segments {
		last := i == len(w.segments)-1
		if err := checkSegmentFile(dir, s, last); err != nil {
			return nil, err
		}
		if i > 0 && s.num != w.segments[i-1].num+1 {
			w.log.Warn("WAL segments are not consecutive; entries of the missing segments are lost",
				zap.String("dir", dir), zap.Int("after", w.segments[i-1].num), zap.Int("next", s.num))
		}
	}
	// Segments below the mark are fully done; a crash after the mark was
	// written but before they were deleted leaves them behind.
	if err := w.deleteSegmentsBelow(w.savedMark.Segment); err != nil {
		return nil, err
	}
	return w, nil
}

func listSegments(dir string) ([]segmentInfo, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", dir, err)
	}
	var segs []segmentInfo
	for _, e := range entries {
		n, ok := parseSegmentName(e.Name())
		if !ok {
			continue
		}
		if !e.Type().IsRegular() {
			return nil, fmt.Errorf("wal: open %s: segment %s is not a regular file", dir, e.Name())
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("wal: open %s: stat %s: %w", dir, e.Name(), err)
		}
		segs = append(segs, segmentInfo{num: n, size: info.Size()})
	}
	slices.SortFunc(segs, func(a, b segmentInfo) int { return a.num - b.num })
	return segs, nil
}

// checkSegmentFile refuses a segment whose header is not ours. Only the last segment may
// be shorter than a header: a crash while it was being created; Replay rewrites it.
func checkSegmentFile(dir string, s segmentInfo, last bool) error {
	path := segmentPath(dir, s.num)
	if s.size < fileHeaderSize && last {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("wal: open segment %s: %w", path, err)
	}
	defer f.Close()
	h := make([]byte, fileHeaderSize)
	if _, err := f.ReadAt(h, 0); err != nil {
		return fmt.Errorf("wal: open segment %s: read header: %w", path, err)
	}
	if err := checkFileHeader(h, s.num); err != nil {
		return fmt.Errorf("wal: open segment %s: %w", path, err)
	}
	return nil
}

// Append frames payload as one entry and returns once it is written (and, in SyncAlways
// mode, fsynced). Concurrent Appends are committed in groups: one caller leads, writing
// every waiting entry that fits in the active segment with one write and one fsync.
//
// A payload is never partly committed: on error the entry is not in the log (a failed
// write is truncated back) unless the error says the truncation failed too, in which case
// the entry may replay. If ctx ends before the entry is picked up by a leader, Append
// returns ctx's error and the entry is not written; once picked up, Append waits for the
// outcome. The payload is not retained after Append returns.
func (w *WAL) Append(ctx context.Context, payload []byte) (Position, error) {
	return w.AppendParts(ctx, payload)
}

// AppendParts is Append of the concatenation of parts, without the caller concatenating them:
// the entry is framed and copied into the group's write buffer part by part (an encoder can
// hand a small header and a large body as they are). Replay returns the one payload.
func (w *WAL) AppendParts(ctx context.Context, parts ...[]byte) (Position, error) {
	if err := ctx.Err(); err != nil {
		return Position{}, fmt.Errorf("wal: append: %w", err)
	}
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	if max := w.opts.SegmentSize - fileHeaderSize; entrySize(size) > max {
		return Position{}, fmt.Errorf("%w: %d-byte payload plus %d-byte header exceeds the %d bytes a %d-byte segment holds",
			ErrEntryTooLarge, size, entryHeaderSize, max, w.opts.SegmentSize)
	}
	r := &request{parts: parts, size: size, wake: make(chan struct{}, 1)}

	w.mu.Lock()
	switch {
	case w.closed:
		w.mu.Unlock()
		return Position{}, ErrClosed
	case !w.replayed:
		w.mu.Unlock()
		return Position{}, ErrNotReplayed
	}
	w.inflight.Add(1)
	defer w.inflight.Done()
	w.queue = append(w.queue, r)
	lead := !w.leading
	w.leading = true
	w.mu.Unlock()

	if !lead {
		select {
		case <-r.wake:
		case <-ctx.Done():
			w.mu.Lock()
			if i := slices.Index(w.queue, r); i >= 0 && !r.promoted {
				w.queue = slices.Delete(w.queue, i, i+1)
				w.mu.Unlock()
				return Position{}, fmt.Errorf("wal: append: %w", ctx.Err())
			}
			w.mu.Unlock()
			<-r.wake
		}
		if !r.promoted {
			return r.pos, r.err
		}
	}
	w.commitGroup()
	return r.pos, r.err
}

// commitGroup is run by the leader. It takes the head of the queue (which includes the
// leader's own request) and as many following requests as fit in the active segment,
// commits them with one write and one fsync, completes them, and hands leadership to the
// next waiting request if any. Groups never span segments, so a group succeeds or fails
// as a whole.
func (w *WAL) commitGroup() {
	w.wmu.Lock()
	w.mu.Lock()
	head := w.queue[0]
	w.mu.Unlock()

	err := w.prepareActiveLocked(entrySize(head.size))

	w.mu.Lock()
	n := 1
	if err == nil {
		room := w.opts.SegmentSize - w.activeSize - entrySize(head.size)
		for n < len(w.queue) && entrySize(w.queue[n].size) <= room {
			room -= entrySize(w.queue[n].size)
			n++
		}
	} else {
		// The active segment could not be replaced: everyone waiting would hit the same wall.
		n = len(w.queue)
	}
	group := slices.Clone(w.queue[:n])
	w.queue = slices.Delete(w.queue, 0, n)
	w.mu.Unlock()

	if err == nil {
		err = w.writeGroupLocked(group)
	}
	num, size, exists := w.activeNum, w.activeSize, w.active != nil
	w.wmu.Unlock()

	w.mu.Lock()
	if exists {
		w.setSegmentSizeLocked(num, size)
	}
	if err == nil {
		for _, r := range group {
			w.registerLocked(r.pos, r.pos.Offset+entrySize(r.size))
		}
	} else {
		for _, r := range group {
			r.pos, r.err = Position{}, err
		}
	}
	var next *request
	if len(w.queue) > 0 {
		next = w.queue[0]
		next.promoted = true
	} else {
		w.leading = false
	}
	w.mu.Unlock()

	for _, r := range group {
		r.wake <- struct{}{}
	}
	if next != nil {
		next.wake <- struct{}{}
	}
}

// writeGroupLocked writes group at the end of the active segment, which has room for it,
// and fsyncs in SyncAlways mode. On failure it cuts the segment back to where the group
// started, so the group leaves no trace, and if that is impossible or the file's state is
// unknown (a failed fsync) it has the next group start a new segment.
func (w *WAL) writeGroupLocked(group []*request) error {
	start := w.activeSize
	buf := w.buf[:0]
	for _, r := range group {
		r.pos = Position{Segment: w.activeNum, Offset: start + int64(len(buf))}
		buf = appendEntryParts(buf, r.size, r.parts)
	}
	if cap(buf) <= 4<<20 {
		w.buf = buf // reuse moderate buffers; let a one-off huge group be collected
	}
	n, err := w.active.WriteAt(buf, start)
	if err != nil {
		err = fmt.Errorf("wal: append: write segment %s at offset %d: %w", segmentName(w.activeNum), start, err)
		w.activeSize = start + int64(n)
		w.dirty = true
		return w.undoLocked(start, err)
	}
	w.activeSize = start + int64(len(buf))
	w.dirty = true
	if w.opts.Sync == SyncAlways {
		if err := w.syncActiveLocked(); err != nil {
			// After a failed fsync the kernel may have dropped the dirty pages: nothing
			// written to this file since the last good fsync can be trusted, so cut the
			// group and continue in a fresh segment.
			w.needRotate = true
			return w.undoLocked(start, fmt.Errorf("wal: append: %w", err))
		}
	}
	return nil
}

// undoLocked truncates the active segment back to size after a failed write, returning
// cause (joined with the truncation error if that fails too).
func (w *WAL) undoLocked(size int64, cause error) error {
	if err := w.active.Truncate(size); err != nil {
		w.needRotate = true
		w.log.Error("WAL could not cut a failed write; the next append starts a new segment and the failed entries may replay",
			zap.String("segment", segmentName(w.activeNum)), zap.Int64("offset", size), zap.Error(err))
		return errors.Join(cause, fmt.Errorf("wal: truncate segment %s back to %d: %w", segmentName(w.activeNum), size, err))
	}
	w.activeSize = size
	return cause
}

// prepareActiveLocked makes sure the active segment exists, is usable, and has room for
// an entry of size bytes, starting a new segment otherwise.
func (w *WAL) prepareActiveLocked(size int64) error {
	if w.active != nil && !w.needRotate && w.activeSize+size <= w.opts.SegmentSize {
		return nil
	}
	return w.rotateLocked()
}

// rotateLocked closes the active segment (after an fsync unless its state is already
// unknown) and creates the next one. On failure the WAL has no active segment and the
// next group tries again, so a full disk heals once space returns.
func (w *WAL) rotateLocked() error {
	if w.active != nil {
		if !w.needRotate {
			if err := w.syncActiveLocked(); err != nil {
				// Only SyncInterval mode has unsynced, acknowledged entries here.
				w.log.Error("WAL fsync failed while closing a segment; entries appended in the last sync interval may be lost on power failure",
					zap.String("segment", segmentName(w.activeNum)), zap.Error(err))
			}
		}
		if err := w.active.Close(); err != nil {
			w.log.Warn("WAL close segment failed", zap.String("segment", segmentName(w.activeNum)), zap.Error(err))
		}
		w.active = nil
	}
	next := w.activeNum + 1
	f, err := w.createSegment(next)
	if err != nil {
		return err
	}
	w.active, w.activeNum, w.activeSize = f, next, fileHeaderSize
	w.dirty, w.needRotate = false, false
	w.mu.Lock()
	w.segments = append(w.segments, segmentInfo{num: next, size: fileHeaderSize})
	w.mu.Unlock()
	return nil
}

// createSegment creates segment n with its header, durably (file and directory fsynced).
// Segment numbers only grow, so a file already named n can only be the remains of an
// earlier failed attempt and is overwritten.
func (w *WAL) createSegment(n int) (segmentFile, error) {
	path := segmentPath(w.dir, n)
	f, err := w.opts.openFile(path, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("wal: create segment %s: %w", path, err)
	}
	if _, err = f.WriteAt(encodeFileHeader(n), 0); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = atomicfile.SyncDir(w.dir)
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("wal: create segment %s: %w", path, err)
	}
	return f, nil
}

func (w *WAL) syncActiveLocked() error {
	if w.active == nil || !w.dirty {
		return nil
	}
	w.fsyncs.Add(1)
	if err := w.active.Sync(); err != nil {
		return fmt.Errorf("fsync segment %s: %w", segmentName(w.activeNum), err)
	}
	w.dirty = false
	return nil
}

func (w *WAL) setSegmentSizeLocked(num int, size int64) {
	for i := len(w.segments) - 1; i >= 0; i-- {
		if w.segments[i].num == num {
			w.segments[i].size = size
			return
		}
	}
}

// run is the WAL's one background goroutine, owned by the WAL and stopped by Close.
func (w *WAL) run() {
	defer w.bg.Done()
	var syncTick, cpTick <-chan time.Time
	if w.opts.Sync == SyncInterval {
		t := time.NewTicker(w.opts.SyncInterval)
		defer t.Stop()
		syncTick = t.C
	}
	if w.opts.MarkInterval > 0 {
		t := time.NewTicker(w.opts.MarkInterval)
		defer t.Stop()
		cpTick = t.C
	}
	for {
		select {
		case <-w.stop:
			return
		case <-syncTick:
			w.wmu.Lock()
			if err := w.syncActiveLocked(); err != nil {
				w.needRotate = true
				w.log.Error("WAL background fsync failed; entries appended in the last sync interval may be lost on power failure",
					zap.String("segment", segmentName(w.activeNum)), zap.Error(err))
			}
			w.wmu.Unlock()
		case <-cpTick:
			if err := w.saveMark(); err != nil {
				w.log.Warn("WAL low-water mark not saved; will retry", zap.Error(err))
			}
		}
	}
}

// Size returns the bytes held by the WAL's segment files.
func (w *WAL) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int64
	for _, s := range w.segments {
		n += s.size
	}
	return n
}

// Segments returns the number of segment files.
func (w *WAL) Segments() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.segments)
}

// Close waits for in-flight Appends, stops the background work, saves the mark, fsyncs and
// closes the active segment. Calls after the first return nil.
func (w *WAL) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	started := w.replayed
	w.mu.Unlock()

	w.inflight.Wait()
	close(w.stop)
	w.bg.Wait()

	var errs []error
	if started {
		errs = append(errs, w.saveMark())
	}
	w.wmu.Lock()
	if w.active != nil {
		if err := w.syncActiveLocked(); err != nil {
			errs = append(errs, fmt.Errorf("wal: close: %w", err))
		}
		if err := w.active.Close(); err != nil {
			errs = append(errs, fmt.Errorf("wal: close segment %s: %w", segmentName(w.activeNum), err))
		}
		w.active = nil
	}
	w.wmu.Unlock()
	return errors.Join(errs...)
}
