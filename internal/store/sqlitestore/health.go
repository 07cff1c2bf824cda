package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// minFreeBytes is the free space below which the store calls itself full: one committed batch
// (its rows, their index entries and full-text postings, written to the WAL and then the file)
// takes a few MiB, so with less than this the next one will likely fail.
const minFreeBytes = 4 << 20

var _ store.HealthChecker = (*Store)(nil)

// CheckHealth reads the file (a query that cannot read it means the store is unavailable) and,
// for a writable store on disk, reports it full when the filesystem holding it has less than
// minFreeBytes free or when the last insert failed with SQLITE_FULL (a quota or max_page_count
// can refuse writes before the filesystem is full). Reads keep working on a full store, which
// is why full is not unavailable.
func (s *Store) CheckHealth(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlitestore: %w: the store is closed", store.ErrUnavailable)
	}
	var version int
	if err := s.read.QueryRowContext(ctx, "PRAGMA schema_version").Scan(&version); err != nil {
		return fmt.Errorf("sqlitestore: %w: read %s: %v", store.ErrUnavailable, s.cfg.Path, err)
	}
	if s.readOnly {
		return nil
	}
	if s.cfg.Path != memoryPath {
		dir := filepath.Dir(s.cfg.Path)
		if free, ok := freeBytes(dir); ok && free < minFreeBytes {
			return fmt.Errorf("sqlitestore: %w: %d bytes free on the filesystem of %s (a batch needs a few MiB)", store.ErrStorageFull, free, dir)
		}
	}
	if last := s.writeFull.Load(); last != nil {
		return fmt.Errorf("sqlitestore: %w: the last insert failed: %v", store.ErrStorageFull, *last)
	}
	return nil
}

// noteWrite keeps what CheckHealth reports of the last insert: a lack of space is kept until
// an insert succeeds; other errors (a bad record, a cancelled context) say nothing about space.
func (s *Store) noteWrite(err error) {
	switch {
	case err == nil:
		s.writeFull.Store(nil)
	case isFull(err):
		s.writeFull.Store(&err)
	}
}

// isFull reports SQLITE_FULL, which SQLite returns when the disk is full (its unix VFS maps
// ENOSPC to it) or max_page_count is reached.
func isFull(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL
}

var _ store.HealthChecker = (*PerTenant)(nil)

// CheckHealth of the per-tenant layout: the directory must be readable, its filesystem have
// minFreeBytes free, and no open tenant file have failed its last insert for lack of space.
func (p *PerTenant) CheckHealth(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("sqlitestore: %w: the store is closed", store.ErrUnavailable)
	}
	if _, err := os.ReadDir(p.cfg.Directory); err != nil {
		return fmt.Errorf("sqlitestore: %w: %v", store.ErrUnavailable, err)
	}
	if free, ok := freeBytes(p.cfg.Directory); ok && free < minFreeBytes {
		return fmt.Errorf("sqlitestore: %w: %d bytes free on the filesystem of %s (a batch needs a few MiB)", store.ErrStorageFull, free, p.cfg.Directory)
	}
	for _, h := range p.pool.Values() {
		if last := h.st.writeFull.Load(); last != nil {
			return fmt.Errorf("sqlitestore: %w: the last insert of tenant %q failed: %v", store.ErrStorageFull, h.tenant, *last)
		}
	}
	return nil
}

var _ store.HealthChecker = (*Partitioned)(nil)

// CheckHealth of a partitioned store: the base file (checkpoints, older records) and the
// active partition (every insert) must be readable; the active partition's space and last
// insert say whether writes work. Sealed partitions are only read, by queries that report
// their own errors. Unavailable outranks full.
func (p *Partitioned) CheckHealth(ctx context.Context) error {
	parts, release, err := p.snapshot(ctx)
	if err != nil {
		return fmt.Errorf("sqlitestore: %w: %v", store.ErrUnavailable, err)
	}
	defer release()
	var full error
	for _, v := range []partitionView{parts[0], parts[len(parts)-1]} {
		switch err := v.st.CheckHealth(ctx); {
		case err == nil:
		case errors.Is(err, store.ErrStorageFull):
			if full == nil {
				full = err
			}
		default:
			return err
		}
	}
	return full
}
