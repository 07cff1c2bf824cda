package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Partitioned is a store.ChainStore made of several single-file Stores (README.md, Partitions):
//
//   - the base file at Config.Path: the checkpoints, the chain links of dropped partitions,
//     and the records a single-file store wrote there before partitions were turned on. It
//     never takes new records and is never dropped.
//   - partition files <stem>-partitions/p000001.db, p000002.db, ... in the order they were
//     made. The newest is the active one: it takes every insert and, once it holds
//     PartitionMaxRows rows, is sealed and followed by a new one. So the indexes the writer
//     updates at random positions (user, event, trace, IP, full text) never outgrow one
//     partition, and neither does the writer's working set.
//
// Each partition's time range [min, max] is read from its own time index at open and widened
// in memory before each insert, so it always covers the rows the file holds. Reads visit only
// the partitions whose range can hold an answer; retention drops a sealed partition whose newest
// record is older than every level's cutoff as a whole file.
//
// Each tenant's chain stays one chain: a new partition starts with a copy of every tenant's
// head (a seed), so the active partition always holds every head and its inserts continue the
// chains; ChainLinks walks the files in order and skips the seeds.
type Partitioned struct {
	cfg Config
	dir string
	// readOnly: another process writes the files (OpenPartitionedReadOnly); reads list the
	// partitions again first (refresh).
	readOnly  bool
	refreshMu sync.Mutex // one refresh at a time, so that no partition is opened twice

	// roll: inserts hold it shared, from their check for replays in sealed partitions to the
	// end of their transaction; a rollover holds it alone, so no insert checks against one
	// list of partitions and writes to another.
	roll sync.RWMutex

	mu     sync.Mutex // guards parts, every partition's range, and closed
	parts  []*partition
	closed bool

	// activeRows is how many rows the active partition holds (its largest seq at open, plus
	// what inserts stored since).
	activeRows atomic.Int64

	// background runs the trace filters' loading and building (fillTraceFilters); Close
	// cancels it with stopBackground and waits for it before closing the files.
	background     sync.WaitGroup
	backgroundCtx  context.Context
	stopBackground context.CancelFunc
}

// partition is one file of a Partitioned store.
type partition struct {
	num  int // 0 for the base file
	path string
	st   *Store
	// use is held shared by every operation reading st, and exclusively by retention before it
	// closes and deletes a dropped partition's file.
	use sync.RWMutex
	// minTS, maxTS: stored timestamps (Unix ns) of the rows, no narrower than the truth;
	// minTS > maxTS when the partition holds no row. Guarded by Partitioned.mu.
	minTS, maxTS int64
	// traces is the trace filter of a sealed partition (tracefilter.go). While it is nil (not
	// yet loaded or built, or the active partition), every trace lookup asks the file.
	traces atomic.Pointer[traceFilter]
}

func (pt *partition) empty() bool { return pt.minTS > pt.maxTS }

var (
	_ store.Store      = (*Partitioned)(nil)
	_ store.ChainStore = (*Partitioned)(nil)
)

const (
	partitionPrefix = "p"
	partitionSuffix = ".db"
	// partitionTemp marks a partition being made: it becomes a partition only when renamed, so
	// a crash while making one leaves a file that the next rollover replaces.
	partitionTemp = ".tmp"
)

// partitionDir is the directory of path's partitions: <dir>/<stem>-partitions.
func partitionDir(path string) string {
	base := filepath.Base(path)
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	return filepath.Join(filepath.Dir(path), stem+"-partitions")
}

func (p *Partitioned) partPath(num int) string {
	return filepath.Join(p.dir, fmt.Sprintf("%s%06d%s", partitionPrefix, num, partitionSuffix))
}

// partConfig is the configuration of one file. Only the active partition's writer gets the
// large writer cache; the others are written by retention alone, and their readers map the
// file (SealedMmapSize).
func (p *Partitioned) partConfig(path string, active bool) Config {
	cfg := p.cfg
	cfg.Path, cfg.Tenancy, cfg.PartitionMaxRows = path, TenancySingleDatabase, 0
	if !active {
		cfg.WriterCacheSizeKiB = 0 // cache_size_kib
		cfg.sealed = true
	}
	return cfg
}

// sealedIdleTime is how long a connection to a sealed partition (or to the base file, which
// takes no inserts) stays open unused. Closing it gives back its page cache, prepared
// statements and file descriptors, so that months of partitions cost nothing while no one
// reads them; the next read opens a connection again (no migration, no new Store), which is
// cheaper than a file a least-recently-used list would have closed and reopened. A var for tests.
var sealedIdleTime = time.Minute

// sealedWriterIdleTime is the same for the writer of a partition sealed while this process
// runs. Nothing inserts into it any more (only retention deletes rows there), but its
// connection holds the pages the inserts cached: in a soak at 80% of the store's ceiling, with
// a 50,000-row partition sealed every 6 s, the writers sealed in the last minute held 53 MB of
// SQLite's memory (142 MB against 89 MB with this, libc.MemStat).
const sealedWriterIdleTime = time.Second

// closeIdle makes s's connections close after d unused.
func (s *Store) closeIdle(d time.Duration) {
	s.write.SetConnMaxIdleTime(d)
	s.read.SetConnMaxIdleTime(d)
}

// HasPartitions reports whether partitions of the store at path exist: a single-file store
// must not open a file whose newer records live in partitions it would not see.
func HasPartitions(path string) (bool, error) {
	entries, err := os.ReadDir(partitionDir(path))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if _, ok := partitionNumber(e.Name()); ok {
			return true, nil
		}
	}
	return false, nil
}

// partitionNumber parses p000042.db.
func partitionNumber(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, partitionPrefix)
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, partitionSuffix)
	if !ok || len(digits) < 6 {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// OpenPartitioned opens (creating what is missing) the base file at cfg.Path and every
// partition, and makes the first partition when there is none.
func OpenPartitioned(ctx context.Context, cfg Config) (*Partitioned, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sqlitestore: invalid config: %w", err)
	}
	if cfg.PartitionMaxRows <= 0 {
		return nil, fmt.Errorf("sqlitestore: invalid config: partition_max_rows: %d must be above 0 for a partitioned store", cfg.PartitionMaxRows)
	}
	p := newPartitioned(cfg, false)
	if err := os.MkdirAll(p.dir, 0o750); err != nil {
		return nil, fmt.Errorf("sqlitestore: create partition directory %q: %w", p.dir, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = p.Close()
		}
	}()
	base, err := Open(ctx, p.partConfig(cfg.Path, false))
	if err != nil {
		return nil, err
	}
	p.parts = append(p.parts, &partition{num: 0, path: cfg.Path, st: base})

	nums, err := partitionNumbers(p.dir)
	if err != nil {
		return nil, err
	}
	base.closeIdle(sealedIdleTime)
	for i, n := range nums {
		active := i == len(nums)-1
		st, err := Open(ctx, p.partConfig(p.partPath(n), active))
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: partition %d: %w", n, err)
		}
		if !active {
			st.closeIdle(sealedIdleTime)
		}
		p.parts = append(p.parts, &partition{num: n, path: p.partPath(n), st: st})
	}
	for _, pt := range p.parts {
		if err := pt.readRange(ctx); err != nil {
			return nil, fmt.Errorf("sqlitestore: time range of %q: %w", pt.path, err)
		}
	}
	if len(nums) == 0 {
		if err := p.addPartition(ctx); err != nil {
			return nil, err
		}
	} else {
		var rows int64
		if err := p.active().st.read.QueryRowContext(ctx, selectMaxSeq).Scan(&rows); err != nil {
			return nil, fmt.Errorf("sqlitestore: rows of the active partition: %w", err)
		}
		p.activeRows.Store(rows)
	}
	// Every file but the active one is sealed: their filters are read (or, when a file has
	// none, built) in the background, and until then lookups ask every file.
	p.fillTraceFilters(false, p.parts[:len(p.parts)-1]...)
	ok = true
	return p, nil
}

// newPartitioned is a Partitioned with no file open yet.
func newPartitioned(cfg Config, readOnly bool) *Partitioned {
	p := &Partitioned{cfg: cfg, dir: partitionDir(cfg.Path), readOnly: readOnly}
	p.backgroundCtx, p.stopBackground = context.WithCancel(context.Background())
	return p
}

// fillTraceFilters gives each sealed partition of parts its trace filter, in the background
// (the writer's; a read-only store loads them as lookups need them, traceFilterOf): the one
// stored in its file, or else (for a file sealed by a version before the filters, or when the
// process stopped before storing it) one built from its trace index and stored. build skips the
// stored one: a partition sealed just now gets a filter of what it holds now, whatever its file
// says (one stored while the file was, by some accident, active again would lack its newer
// traces). A partition that fails keeps none and is asked by every lookup, as before; the next
// start tries again.
func (p *Partitioned) fillTraceFilters(build bool, parts ...*partition) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.background.Add(1) // under p.mu: Close marks the store closed before it waits
	go func() {
		defer p.background.Done()
		for _, pt := range parts {
			if p.backgroundCtx.Err() != nil {
				return
			}
			if !p.hold(pt) {
				continue // dropped by retention meanwhile
			}
			var f *traceFilter
			var err error
			if !build {
				f, err = loadTraceFilter(p.backgroundCtx, pt.st)
			}
			if f == nil {
				if f, err = buildTraceFilter(p.backgroundCtx, pt.st); err == nil {
					err = saveTraceFilter(p.backgroundCtx, pt.st, f)
				}
			}
			if err == nil && f != nil {
				pt.traces.Store(f)
			}
			pt.use.RUnlock()
		}
	}()
}

// partitionNumbers lists the partitions in dir, in order; none when dir does not exist.
func partitionNumbers(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list partitions in %q: %w", dir, err)
	}
	var nums []int
	for _, e := range entries {
		// pNNNNNN.db.tmp, a partition being made when the process stopped, is not one: it
		// holds seeds at most, and the next rollover, making the same number, replaces it.
		// (Not deleted here: a reader such as auditctl verify may open the store while the
		// collector is making one.)
		if n, ok := partitionNumber(e.Name()); ok && e.Type().IsRegular() {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	return nums, nil
}

// readRange reads the partition's time range from its time index (two seeks). The caller
// holds p.mu or is the only user of pt.
func (pt *partition) readRange(ctx context.Context) error {
	lo, hi, err := pt.queryRange(ctx)
	pt.minTS, pt.maxTS = lo, hi
	return err
}

// queryRange is the time range of the partition's rows: lo > hi when it holds none.
func (pt *partition) queryRange(ctx context.Context) (lo, hi int64, err error) {
	var min, max *int64
	if err := pt.st.read.QueryRowContext(ctx, `SELECT MIN(timestamp) FROM audit_logs`).Scan(&min); err != nil {
		return math.MaxInt64, math.MinInt64, err
	}
	if err := pt.st.read.QueryRowContext(ctx, `SELECT MAX(timestamp) FROM audit_logs`).Scan(&max); err != nil {
		return math.MaxInt64, math.MinInt64, err
	}
	if min == nil || max == nil {
		return math.MaxInt64, math.MinInt64, nil
	}
	return *min, *max, nil
}

// active is the newest partition. The caller holds p.mu or p.roll.
func (p *Partitioned) active() *partition { return p.parts[len(p.parts)-1] }

// snapshot returns the files in order (base first, active last), each held for reading until
// release is called, so that retention cannot close one under a running read. The ranges are
// copied as they are now.
func (p *Partitioned) snapshot(ctx context.Context) ([]partitionView, func(), error) {
	if p.readOnly {
		if err := p.refresh(ctx); err != nil {
			return nil, nil, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, nil, errors.New("sqlitestore: store is closed")
	}
	out := make([]partitionView, len(p.parts))
	for i, pt := range p.parts {
		pt.use.RLock()
		out[i] = partitionView{partition: pt, minTS: pt.minTS, maxTS: pt.maxTS, active: i == len(p.parts)-1}
	}
	return out, func() {
		for _, v := range out {
			v.partition.use.RUnlock()
		}
	}, nil
}

// partitionView is a partition with its range at the time of a snapshot.
type partitionView struct {
	*partition
	minTS, maxTS int64
	active       bool
}

func (v partitionView) empty() bool { return v.minTS > v.maxTS }

// overlaps reports whether the partition may hold rows with lo <= timestamp <= hi.
func (v partitionView) overlaps(lo, hi int64) bool {
	return !v.empty() && v.maxTS >= lo && v.minTS <= hi
}

// Migrate migrates every file (each was migrated when opened).
func (p *Partitioned) Migrate(ctx context.Context) error {
	parts, release, err := p.snapshot(ctx)
	if err != nil {
		return err
	}
	defer release()
	for _, v := range parts {
		if err := v.st.Migrate(ctx); err != nil {
			return fmt.Errorf("sqlitestore: migrate %q: %w", v.path, err)
		}
	}
	return nil
}

// Insert stores the records in the active partition, in one transaction, after leaving out
// those a sealed partition already holds (replays after a crash: the active partition's
// conflict clause sees only its own file). A stored copy of a record lies in a partition whose
// time range holds its timestamp, so only those partitions are asked: with records arriving
// in about time order, the partition sealed last at most.
//
// When the active partition is full, a new one is made first; if that fails, nothing is
// written and the error is returned (the exporter retries the batch later).
func (p *Partitioned) Insert(ctx context.Context, tenant string, records []record.Record) (int, error) {
	if len(records) == 0 {
		return 0, nil
	}
	if p.readOnly {
		return 0, errReadOnly
	}
	if p.activeRows.Load() >= p.cfg.PartitionMaxRows {
		if err := p.rollover(ctx); err != nil {
			return 0, err
		}
	}
	p.roll.RLock()
	defer p.roll.RUnlock()
	tenants := make([]string, len(records))
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range records {
		t, err := store.RowTenant(tenant, i, &records[i])
		if err != nil {
			return 0, fmt.Errorf("sqlitestore: %w", err)
		}
		tenants[i] = t
		if ts, err := encodeTime("timestamp", records[i].Timestamp); err == nil { // else Insert refuses it
			lo, hi = min(lo, ts), max(hi, ts)
		}
	}

	parts, release, err := p.snapshot(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	active := parts[len(parts)-1]
	fresh, err := withoutStored(ctx, parts[:len(parts)-1], records, tenants)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: insert: look for replays in sealed partitions: %w", err)
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	// Widened before the rows exist, so that a reader never skips a committed row.
	if lo <= hi {
		p.mu.Lock()
		active.partition.minTS, active.partition.maxTS = min(active.partition.minTS, lo), max(active.partition.maxTS, hi)
		p.mu.Unlock()
	}
	n, err := active.st.Insert(ctx, tenant, fresh)
	p.activeRows.Add(int64(n))
	return n, err
}

// idsPerLookup bounds the ids of one replay lookup (SQLite's bound on parameters is 32766).
const idsPerLookup = 500

// withoutStored returns the records that no partition of sealed holds under their tenant.
func withoutStored(ctx context.Context, sealed []partitionView, records []record.Record, tenants []string) ([]record.Record, error) {
	stored := map[[2]string]bool{}
	for _, v := range sealed {
		if v.empty() {
			continue
		}
		var ids []any
		for i := range records {
			ts, err := encodeTime("timestamp", records[i].Timestamp)
			if err == nil && ts >= v.minTS && ts <= v.maxTS && !stored[[2]string{tenants[i], records[i].ID}] {
				ids = append(ids, records[i].ID)
			}
		}
		for start := 0; start < len(ids); start += idsPerLookup {
			chunk := ids[start:min(len(ids), start+idsPerLookup)]
			rows, err := v.st.read.QueryContext(ctx, `SELECT tenant_id, id FROM audit_logs WHERE id IN (`+
				strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")+`)`, chunk...)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var t, id string
				if err := rows.Scan(&t, &id); err != nil {
					rows.Close()
					return nil, err
				}
				stored[[2]string{t, id}] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
		}
	}
	if len(stored) == 0 {
		return records, nil
	}
	fresh := make([]record.Record, 0, len(records))
	for i := range records {
		if !stored[[2]string{tenants[i], records[i].ID}] {
			fresh = append(fresh, records[i])
		}
	}
	return fresh, nil
}

// rollover seals the active partition and makes the next, unless another insert did first.
func (p *Partitioned) rollover(ctx context.Context) error {
	p.roll.Lock()
	defer p.roll.Unlock()
	if p.activeRows.Load() < p.cfg.PartitionMaxRows {
		return nil
	}
	return p.addPartition(ctx)
}

// addPartition makes the next partition and makes it the active one. The caller holds p.roll
// exclusively (or is OpenPartitioned).
//
// Crash safety: the file is made under a temporary name, migrated, given every tenant's chain
// head, closed (which moves its WAL into it) and only then renamed to its partition name, an
// atomic step. A crash before the rename leaves a temporary file, which no open takes for a
// partition and the next rollover (making the same number) replaces; after it, a complete
// partition. No record is written during any of this: the batch that
// found the active partition full waits and goes to the new one.
func (p *Partitioned) addPartition(ctx context.Context) error {
	p.mu.Lock()
	prev := p.active()
	p.mu.Unlock()
	num := prev.num + 1
	final := p.partPath(num)
	temp := final + partitionTemp
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(temp + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sqlitestore: new partition: %w", err)
		}
	}
	st, err := Open(ctx, p.partConfig(temp, false))
	if err != nil {
		return fmt.Errorf("sqlitestore: new partition: %w", err)
	}
	if err := seedChains(ctx, prev.st, st); err != nil {
		_ = st.Close()
		return fmt.Errorf("sqlitestore: new partition: %w", err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("sqlitestore: new partition: close: %w", err)
	}
	if _, err := os.Stat(temp + "-wal"); err == nil {
		return fmt.Errorf("sqlitestore: new partition: %s-wal is left after closing it", temp)
	}
	if err := syncFile(temp); err != nil {
		return fmt.Errorf("sqlitestore: new partition: %w", err)
	}
	if err := os.Rename(temp, final); err != nil {
		return fmt.Errorf("sqlitestore: new partition: %w", err)
	}
	if err := syncFile(p.dir); err != nil {
		return fmt.Errorf("sqlitestore: new partition: %w", err)
	}
	st, err = Open(ctx, p.partConfig(final, true))
	if err != nil {
		return fmt.Errorf("sqlitestore: open new partition: %w", err)
	}
	if prev.num > 0 {
		// The sealed partition's writer keeps its pages cached: give the memory back. Its
		// insert statements too: no insert reaches it again (they all hold p.roll, held here
		// exclusively, and go to the new partition), and each sealed partition kept about
		// 11 KB of them for the process's life (BenchmarkHeapPerSealedPartition).
		_ = prev.st.shrinkWriterCache(ctx)
		_ = prev.st.inserts.release()
		_ = prev.st.checkpoints.close()
		prev.st.closeIdle(sealedIdleTime)
		prev.st.write.SetConnMaxIdleTime(sealedWriterIdleTime)
		prev.st.sealReaders()
	}
	p.mu.Lock()
	p.parts = append(p.parts, &partition{num: num, path: final, st: st, minTS: math.MaxInt64, maxTS: math.MinInt64})
	p.mu.Unlock()
	p.activeRows.Store(0)
	// No insert reaches prev any more: the batches that saw it active have committed (this
	// runs under p.roll), the next ones go to the new partition.
	p.fillTraceFilters(true, prev)
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// seedChains copies every tenant's chain head from prev into next, in one transaction: the
// first insert of a tenant into next continues its chain from there.
func seedChains(ctx context.Context, prev, next *Store) error {
	tenants, err := prev.ChainTenants(ctx)
	if err != nil {
		return err
	}
	if len(tenants) == 0 {
		return nil
	}
	tx, err := next.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seed chains: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, t := range tenants {
		// Copied as stored, column by column, so that the seed is the head byte for byte.
		var (
			seq, ts, level   int64
			recordID         string
			recordHash, hash []byte
		)
		if err := prev.read.QueryRowContext(ctx, selectChainHead, t).Scan(&seq, &recordID, &ts, &level, &recordHash, &hash); err != nil {
			return fmt.Errorf("read the chain head of %q: %w", t, err)
		}
		if _, err := tx.ExecContext(ctx, insertLinksSQL(1), t, seq, recordID, ts, level, recordHash, hash); err != nil {
			return fmt.Errorf("seed the chain of %q: %w", t, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("seed chains: %w", err)
	}
	return nil
}

// shrinkWriterCache lowers the writer connection's page cache to cache_size_kib and frees
// what it holds beyond that.
func (s *Store) shrinkWriterCache(ctx context.Context) error {
	if s.cfg.CacheSizeKiB > 0 {
		if _, err := s.write.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = -%d`, s.cfg.CacheSizeKiB)); err != nil {
			return err
		}
	}
	_, err := s.write.ExecContext(ctx, `PRAGMA shrink_memory`)
	return err
}

// Close closes every file. Calling it twice is safe.
func (p *Partitioned) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	parts := p.parts
	p.mu.Unlock()
	p.stopBackground()
	p.background.Wait()
	var errs []error
	for _, pt := range parts {
		if err := pt.st.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pt.path, err))
		}
	}
	return errors.Join(errs...)
}
