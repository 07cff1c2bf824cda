// Package clickhousestore keeps audit records in ClickHouse, through the native protocol of
// github.com/ClickHouse/clickhouse-go/v2. It implements store.ChainStore (the records and each
// tenant's tamper-evident chain, see chain.go) and passes storetest.Run and storetest.RunChain.
//
// It speaks to two generations of servers (see README.md): the modern layout (ClickHouse 22
// and newer: DateTime64(9), Map, LowCardinality, skip indexes, TTL) whose OpenTelemetry
// columns match collector-contrib's otel_logs, and a legacy layout for old servers (18.16, as
// Debian ships it: DateTime plus an Int64 nanosecond column, JSON strings instead of maps).
// The layout is chosen when the table is created, by the server's version, and recorded in
// <table>_schema so that a table keeps its layout when the server is upgraded.
package clickhousestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Store is a ClickHouse-backed store.Store. Safe for concurrent use.
type Store struct {
	cfg  Config
	conn conn

	// mu guards the connection-time state: the server version and the dialect of the table,
	// learned on the first successful round trip (Open, or later when the server was down).
	mu      sync.Mutex
	ready   bool
	d       dialect
	version string

	// tenants holds each tenant's insert lock and cached chain head (tenantState): Insert's
	// "which ids exist" check, its write and its chain links are one step per tenant in this
	// process, so two batches replaying the same ids cannot both pass the check, and two
	// batches cannot link after the same head. Entries live as long as the store (one per
	// tenant ever written).
	tenantsMu sync.Mutex
	tenants   map[string]*tenantState

	// startMu guards started: whether the chain's start is known to be recorded.
	startMu sync.Mutex
	started bool

	closed atomic.Bool

	// blockRows is the rows of one native block of an insert; 0 is insertBlockRows. Only the
	// benchmarks change it, to measure the choice.
	blockRows int
	// finishWorkers is how many goroutines finish an insert's rows (startFinisher); 0 is
	// defaultFinishWorkers. Only the benchmarks set it.
	finishWorkers int
}

var _ store.Store = (*Store)(nil)

var errClosed = errors.New("clickhousestore: store is closed")

// Open connects to the server, reads its version and, with CreateSchema, creates the database
// and tables. When the server cannot be reached at all (nothing listens, the network is down),
// Open still returns the store: every operation then fails fast with the connection error and
// retries the connection, so an exporter starts and its WAL and DLQ hold records until the
// server is back. An answer the server gives (bad credentials, a schema newer than this
// binary, a modern layout requested from an old server) is an error of Open.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts, err := cfg.options(ctx)
	if err != nil {
		return nil, err
	}
	c, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhousestore: open %s: %w", strings.Join(cfg.addresses(), ","), err)
	}
	return openConn(ctx, cfg, nativeConn{c})
}

// openConn is Open on a connection made already (the tests' chDB engine is one).
func openConn(ctx context.Context, cfg Config, c conn) (*Store, error) {
	if cfg.Cluster != "" {
		c = newPeerResettingConn(c)
	}
	s := &Store{cfg: cfg, conn: c}
	if _, err := s.dialect(ctx); err != nil && isServerAnswer(err) {
		_ = c.Close()
		return nil, err
	}
	return s, nil
}

// options is the driver configuration of cfg.
func (c *Config) options(ctx context.Context) (*clickhouse.Options, error) {
	password := string(c.Password)
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("clickhousestore: password_file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	tlsCfg, err := c.TLS.LoadTLSConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("clickhousestore: tls: %w", err)
	}
	method := map[string]clickhouse.CompressionMethod{
		"none": clickhouse.CompressionNone, "lz4": clickhouse.CompressionLZ4, "zstd": clickhouse.CompressionZSTD,
	}[c.Compression]
	var settings clickhouse.Settings
	if c.Distributed {
		// An INSERT into a Distributed table returns only once the shard has written the
		// block (by default the server queues it on its disk and sends it later, so an
		// acknowledged record could be lost with that server's disk).
		settings = clickhouse.Settings{"insert_distributed_sync": 1}
	}
	return &clickhouse.Options{
		Settings: settings,
		Protocol: clickhouse.Native,
		Addr:     c.addresses(),
		// No default database: every statement names its database, so Migrate can create it.
		Auth:             clickhouse.Auth{Username: c.Username, Password: password},
		TLS:              tlsCfg,
		DialTimeout:      c.DialTimeout,
		ReadTimeout:      c.ReadTimeout,
		MaxOpenConns:     c.MaxOpenConns,
		MaxIdleConns:     c.MaxOpenConns,
		Compression:      &clickhouse.Compression{Method: method},
		ConnOpenStrategy: clickhouse.ConnOpenInOrder,
	}, nil
}

// isServerAnswer reports whether err came from the server (an exception it sent) rather
// than from failing to reach it.
func isServerAnswer(err error) bool {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return !unreachableShard(ex)
	}
	return errors.Is(err, errSchema)
}

// unreachableShard reports the server's answers that mean it could not reach another server
// (a shard of a Distributed table that is down): SOCKET_TIMEOUT, NETWORK_ERROR and
// ALL_CONNECTION_TRIES_FAILED. Open treats them like an unreachable server, so a collector
// starts while a shard is down and its WAL holds the records until the shard is back.
func unreachableShard(ex *clickhouse.Exception) bool {
	switch ex.Code {
	case 209, 210, 279:
		return true
	}
	return false
}

// errSchema marks refusals of the table's schema (newer than this binary, missing).
var errSchema = errors.New("schema")

// dialect returns the table's dialect, connecting and migrating first if that has not
// happened yet. It holds mu while connecting, so concurrent callers wait for one attempt
// instead of each dialling a server that is down.
func (s *Store) dialect(ctx context.Context) (dialect, error) {
	if s.closed.Load() {
		return dialect{}, errClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return s.d, nil
	}
	if err := s.connectLocked(ctx, s.cfg.CreateSchema); err != nil {
		return dialect{}, err
	}
	return s.d, nil
}

// Migrate creates the database and tables if they are missing (whatever CreateSchema says)
// and checks the recorded schema version. It refuses a table written by a newer binary.
func (s *Store) Migrate(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connectLocked(ctx, true)
}

// ServerVersion is the server's version string, "" until a connection succeeded.
func (s *Store) ServerVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// Layout is the table layout in use, "modern" or "legacy"; "" until a connection succeeded.
func (s *Store) Layout() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready {
		return ""
	}
	return s.d.mode.String()
}

func (s *Store) connectLocked(ctx context.Context, create bool) error {
	where := strings.Join(s.cfg.addresses(), ",")
	var version string
	if err := s.conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return fmt.Errorf("clickhousestore: connect to %s: %w", where, err)
	}
	v, err := parseServerVersion(version)
	if err != nil {
		return fmt.Errorf("clickhousestore: connect to %s: %w", where, err)
	}
	ttl, err := s.cfg.ttlByLevel()
	if err != nil {
		return err
	}
	d := dialect{db: s.cfg.Database, table: s.cfg.Table, cluster: s.cfg.Cluster,
		distributed: s.cfg.Distributed, zkPath: s.cfg.ZooKeeperPath, ttl: ttl}

	recorded, found, err := s.recordedSchema(ctx, d)
	if err != nil {
		return err
	}
	switch {
	case found && recorded.version > schemaVersion:
		return fmt.Errorf("clickhousestore: %w: table %s has schema version %d; this binary knows up to %d", errSchema, d.logs(), recorded.version, schemaVersion)
	case found:
		d.mode, d.rev = recorded.mode, recorded.rev
		if d.modern() && v.major < modernMajor {
			return fmt.Errorf("clickhousestore: %w: table %s has the modern layout, which server %s cannot read", errSchema, d.logs(), v)
		}
		if recorded.version < schemaVersion && !create {
			return fmt.Errorf("clickhousestore: %w: table %s has schema version %d and this binary needs %d (the chain's tables); run once with create_schema: true to add them", errSchema, d.logs(), recorded.version, schemaVersion)
		}
	case !create:
		return fmt.Errorf("clickhousestore: %w: table %s does not exist and create_schema is false", errSchema, d.meta())
	default:
		if d.mode, err = chooseMode(s.cfg.Schema, v); err != nil {
			return fmt.Errorf("clickhousestore: %w: %w", errSchema, err)
		}
		if d.modern() {
			d.rev = currentModernRev
		}
	}
	if s.cfg.AsyncInsert && !d.modern() {
		return fmt.Errorf("clickhousestore: %w: async_insert needs the modern layout (ClickHouse %d or newer); server %s", errSchema, modernMajor, v)
	}
	// On a cluster, a schema recorded at this binary's version means the DDL ran ON CLUSTER
	// already: running it again would wait for every replica (distributed_ddl_task_timeout)
	// and fail while one is down, so a collector could not start while the cluster is degraded.
	if create && !(d.cluster != "" && found && recorded.version == schemaVersion) {
		for _, stmt := range d.createStatements() {
			if err := s.conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("clickhousestore: migrate: %s: %w", firstLine(stmt), err)
			}
		}
		if !found || recorded.version < schemaVersion {
			if err := s.recordVersion(ctx, d); err != nil {
				return fmt.Errorf("clickhousestore: migrate: record schema version: %w", err)
			}
		}
	}
	if d.distributed {
		if err := s.checkDistributed(ctx, d); err != nil {
			return err
		}
	}
	s.d, s.version, s.ready = d, version, true
	return nil
}

// checkDistributed refuses a store configured distributed whose logs table is not a
// Distributed one: a table made by a one-shard store keeps its name, CREATE ... IF NOT
// EXISTS leaves it alone, and writes would stay on the shard of the connected server.
// Moving a one-shard table to shards is not built (README "Several shards").
func (s *Store) checkDistributed(ctx context.Context, d dialect) error {
	var engine string
	err := s.conn.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = "+quoteString(d.db)+
		" AND name = "+quoteString(d.table)).Scan(&engine)
	if err != nil {
		return fmt.Errorf("clickhousestore: engine of %s: %w", d.logs(), err)
	}
	if engine != "Distributed" {
		return fmt.Errorf("clickhousestore: %w: distributed is set but table %s has engine %s, not Distributed (a table created without distributed is not converted; use a new table or database)", errSchema, d.logs(), engine)
	}
	// Each shard's local table must replicate at a path of its own. With a path the same on
	// every shard (a macro that does not differ between them, such as a {shard} that names
	// the shard of another cluster), the "shards" are replicas of one table: every row is
	// on each and a read through the Distributed table counts it once per shard.
	var shards, paths uint64
	err = s.conn.QueryRow(ctx, "SELECT count(), uniqExact(zookeeper_path) FROM "+d.everyShard("replicas")+
		" WHERE database = "+quoteString(d.db)+" AND table = "+quoteString(d.local(d.table))).Scan(&shards, &paths)
	if err != nil {
		return fmt.Errorf("clickhousestore: replication paths of %s: %w", d.qualified(d.local(d.table)), err)
	}
	if paths < shards {
		return fmt.Errorf("clickhousestore: %w: the %d shards of cluster %s replicate %s at %d ZooKeeper path(s): zookeeper_path %q needs a macro whose value differs between shards", errSchema, shards, d.cluster, d.qualified(d.local(d.table)), paths, s.cfg.zooKeeperPath())
	}
	return nil
}

// recordVersion writes the schema row through a native batch: an INSERT with inline VALUES
// sent as a plain statement never completes on the 18.16 server through this driver (the
// server answers with the block header and waits for data the driver does not send).
func (s *Store) recordVersion(ctx context.Context, d dialect) error {
	batch, err := s.conn.PrepareBatch(ctx, d.recordVersionSQL())
	if err != nil {
		return err
	}
	defer func() { _ = batch.Abort() }()
	if err := batch.Append(uint32(schemaVersion), d.layoutName(), time.Now().UTC().Truncate(time.Second)); err != nil {
		return err
	}
	return batch.Send()
}

type recordedSchema struct {
	version uint32
	mode    mode
	rev     int // modern revision
}

// recordedSchema reads <table>_schema; found is false when the table does not exist.
func (s *Store) recordedSchema(ctx context.Context, d dialect) (recordedSchema, bool, error) {
	var n uint64
	err := s.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = "+quoteString(d.db)+
		" AND name = "+quoteString(d.table+"_schema")).Scan(&n)
	if err != nil {
		return recordedSchema{}, false, fmt.Errorf("clickhousestore: read schema of %s: %w", d.logs(), err)
	}
	if n == 0 {
		return recordedSchema{}, false, nil
	}
	rows, err := s.conn.Query(ctx, d.schemaVersionSQL())
	if err != nil {
		return recordedSchema{}, false, fmt.Errorf("clickhousestore: read schema of %s: %w", d.logs(), err)
	}
	defer rows.Close()
	if !rows.Next() {
		// Created by a Migrate that stopped before recording its version: no data can have
		// been written through this binary yet, so it is treated as absent.
		return recordedSchema{}, false, rows.Err()
	}
	var rs recordedSchema
	var modeName string
	if err := rows.Scan(&rs.version, &modeName); err != nil {
		return recordedSchema{}, false, fmt.Errorf("clickhousestore: read schema of %s: %w", d.logs(), err)
	}
	m, rev, ok := parseMode(modeName)
	if !ok {
		return recordedSchema{}, false, fmt.Errorf("clickhousestore: %w: %s records an unknown layout %q", errSchema, d.meta(), modeName)
	}
	rs.mode, rs.rev = m, rev
	return rs, true, rows.Err()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// Close releases the connections. Calling it twice is safe.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.conn.Close()
}

var _ store.HealthChecker = (*Store)(nil)

// healthTimeout bounds CheckHealth: a server that does not answer a ping in this long is
// unavailable for a health probe's purposes, whatever the query timeout.
const healthTimeout = 3 * time.Second

// CheckHealth connects if needed and pings the server. Any failure is ErrUnavailable: every
// query would fail the same way.
func (s *Store) CheckHealth(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	d, err := s.dialect(ctx)
	if err != nil {
		return fmt.Errorf("clickhousestore: %w: %v", store.ErrUnavailable, err)
	}
	if err := s.conn.Ping(ctx); err != nil {
		return fmt.Errorf("clickhousestore: %w: ping %s: %v", store.ErrUnavailable, strings.Join(s.cfg.addresses(), ","), err)
	}
	if d.distributed {
		// The connected server answering says nothing of the other shards, without which
		// every insert and query fails: read the small schema table through its
		// Distributed table, which asks one replica of every shard.
		rows, err := s.conn.Query(ctx, d.schemaVersionSQL())
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if err != nil {
			return fmt.Errorf("clickhousestore: %w: a shard of cluster %s: %v", store.ErrUnavailable, d.cluster, err)
		}
	}
	return nil
}
