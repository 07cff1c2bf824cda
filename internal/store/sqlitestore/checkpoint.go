package sqlitestore

import (
	"database/sql"
	"sync"
	"time"
)

// Background checkpoints: SQLite's WAL checkpoint (copying the pages of committed transactions
// from the -wal file into the database file, then fsyncing both) runs by default on the
// connection whose commit crossed wal_autocheckpoint, inside that commit. For this store that
// is the one writer: an execution trace of the pipeline at max load showed its commits 15% of
// the time in the checkpoints' writes and fsyncs, time in which nothing is inserted.
//
// A checkpointer runs PASSIVE checkpoints on a connection of its own instead, soon after
// commits, on a goroutine that the runtime can put on the other core. In WAL mode a PASSIVE
// checkpoint runs beside the writer (it takes no lock the writer needs), copies what is
// committed when it starts and skips what a reader still needs. The writer's own
// wal_autocheckpoint stays as it is: when it fires, it finds most frames copied already and
// copies the rest, after which the next transaction starts the -wal file over (a WAL is reset
// only when every frame in it is copied, which a checkpoint beside a busy writer rarely sees),
// so the -wal stays as large as before. Measured in README.md (Connections and pragmas).
type checkpointer struct {
	mu      sync.Mutex
	dsn     string // the writer's file, with a small cache: a checkpoint reads frames, not cached pages
	db      *sql.DB
	kick    chan struct{} // a commit happened; buffered 1, so kicks coalesce
	stop    chan struct{}
	stopped bool
	done    sync.WaitGroup
}

// checkpointEvery spaces the background checkpoints. Each one copies the pages committed since
// the one before: the shorter the spacing, the more often a page rewritten by many
// transactions (an index's inner pages) is copied, the longer, the more is left for the
// writer's own checkpoint. 0 leaves every checkpoint to the writer (benchmarks' baseline).
var checkpointEvery = 250 * time.Millisecond

// checkpointerCacheKiB is the checkpointer connection's page cache: it holds the schema only.
const checkpointerCacheKiB = 64

// newCheckpointer returns the checkpointer of the file cfg names. It starts with the first
// commit, so that files no insert reaches (sealed partitions, the base file of partitions)
// never open its connection.
func newCheckpointer(cfg Config) *checkpointer {
	cfg.CacheSizeKiB, cfg.WriterCacheSizeKiB = checkpointerCacheKiB, 0
	return &checkpointer{dsn: cfg.dsn(false)}
}

// committed tells the checkpointer that a transaction committed. Past the first call it only
// signals, never blocking the writer.
func (c *checkpointer) committed() {
	if c == nil || checkpointEvery <= 0 {
		return
	}
	c.mu.Lock()
	if c.db == nil && !c.stopped {
		connector := &dsnConnector{}
		connector.dsn.Store(&c.dsn)
		c.db = sql.OpenDB(connector)
		c.db.SetMaxOpenConns(1)
		// A store that stops taking inserts (a tenant's file gone quiet) gives the
		// connection back; the next checkpoint opens it again.
		c.db.SetConnMaxIdleTime(time.Minute)
		c.kick, c.stop = make(chan struct{}, 1), make(chan struct{})
		c.done.Add(1)
		go c.run(c.db, c.kick, c.stop)
	}
	kick := c.kick
	c.mu.Unlock()
	select {
	case kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run(db *sql.DB, kick, stop <-chan struct{}) {
	defer c.done.Done()
	var last time.Time
	for {
		select {
		case <-stop:
			return
		case <-kick:
		}
		if wait := checkpointEvery - time.Since(last); wait > 0 {
			select {
			case <-stop:
				return
			case <-time.After(wait):
			}
		}
		last = time.Now()
		// A failure (SQLITE_BUSY from another process's checkpoint, say) leaves the frames to
		// the next checkpoint or to the writer's own; nothing is lost or waits on it.
		_, _ = db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
	}
}

// close stops the checkpointer for good and closes its connection: when the store closes, and
// when its partition is sealed (no insert reaches it again). The writer, closed after it, makes
// the final checkpoint.
func (c *checkpointer) close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	if c.db == nil {
		return nil
	}
	close(c.stop)
	c.done.Wait()
	return c.db.Close()
}
