package sqlitestore

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is the SQLite backend's part of the auditstore extension's configuration.
type Config struct {
	// Path is the database file. Its parent directory is created at Open. ":memory:" keeps
	// everything in RAM, on one connection, for tests that need speed rather than a file.
	Path string `mapstructure:"path"`
	// Synchronous is SQLite's PRAGMA synchronous: OFF, NORMAL, FULL or EXTRA. With WAL,
	// NORMAL never corrupts the database; a power loss may undo the last transactions, which
	// the exporter's own WAL replays (ids make the replay idempotent).
	Synchronous string `mapstructure:"synchronous"`
	// BusyTimeout is how long a connection waits for a lock held by another process (a
	// sqlite3 shell, a backup tool) before failing with SQLITE_BUSY.
	BusyTimeout time.Duration `mapstructure:"busy_timeout"`
	// CacheSizeKiB is the page cache of each reader connection, in KiB, and of the writer when
	// WriterCacheSizeKiB is 0. 0 keeps SQLite's default of 2000 KiB.
	CacheSizeKiB int `mapstructure:"cache_size_kib"`
	// WriterCacheSizeKiB is the writer connection's page cache, in KiB; 0 means CacheSizeKiB.
	//
	// The writer's cache decides how its speed holds up as the file grows: every insert
	// touches index pages all over the user, trace and IP indexes and the full-text index's
	// merges re-read its segments, and once these no longer fit, each touch is a read from
	// the file. With partitions (the default) the file it writes stops growing at
	// PartitionMaxRows, so the cache only has to hold one partition's working set. SQLite
	// allocates the cache as pages are used, each in a slot of its exact size (pagecache.go),
	// so a full cache costs this figure and 7% of page headers.
	WriterCacheSizeKiB int `mapstructure:"writer_cache_size_kib"`
	// MmapSize is how many bytes of the file are memory-mapped for reads. 0 disables mmap: with
	// it, an I/O error surfaces as SIGBUS instead of an error, so it is an explicit choice.
	MmapSize int64 `mapstructure:"mmap_size"`
	// SealedMmapSize is mmap_size for the readers of a file no insert reaches any more: a
	// sealed partition, or the base file of a partitioned store. Such files change only by
	// retention's deletes, as Prometheus maps its immutable blocks. At 10M rows a day of stats reads cold index pages in seven partitions,
	// and mapping them saves the pread and the page-cache allocation of each page: most of the
	// stats' cost. The writers and the active partition keep MmapSize. 0 turns it off.
	SealedMmapSize int64 `mapstructure:"sealed_mmap_size"`
	// sealed: Partitioned set it for a file no insert reaches (partConfig).
	sealed bool

	// Chain links every stored record onto its tenant's tamper-evident chain (internal/chain).
	// It is not read from the store's YAML: the auditstore extension sets it from its
	// tamper_evidence section, which also holds the signing key.
	Chain bool `mapstructure:"-"`

	// Tenancy is where tenants' records live: TenancySingleDatabase (one file at Path, the
	// tenant in a column) or TenancyDatabasePerTenant (one file per tenant in Directory).
	Tenancy string `mapstructure:"tenancy"`
	// Directory holds one file per tenant, <tenant>.db, with database_per_tenant.
	Directory string `mapstructure:"directory"`
	// MaxActiveConnections is how many tenant files database_per_tenant keeps open at once;
	// the least recently used idle one is closed to open another.
	MaxActiveConnections int `mapstructure:"max_active_connections"`

	// PartitionMaxRows, when above 0, splits the single_database store into partition files
	// (partitioned.go): inserts go to the newest, which is sealed and followed by a new one once
	// it holds this many rows, so that the indexes the writer updates stay the size of one
	// partition and its speed does not decay as the data grows. 0 keeps one file. It has no
	// effect with database_per_tenant (each tenant's file is one file) or on ":memory:".
	PartitionMaxRows int64 `mapstructure:"partition_max_rows"`
}

// partitioned reports whether the store is split into partition files.
func (c Config) partitioned() bool {
	return c.PartitionMaxRows > 0 && c.Tenancy == TenancySingleDatabase && c.Path != memoryPath
}

// Tenancy modes.
const (
	TenancySingleDatabase    = "single_database"
	TenancyDatabasePerTenant = "database_per_tenant"
)

// Defaults, in one place.
const (
	DefaultPath         = "./data/audit.db"
	DefaultSynchronous  = "NORMAL"
	DefaultBusyTimeout  = 5 * time.Second
	DefaultCacheSizeKiB = 16 * 1024
	// DefaultWriterCacheSizeKiB and DefaultPartitionMaxRows were chosen together by
	// measurement (README.md, Partitions, "Choosing the defaults"): against 250k rows with
	// 256 MiB, 50k rows with 32 MiB inserted 600k load-generator records at 1.43x the rate
	// (interleaved runs, median) in a fifth of the memory (124 MiB peak RSS against 577),
	// and took the pipeline's peak RSS at max load from 709 MiB to about 300. 24 MiB then
	// replaced 32 (2026-12-06): the same insert rate over 600k records (0.97x the wall time,
	// three interleaved pairs) and about 7 MiB less at max load.
	DefaultWriterCacheSizeKiB = 24 * 1024
	DefaultPartitionMaxRows   = 50_000
	// DefaultSealedMmapSize maps the whole of a sealed partition (about 80 MB at 50k of the load
	// generator's records) for its readers. On 10M rows with the OS cache warm it took an
	// admin's day of stats from p99 136-162 ms to 31-49, and a rare word's search from 145-180
	// to 94-138 (BenchmarkQuery1MPartitioned, -query.sealed-mmap-size 0 against the default,
	// alternated runs; README.md, Choosing the defaults).
	DefaultSealedMmapSize = 256 << 20

	DefaultTenancy              = TenancySingleDatabase
	DefaultDirectory            = "./data/tenants"
	DefaultMaxActiveConnections = 50
)

// memoryPath is SQLite's name for a private in-memory database.
const memoryPath = ":memory:"

// DefaultConfig returns the configuration used when the user sets nothing.
func DefaultConfig() Config {
	return Config{
		Path:         DefaultPath,
		Synchronous:  DefaultSynchronous,
		BusyTimeout:  DefaultBusyTimeout,
		CacheSizeKiB: DefaultCacheSizeKiB,
		Chain:        true,

		WriterCacheSizeKiB: DefaultWriterCacheSizeKiB,
		SealedMmapSize:     DefaultSealedMmapSize,
		PartitionMaxRows:   DefaultPartitionMaxRows,

		Tenancy:              DefaultTenancy,
		Directory:            DefaultDirectory,
		MaxActiveConnections: DefaultMaxActiveConnections,
	}
}

var synchronousModes = []string{"OFF", "NORMAL", "FULL", "EXTRA"}

// Validate reports every invalid field, each error naming its field. It touches no file.
func (c Config) Validate() error {
	var errs []error
	switch {
	case strings.TrimSpace(c.Path) == "":
		errs = append(errs, errors.New("path: must not be empty"))
	case strings.ContainsAny(c.Path, "?\x00"):
		// The driver splits its DSN at the first '?': a path containing one would be cut.
		errs = append(errs, fmt.Errorf("path: %q must not contain '?' or NUL", c.Path))
	}
	if !validSynchronous(c.Synchronous) {
		errs = append(errs, fmt.Errorf("synchronous: %q is not one of %s", c.Synchronous, strings.Join(synchronousModes, ", ")))
	}
	if c.BusyTimeout < 0 {
		errs = append(errs, fmt.Errorf("busy_timeout: %s must not be negative", c.BusyTimeout))
	}
	if c.CacheSizeKiB < 0 {
		errs = append(errs, fmt.Errorf("cache_size_kib: %d must not be negative", c.CacheSizeKiB))
	}
	if c.WriterCacheSizeKiB < 0 {
		errs = append(errs, fmt.Errorf("writer_cache_size_kib: %d must not be negative", c.WriterCacheSizeKiB))
	}
	if c.MmapSize < 0 {
		errs = append(errs, fmt.Errorf("mmap_size: %d must not be negative", c.MmapSize))
	}
	if c.SealedMmapSize < 0 {
		errs = append(errs, fmt.Errorf("sealed_mmap_size: %d must not be negative", c.SealedMmapSize))
	}
	switch c.Tenancy {
	case "", TenancySingleDatabase: // "" for a Config built without DefaultConfig
	case TenancyDatabasePerTenant:
		switch {
		case strings.TrimSpace(c.Directory) == "":
			errs = append(errs, errors.New("directory: must not be empty with tenancy database_per_tenant"))
		case c.Directory == memoryPath || strings.ContainsAny(c.Directory, "?\x00"):
			errs = append(errs, fmt.Errorf("directory: %q must be a directory path without '?' or NUL", c.Directory))
		}
		if c.MaxActiveConnections < 1 {
			errs = append(errs, fmt.Errorf("max_active_connections: %d must be at least 1", c.MaxActiveConnections))
		}
	default:
		errs = append(errs, fmt.Errorf("tenancy: %q is not %s or %s", c.Tenancy, TenancySingleDatabase, TenancyDatabasePerTenant))
	}
	if c.PartitionMaxRows < 0 {
		errs = append(errs, fmt.Errorf("partition_max_rows: %d must not be negative (0 keeps one file)", c.PartitionMaxRows))
	}
	return errors.Join(errs...)
}

func validSynchronous(s string) bool {
	for _, m := range synchronousModes {
		if strings.EqualFold(s, m) {
			return true
		}
	}
	return false
}

// dsn builds the driver's connection string. Pragmas go in _pragma parameters because
// database/sql opens connections lazily and reopens them after errors: only what the DSN says
// is applied to every connection it will ever make. The driver runs busy_timeout first, then
// the others in lexical order.
func (c Config) dsn(readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(c.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(0)")
	// SQLite's own WAL checkpoint (not the chain's) every 16384 pages (64 MiB with 4 KiB pages)
	// rather than its 1000: the index pages an insert touches are rewritten by many
	// transactions, and each of SQLite's checkpoints
	// copies a page into the database once however often the WAL holds it. Measured on the
	// insert benchmark: about 10% more records/s at 1000 per batch, more at 100. After a
	// checkpoint the WAL file is cut back to that size rather than kept at its peak.
	q.Add("_pragma", "wal_autocheckpoint(16384)")
	q.Add("_pragma", "journal_size_limit(67108864)")
	q.Add("_pragma", "synchronous("+strings.ToUpper(c.Synchronous)+")")
	mmap := c.MmapSize
	if readOnly && c.sealed {
		mmap = max(mmap, c.SealedMmapSize)
	}
	q.Add("_pragma", "mmap_size("+strconv.FormatInt(mmap, 10)+")")
	cache := c.CacheSizeKiB
	if !readOnly && c.WriterCacheSizeKiB > 0 {
		cache = c.WriterCacheSizeKiB
	}
	if cache > 0 {
		// A negative cache_size is in KiB rather than pages.
		q.Add("_pragma", "cache_size(-"+strconv.Itoa(cache)+")")
	}
	if c.Path != memoryPath {
		// journal_mode is a property of the file: the writer sets it once it exists, readers
		// find it there. Setting it from a query_only connection would fail.
		if !readOnly {
			q.Add("_pragma", "journal_mode(WAL)")
		}
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// BEGIN IMMEDIATE takes the write lock when the transaction starts, so a writer never
		// fails half-way through upgrading a read lock when another process holds it.
		q.Set("_txlock", "immediate")
	}
	return c.Path + "?" + q.Encode()
}
