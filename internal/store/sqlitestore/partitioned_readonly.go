package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
)

// errReadOnly is the answer to a write through a read-only partitioned store.
var errReadOnly = errors.New("sqlitestore: the store is read-only: another process writes it")

// OpenPartitionedReadOnly opens a single_database store another process writes, for queries
// only: the file at cfg.Path (which must exist with this binary's schema version) and the
// partitions beside it, if any. The writer makes and drops partitions while this one reads,
// so every read lists them again first (refresh): a new partition is opened, a dropped one
// closed, and the ranges of the newest ones, where the writer inserts, are read again.
func OpenPartitionedReadOnly(ctx context.Context, cfg Config) (*Partitioned, error) {
	cfg.PartitionMaxRows = 0 // the writer's setting; a reader makes no partition
	p := newPartitioned(cfg, true)
	base, err := openReadOnlyFile(ctx, p.partConfig(cfg.Path, false))
	if err != nil {
		return nil, err
	}
	base.closeIdle(sealedIdleTime) // a reader's connections: all of them idle out
	pt := &partition{num: 0, path: cfg.Path, st: base}
	p.parts = []*partition{pt}
	if err := pt.readRange(ctx); err != nil {
		_ = base.Close()
		return nil, fmt.Errorf("sqlitestore: time range of %q: %w", cfg.Path, err)
	}
	if err := p.refresh(ctx); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

// refresh brings a read-only store's list of partitions up to the directory's: it opens the
// partitions made since the last refresh, closes those the writer dropped (once the reads
// holding them end), and reads again the range of every partition the writer may have
// inserted into since: the newest one now and the newest one at the last refresh.
func (p *Partitioned) refresh(ctx context.Context) error {
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	nums, err := partitionNumbers(p.dir)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errors.New("sqlitestore: store is closed")
	}
	known := map[int]*partition{}
	for _, pt := range p.parts[1:] {
		known[pt.num] = pt
	}
	lastNewest := p.active()
	p.mu.Unlock()

	var added []*partition
	closeAdded := func() {
		for _, pt := range added {
			_ = pt.st.Close()
		}
	}
	for _, n := range nums {
		if known[n] != nil {
			continue
		}
		st, err := openReadOnlyFile(ctx, p.partConfig(p.partPath(n), false))
		if errors.Is(err, os.ErrNotExist) {
			continue // dropped by the writer's retention since it was listed
		}
		if err != nil {
			closeAdded()
			return fmt.Errorf("sqlitestore: partition %d: %w", n, err)
		}
		st.closeIdle(sealedIdleTime)
		pt := &partition{num: n, path: p.partPath(n), st: st}
		if err := pt.readRange(ctx); err != nil {
			_ = st.Close()
			closeAdded()
			return fmt.Errorf("sqlitestore: time range of %q: %w", pt.path, err)
		}
		added = append(added, pt)
	}

	// Ranges read outside p.mu: a snapshot meanwhile sees the older, narrower range, which
	// is the store as it was before this refresh.
	lo, hi, err := lastNewest.queryRange(ctx)
	if err != nil {
		closeAdded()
		return fmt.Errorf("sqlitestore: time range of %q: %w", lastNewest.path, err)
	}

	listed := map[int]bool{0: true}
	for _, n := range nums {
		listed[n] = true
	}
	p.mu.Lock()
	kept := []*partition{p.parts[0]}
	var dropped []*partition
	for _, pt := range p.parts[1:] {
		if listed[pt.num] {
			kept = append(kept, pt)
		} else {
			dropped = append(dropped, pt)
		}
	}
	kept = append(kept, added...)
	slices.SortFunc(kept[1:], func(a, b *partition) int { return a.num - b.num })
	p.parts = kept
	if listed[lastNewest.num] {
		lastNewest.minTS, lastNewest.maxTS = lo, hi
	}
	p.mu.Unlock()

	for _, pt := range dropped {
		pt.use.Lock() // waits for the reads that began before it left the list
		err := pt.st.Close()
		pt.use.Unlock()
		if err != nil {
			return fmt.Errorf("sqlitestore: close dropped partition %q: %w", pt.path, err)
		}
	}
	return nil
}
