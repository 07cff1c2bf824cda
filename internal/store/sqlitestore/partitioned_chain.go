package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Where a partitioned store keeps the chain:
//   - links: in the file of their record, written in the record's transaction as in a single
//     file. A new partition starts with a copy of every tenant's head (seedChains), so the
//     active partition holds every tenant's head and each insert continues the chain there.
//   - links of a dropped partition: copied into the base file before the file goes, so the
//     chain still verifies from its first link (their records read as removed, which the
//     prune checkpoint of the run accounts for, as in a single file).
//   - checkpoints: in the base file only, which is never dropped.

// ChainHead returns the tenant's last link, held by the active partition.
func (p *Partitioned) ChainHead(ctx context.Context, tenant string) (chain.Link, error) {
	parts, release, err := p.snapshot(ctx)
	if err != nil {
		return chain.Link{}, err
	}
	defer release()
	return parts[len(parts)-1].st.ChainHead(ctx, tenant)
}

// ChainLinks calls fn for the tenant's links from..to in seq order, walking the files in chain
// order (the base file, whose copies of dropped partitions' links come before every partition's,
// then the partitions oldest first). A partition's seeds repeat the previous file's head and
// are skipped, because each file is asked only for links after the last one given.
func (p *Partitioned) ChainLinks(ctx context.Context, tenant string, from, to uint64, fn func(chain.Link, *record.Record) error) error {
	parts, release, err := p.snapshot(ctx)
	if err != nil {
		return err
	}
	defer release()
	next := from
	for _, v := range parts {
		if next > to {
			return nil
		}
		err := v.st.ChainLinks(ctx, tenant, next, to, func(l chain.Link, rec *record.Record) error {
			if l.Seq < next {
				return nil
			}
			next = l.Seq + 1
			return fn(l, rec)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Checkpoints returns the tenant's checkpoints, all kept in the base file.
func (p *Partitioned) Checkpoints(ctx context.Context, tenant string) ([]chain.Checkpoint, error) {
	parts, release, err := p.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return parts[0].st.Checkpoints(ctx, tenant)
}

// SaveCheckpoint stores a checkpoint in the base file.
func (p *Partitioned) SaveCheckpoint(ctx context.Context, cp chain.Checkpoint) error {
	parts, release, err := p.snapshot(ctx)
	if err != nil {
		return err
	}
	defer release()
	return parts[0].st.SaveCheckpoint(ctx, cp)
}

// Unchained returns ids of the tenant's records without a link in their file.
func (p *Partitioned) Unchained(ctx context.Context, tenant string, limit int) ([]string, error) {
	parts, release, err := p.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var out []string
	for _, v := range parts {
		if len(out) >= limit {
			break
		}
		ids, err := v.st.Unchained(ctx, tenant, limit-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, ids...)
	}
	return out, nil
}

// ChainTenants lists the tenants that have a chain: the active partition holds every head.
func (p *Partitioned) ChainTenants(ctx context.Context) ([]string, error) {
	parts, release, err := p.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return parts[len(parts)-1].st.ChainTenants(ctx)
}

// Prune applies policy. A sealed partition whose newest record is older than every level's
// cutoff (none kept forever) is dropped whole, like a ClickHouse DROP PARTITION: its chain
// links are copied into the base file, then the file is closed and deleted. The removed
// records are counted per level from the partition's stats counts. Every other partition that
// holds records before the largest cutoff is pruned row by row (Store.Prune). A failing file
// does not stop the others; the errors are joined.
//
// Crash safety: the links are copied (idempotently) before the file is deleted, so a crash in
// between leaves a partition that the next run drops again; deleting one file is atomic.
func (p *Partitioned) Prune(ctx context.Context, policy store.RetentionPolicy, now time.Time) (store.PruneResult, error) {
	res := store.PruneResult{RemovedByLevel: store.LevelCounts()}
	if p.readOnly {
		return res, errReadOnly
	}
	cutoffs, upper := pruneCutoffs(policy, now)
	if upper == math.MinInt64 {
		return res, nil
	}
	lowest := int64(math.MaxInt64)
	for _, c := range cutoffs {
		lowest = min(lowest, c)
	}

	parts, release, err := p.snapshot(ctx)
	if err != nil {
		return res, err
	}
	var drop, prune []*partition
	for _, v := range parts {
		switch {
		case v.num > 0 && !v.active && (v.empty() || v.maxTS < lowest):
			drop = append(drop, v.partition)
		case !v.empty() && v.minTS < upper:
			prune = append(prune, v.partition)
		}
	}
	release()

	var errs []error
	for _, pt := range drop {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if err := p.dropPartition(ctx, pt, &res); err != nil {
			errs = append(errs, fmt.Errorf("drop %q: %w", pt.path, err))
		}
	}
	for _, pt := range prune {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if err := p.prunePartition(ctx, pt, policy, now, &res); err != nil {
			errs = append(errs, fmt.Errorf("%q: %w", pt.path, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("sqlitestore: prune: %w", err)
	}
	return res, nil
}

// prunePartition prunes one file row by row and narrows its range to what is left.
func (p *Partitioned) prunePartition(ctx context.Context, pt *partition, policy store.RetentionPolicy, now time.Time, res *store.PruneResult) error {
	if !p.hold(pt) {
		return nil // dropped meanwhile
	}
	defer pt.use.RUnlock()
	p.mu.Lock()
	sealed := pt != p.parts[len(p.parts)-1]
	p.mu.Unlock()
	part, err := pt.st.Prune(ctx, policy, now)
	res.Add(part)
	if err != nil {
		return err
	}
	if part.Total == 0 {
		return nil
	}
	fresh := &partition{st: pt.st}
	if err := fresh.readRange(ctx); err != nil {
		return err
	}
	if !sealed {
		// The active partition's range stays as it is: an insert may have widened it for rows
		// not yet committed when the range was read, and a range must never miss a row. (A
		// partition sealed before the prune began takes no more rows.)
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if fresh.empty() {
		pt.minTS, pt.maxTS = math.MaxInt64, math.MinInt64
	} else {
		pt.minTS, pt.maxTS = fresh.minTS, fresh.maxTS
	}
	return nil
}

// hold takes pt for reading if it is still one of the store's partitions.
func (p *Partitioned) hold(pt *partition) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, q := range p.parts {
		if q == pt {
			pt.use.RLock()
			return true
		}
	}
	return false
}

// dropPartition removes a whole sealed partition: links to the base file, counts, file.
func (p *Partitioned) dropPartition(ctx context.Context, pt *partition, res *store.PruneResult) error {
	if !p.hold(pt) {
		return nil
	}
	removed, err := levelCounts(ctx, pt.st)
	if err == nil {
		err = p.archiveLinks(ctx, pt)
	}
	pt.use.RUnlock()
	if err != nil {
		return err
	}

	p.mu.Lock()
	for i, q := range p.parts {
		if q == pt {
			p.parts = append(p.parts[:i:i], p.parts[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	pt.use.Lock() // waits for the reads that began before it left the list
	defer pt.use.Unlock()
	if err := pt.st.Close(); err != nil {
		return err
	}
	for _, suffix := range []string{"-wal", "-shm", ""} {
		if err := os.Remove(pt.path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := syncFile(p.dir); err != nil {
		return err
	}
	for level, n := range removed {
		res.RemovedByLevel[level] += n
		res.Total += n
	}
	return nil
}

// levelCounts counts a file's records per level from its stats counts (day slots).
func levelCounts(ctx context.Context, st *Store) (map[string]int64, error) {
	rows, err := st.read.QueryContext(ctx, `SELECT level, SUM(n) FROM audit_stats_levels WHERE width = ? GROUP BY level`, day)
	if err != nil {
		return nil, fmt.Errorf("count records: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var level, n int64
		if err := rows.Scan(&level, &n); err != nil {
			return nil, fmt.Errorf("count records: %w", err)
		}
		out[record.Level(level).String()] += n
	}
	return out, rows.Err()
}

// archiveLinks copies pt's chain links into the base file; links already there are kept.
func (p *Partitioned) archiveLinks(ctx context.Context, pt *partition) error {
	p.mu.Lock()
	base := p.parts[0]
	p.mu.Unlock()
	conn, err := base.st.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS dropped`, pt.path); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	_, err = conn.ExecContext(ctx, `INSERT OR IGNORE INTO main.audit_chain (tenant_id, seq, record_id, timestamp, level, record_hash, hash)
		SELECT tenant_id, seq, record_id, timestamp, level, record_hash, hash FROM dropped.audit_chain`)
	if _, derr := conn.ExecContext(ctx, `DETACH DATABASE dropped`); err == nil && derr != nil {
		err = fmt.Errorf("detach: %w", derr)
	}
	if err != nil {
		return fmt.Errorf("copy chain links: %w", err)
	}
	return nil
}
