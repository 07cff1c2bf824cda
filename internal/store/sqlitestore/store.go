// Package sqlitestore is the embedded default store: one SQLite file (modernc.org/sqlite, pure
// Go) in WAL mode, with one writer connection and a pool of read-only connections, versioned
// migrations, and an FTS5 index over message, event and the attributes' searchable values
// (search_text). README.md in this folder
// describes the schema, the pragmas and the search syntax.
package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	// The driver registers itself as "sqlite".
	_ "modernc.org/sqlite"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

const driverName = "sqlite"

// Store is a store.Store on one SQLite file.
//
// Concurrency: SQLite admits one writer at a time, so writes go through a pool of exactly one
// connection and queue in database/sql rather than spinning on SQLITE_BUSY. Reads use a
// separate pool of query_only connections; in WAL mode they never wait for the writer and
// each statement sees one consistent snapshot.
type Store struct {
	cfg   Config
	write *sql.DB
	read  *sql.DB // the same handle as write for ":memory:" and OpenReadOnly
	// readers opens read's connections; sealReaders changes its DSN. nil when read is write.
	readers *dsnConnector
	// readOnly: opened by OpenReadOnly, on a file another process writes.
	readOnly bool

	// inserts caches the insert statements; a partition gives them back when it is sealed
	// (addPartition). counts caches the stats-count upserts, which retention runs too.
	inserts statementCache
	counts  statementCache
	// reads caches the fixed statements every partition runs on each call (Trace): their
	// compilation was most of their cost (85% of a trace lookup over 200 partitions).
	reads statementCache
	group writeGroup // concurrent inserts share transactions (insert_group.go)
	// checkpoints copies committed pages into the file beside the writer (checkpoint.go); nil
	// for ":memory:".
	checkpoints *checkpointer
	// skipFullTextInsert: Insert leaves the full-text index alone, because a trigger keeps it
	// (schema v5 and before, which benchmarks build as their baseline) or because the index is
	// rebuilt after a bulk load or left out to measure its cost. Only benchmarks set it.
	skipFullTextInsert bool
	// pruneChunkRows is how many rows one Prune transaction deletes.
	pruneChunkRows int
	// searchFirstBelow and searchWindowRows choose how a search runs (query.go; tests lower
	// them to reach every path with few rows).
	searchFirstBelow, searchWindowRows int

	// writeFull is the error of the last insert that failed for lack of space (SQLITE_FULL),
	// nil once an insert succeeds again; CheckHealth reports it (health.go).
	writeFull atomic.Pointer[error]

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Open validates cfg, creates the file's directory, opens the connections and migrates the
// schema. The caller must Close the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sqlitestore: invalid config: %w", err)
	}
	if cfg.Path != memoryPath {
		if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
			return nil, fmt.Errorf("sqlitestore: create directory of path %q: %w", cfg.Path, err)
		}
	}

	installPageAllocator()
	write, _, err := openPool(ctx, cfg.dsn(false), 1)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open writer on %q: %w", cfg.Path, err)
	}
	s := &Store{cfg: cfg, write: write, read: write, pruneChunkRows: defaultPruneChunk, searchFirstBelow: searchFirstBelow, searchWindowRows: firstSearchWindow}
	s.inserts.db = write
	s.counts.db = write

	if err := ensureIncrementalVacuum(ctx, write); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlitestore: set auto_vacuum on %q: %w", cfg.Path, err)
	}
	if err := migrate(ctx, write, migrations); err != nil {
		_ = write.Close()
		return nil, err
	}

	// The planner needs statistics to choose between indexes that all fit a query (a user's
	// day: the user index, not the tenant's whole day). 0x10002 checks every table, as SQLite
	// advises at open for long-lived connections; ANALYZE runs only when the statistics are
	// missing or stale and reads a bounded sample, so this costs milliseconds once done.
	if err := optimize(ctx, write, "0x10002"); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlitestore: optimize %q: %w", cfg.Path, err)
	}

	if cfg.Path != memoryPath {
		// Opened after the migration so that the readers find the file in WAL mode and the
		// schema in place.
		read, readers, err := openPool(ctx, cfg.dsn(true), readConnections())
		if err != nil {
			_ = write.Close()
			return nil, fmt.Errorf("sqlitestore: open readers on %q: %w", cfg.Path, err)
		}
		s.read, s.readers = read, readers
		s.checkpoints = newCheckpointer(cfg)
	}
	return s, nil
}

// autoVacuumIncremental is PRAGMA auto_vacuum's value for INCREMENTAL.
const autoVacuumIncremental = 2

// ensureIncrementalVacuum makes a new database file auto_vacuum=INCREMENTAL, so that Prune can
// return the pages it frees to the file system (PRAGMA incremental_vacuum).
//
// SQLite accepts the mode only before the first table is created, and the DSN's
// journal_mode(WAL) has already written the file header by now, so the pragma alone would be
// ignored: a VACUUM of the still empty file applies it, instantly.
//
// A file that already has tables (created by an earlier version) is left as it is: converting
// it takes a VACUUM that rewrites the whole file, needs as much free disk again and holds the
// writer for minutes on a large file, which is not a step to take silently at start. Its
// freed pages stay in the file and are reused by later inserts, so it stops growing but does
// not shrink; README.md says how to convert it offline.
func ensureIncrementalVacuum(ctx context.Context, db *sql.DB) error {
	var mode, tables int
	if err := db.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return err
	}
	if mode == autoVacuumIncremental {
		return nil
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&tables); err != nil {
		return err
	}
	if tables > 0 {
		return nil
	}
	if _, err := db.ExecContext(ctx, `PRAGMA auto_vacuum = INCREMENTAL`); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `VACUUM`); err != nil {
		return err
	}
	return nil
}

// readConnections bounds the read pool. Queries are CPU-bound in SQLite's VM, so more
// connections than cores only add page caches.
func readConnections() int {
	return max(2, runtime.GOMAXPROCS(0))
}

// sqliteDriver is the driver registered as driverName; sql.Open does not connect.
var sqliteDriver = func() driver.Driver {
	db, err := sql.Open(driverName, "")
	if err != nil {
		panic(err) // only if the driver's import were missing
	}
	defer db.Close()
	return db.Driver()
}()

// dsnConnector opens a pool's connections with a DSN that can change, so that a partition
// sealed while the process runs gives its readers the sealed pragmas without reopening.
type dsnConnector struct {
	dsn atomic.Pointer[string]
}

func (c *dsnConnector) Connect(context.Context) (driver.Conn, error) {
	return sqliteDriver.Open(*c.dsn.Load())
}

func (c *dsnConnector) Driver() driver.Driver { return sqliteDriver }

// sealReaders makes s's readers use the pragmas of a file no insert reaches (SealedMmapSize):
// connections opened from now on get them, and the idle ones are closed now so that the next
// read opens one. A connection busy meanwhile keeps the old pragmas until it is idle for
// sealedIdleTime.
func (s *Store) sealReaders() {
	if s.readers == nil {
		return
	}
	cfg := s.cfg
	cfg.sealed = true
	dsn := cfg.dsn(true)
	s.readers.dsn.Store(&dsn)
	s.read.SetMaxIdleConns(0)
	s.read.SetMaxIdleConns(readConnections())
}

// openPool opens a pool of at most conns connections, and the connector that opens them.
func openPool(ctx context.Context, dsn string, conns int) (*sql.DB, *dsnConnector, error) {
	connector := &dsnConnector{}
	connector.dsn.Store(&dsn)
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(conns)
	// Idle connections are kept for good: each holds its page cache and prepared statements.
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	// Ping opens the first connection, which applies the DSN's pragmas: a bad file or an
	// unusable directory fails here rather than at the first insert.
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return db, connector, nil
}

// Migrate brings the schema to the version this binary knows. Open already did; it is safe to
// call again.
func (s *Store) Migrate(ctx context.Context) error {
	if s.readOnly {
		return fmt.Errorf("sqlitestore: %q is open read-only: its writer migrates it", s.cfg.Path)
	}
	return migrate(ctx, s.write, migrations)
}

// Close closes the connections. Calls after the first return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		var errs []error
		if err := s.inserts.close(); err != nil {
			errs = append(errs, fmt.Errorf("sqlitestore: close statements: %w", err))
		}
		if err := s.counts.close(); err != nil {
			errs = append(errs, fmt.Errorf("sqlitestore: close statements: %w", err))
		}
		if err := s.reads.close(); err != nil {
			errs = append(errs, fmt.Errorf("sqlitestore: close statements: %w", err))
		}
		if err := s.checkpoints.close(); err != nil {
			errs = append(errs, fmt.Errorf("sqlitestore: close checkpointer: %w", err))
		}
		if s.read != s.write {
			if err := s.read.Close(); err != nil {
				errs = append(errs, fmt.Errorf("sqlitestore: close readers: %w", err))
			}
		}
		// Closing the last connection checkpoints the WAL into the database file.
		if err := s.write.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sqlitestore: close writer: %w", err))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Store) isClosed() bool { return s.closed.Load() }
