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
	if err := s.checkReadable(ctx); err != nil {
		return err
	}
	if s.readOnly {
		return nil
	}
	if err := s.checkFreeSpace(); err != nil {
		return err
	}
	return s.checkLastWrite()
}

// checkReadable reports the store unavailable when it is closed or a query cannot read it.
func (s *Store) checkReadable(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlitestore: %w: the store is closed", store.ErrUnavailable)
	}
	var version int
	if err := s.read.QueryRowContext(ctx, "PRAGMA schema_version").Scan(&version); err != nil {
		return fmt.Errorf("sqlitestore: %w: read %s: %v", store.ErrUnavailable, s.cfg.Path, err)
	}
	return nil
}

// checkFreeSpace reports the store full when the filesystem holding its file has less than
// minFreeBytes free (one statfs; nothing for an in-memory store).
func (s *Store) checkFreeSpace() error {
	if s.cfg.Path == memoryPath {
		return nil
	}
	dir := filepath.Dir(s.cfg.Path)
	if free, ok := freeBytes(dir); ok && free < minFreeBytes {
		return fmt.Errorf("sqlitestore: %w: %d bytes free on the filesystem of %s (a batch needs a few MiB)", store.ErrStorageFull, free, dir)
	}
	return nil
}

// checkLastWrite reports the store full while its last insert failed with SQLITE_FULL.
func (s *Store) checkLastWrite() error {
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
// active partition (every insert) must be readable; the active partition's free space and the
// last insert of either say whether writes work. Free space is measured once, on the active
// partition's directory: the partitions sit in a directory next to the base file, on the same
// filesystem, and a probe that runs every few seconds should not statfs twice. Sealed partitions
// are only read, by queries that report their own errors. Unavailable outranks full.
func (p *Partitioned) CheckHealth(ctx context.Context) error {
	parts, release, err := p.snapshot(ctx)
	if err != nil {
		return fmt.Errorf("sqlitestore: %w: %v", store.ErrUnavailable, err)
	}
	defer release()
	base, active := parts[0].st, parts[len(parts)-1].st
	if err := base.checkReadable(ctx); err != nil {
		return err
	}
	if active != base {
		if err := active.checkReadable(ctx); err != nil {
			return err
		}
	}
	if err := active.checkFreeSpace(); err != nil {
		return err
	}
	if err := base.checkLastWrite(); err != nil {
		return err
	}
	return active.checkLastWrite()
}
