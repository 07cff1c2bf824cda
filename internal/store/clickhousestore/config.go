package clickhousestore

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configtls"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// Config is the ClickHouse backend's part of the auditstore extension's configuration
// (`store: {backend: clickhouse, clickhouse: {...}}`).
type Config struct {
	// Endpoint is the native-protocol address of a server, host:port (the native port, 9000 by
	// default; the HTTP port does not work: see README). A tcp:// or clickhouse:// prefix is
	// accepted and dropped.
	Endpoint string `mapstructure:"endpoint"`
	// Endpoints are more servers of the same cluster; the driver fails over between them.
	Endpoints []string `mapstructure:"endpoints"`
	// Database holds the tables; created by Migrate when CreateSchema is set.
	Database string `mapstructure:"database"`
	// Table is the logs table; its schema version lives in <table>_schema next to it.
	Table    string              `mapstructure:"table"`
	Username string              `mapstructure:"username"`
	Password configopaque.String `mapstructure:"password"`
	// PasswordFile is read at Open and overrides Password (a mounted secret). Its trailing
	// newline is dropped. Password may also come from the environment through the collector's
	// ${env:NAME} expansion.
	PasswordFile string `mapstructure:"password_file"`
	// TLS is off while tls.insecure is true (the default); set insecure: false and the usual
	// ca_file / cert_file / key_file to speak TLS to the secure native port (9440).
	TLS configtls.ClientConfig `mapstructure:"tls"`

	DialTimeout time.Duration `mapstructure:"dial_timeout"`
	ReadTimeout time.Duration `mapstructure:"read_timeout"`
	// MaxOpenConns bounds the driver's connection pool.
	MaxOpenConns int `mapstructure:"max_open_conns"`
	// Compression of native-protocol blocks: none, lz4 or zstd.
	Compression string `mapstructure:"compression"`

	// CreateSchema lets Open create the database and tables (Migrate). Without it, Open
	// expects them to exist.
	CreateSchema bool `mapstructure:"create_schema"`
	// Schema picks the table layout: auto (by server version: modern from ClickHouse 22),
	// modern or legacy. A table that already exists keeps the layout it was created with.
	Schema string `mapstructure:"schema"`
	// Cluster, when set, adds ON CLUSTER to every DDL statement and uses the Replicated engines.
	Cluster string `mapstructure:"cluster"`
	// Distributed spreads the records over the shards of Cluster: each table is a Replicated
	// <name>_local on every shard and a Distributed <name> over them, sharded by
	// cityHash64(tenant_id), which the store reads and writes (see README "Several shards").
	Distributed bool `mapstructure:"distributed"`
	// ZooKeeperPath is the replication path of each table (cluster only): {database} and
	// {table} are filled in by the store, every other {macro} by the server. Empty is
	// DefaultZooKeeperPath. Distributed tables need a macro that differs between shards.
	ZooKeeperPath string `mapstructure:"zookeeper_path"`
	// AsyncInsert lets the server buffer small inserts (async_insert=1, wait_for_async_insert=1:
	// Insert still returns only when the rows are written). Modern servers only.
	AsyncInsert bool `mapstructure:"async_insert"`
	// TTL is a per-level table TTL (modern schema), a safety net behind the exporter's retention
	// job: keys are level names (debug, info, warn, error, security), zero or absent means none.
	// Keep it longer than the retention periods, or Prune reports rows TTL removed first as kept.
	TTL map[string]time.Duration `mapstructure:"ttl"`

	// Tenancy must be single_database: every tenant in one table, in the tenant_id column.
	Tenancy string `mapstructure:"tenancy"`

	// Chain links every stored record onto its tenant's tamper-evident chain (internal/chain,
	// see README "The chain on ClickHouse"). It is not read from the store's YAML: the auditstore extension
	// sets it from its tamper_evidence section, which also holds the signing key.
	Chain bool `mapstructure:"-"`
}

// Schema layouts.
const (
	SchemaAuto   = "auto"
	SchemaModern = "modern"
	SchemaLegacy = "legacy"
)

// TenancySingleDatabase is the only tenancy this backend offers.
const TenancySingleDatabase = "single_database"

// Defaults, in one place.
const (
	DefaultEndpoint     = "127.0.0.1:9000"
	DefaultDatabase     = "otel"
	DefaultTable        = "audit_logs"
	DefaultUsername     = "default"
	DefaultDialTimeout  = 5 * time.Second
	DefaultReadTimeout  = 30 * time.Second
	DefaultMaxOpenConns = 10
	DefaultCompression  = "lz4"
	// DefaultZooKeeperPath is the replication path of a table on a cluster.
	DefaultZooKeeperPath = "/clickhouse/tables/{shard}/{database}.{table}"
)

// DefaultConfig returns the configuration a new auditstore extension starts from.
func DefaultConfig() Config {
	return Config{
		Endpoint:     DefaultEndpoint,
		Database:     DefaultDatabase,
		Table:        DefaultTable,
		Username:     DefaultUsername,
		TLS:          configtls.ClientConfig{Insecure: true},
		DialTimeout:  DefaultDialTimeout,
		ReadTimeout:  DefaultReadTimeout,
		MaxOpenConns: DefaultMaxOpenConns,
		Compression:  DefaultCompression,
		CreateSchema: true,
		Schema:       SchemaAuto,
		Tenancy:      TenancySingleDatabase,
		Chain:        true,
	}
}

// identifier is what Database, Table and Cluster may be: names that need no quoting in any
// ClickHouse version, so that the generated SQL is the same text everywhere.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,100}$`)

// Validate checks the configuration without connecting; every message names its field.
func (c *Config) Validate() error {
	var errs []error
	addrs := c.addresses()
	if len(addrs) == 0 {
		errs = append(errs, errors.New("clickhouse: endpoint: at least one endpoint is required"))
	}
	for _, a := range addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("clickhouse: endpoint %q: want host:port of the native protocol", a))
		}
	}
	if !identifier.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("clickhouse: database %q: want letters, digits and underscores, not starting with a digit", c.Database))
	}
	if !identifier.MatchString(c.Table) {
		errs = append(errs, fmt.Errorf("clickhouse: table %q: want letters, digits and underscores, not starting with a digit", c.Table))
	}
	if c.Cluster != "" && !identifier.MatchString(c.Cluster) {
		errs = append(errs, fmt.Errorf("clickhouse: cluster %q: want letters, digits and underscores", c.Cluster))
	}
	errs = append(errs, c.validateSharding()...)
	if c.DialTimeout <= 0 {
		errs = append(errs, fmt.Errorf("clickhouse: dial_timeout %s must be positive", c.DialTimeout))
	}
	if c.ReadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("clickhouse: read_timeout %s must be positive", c.ReadTimeout))
	}
	if c.MaxOpenConns <= 0 {
		errs = append(errs, fmt.Errorf("clickhouse: max_open_conns %d must be positive", c.MaxOpenConns))
	}
	switch c.Compression {
	case "none", "lz4", "zstd":
	default:
		errs = append(errs, fmt.Errorf("clickhouse: compression %q: want none, lz4 or zstd", c.Compression))
	}
	switch c.Schema {
	case SchemaAuto, SchemaModern, SchemaLegacy:
	default:
		errs = append(errs, fmt.Errorf("clickhouse: schema %q: want auto, modern or legacy", c.Schema))
	}
	switch c.Tenancy {
	case TenancySingleDatabase:
	case "database_per_tenant":
		errs = append(errs, errors.New("clickhouse: tenancy database_per_tenant is not offered for ClickHouse: tenants share one table and are told apart by tenant_id (use single_database)"))
	default:
		errs = append(errs, fmt.Errorf("clickhouse: tenancy %q: want single_database", c.Tenancy))
	}
	if _, err := c.ttlByLevel(); err != nil {
		errs = append(errs, err)
	}
	if c.PasswordFile != "" && c.Password != "" {
		errs = append(errs, errors.New("clickhouse: password and password_file are both set; keep one"))
	}
	return errors.Join(errs...)
}

// zooKeeperMacro is a {name} in ZooKeeperPath.
var zooKeeperMacro = regexp.MustCompile(`\{[A-Za-z0-9_]+\}`)

// validateSharding checks Distributed and ZooKeeperPath against Cluster.
func (c *Config) validateSharding() []error {
	var errs []error
	if c.Distributed && c.Cluster == "" {
		errs = append(errs, errors.New("clickhouse: distributed needs cluster: the Distributed table and its local tables are created ON CLUSTER <cluster>, whose remote_servers entry lists the shards"))
	}
	if c.ZooKeeperPath == "" {
		return errs
	}
	if c.Cluster == "" {
		errs = append(errs, fmt.Errorf("clickhouse: zookeeper_path %q needs cluster: without it the tables are not replicated", c.ZooKeeperPath))
	}
	if !strings.HasPrefix(c.ZooKeeperPath, "/") || strings.ContainsAny(c.ZooKeeperPath, "'\\ ") {
		errs = append(errs, fmt.Errorf("clickhouse: zookeeper_path %q: want an absolute ZooKeeper path without quotes, backslashes or spaces", c.ZooKeeperPath))
	}
	macros := zooKeeperMacro.FindAllString(c.ZooKeeperPath, -1)
	if !slices.Contains(macros, "{database}") || !slices.Contains(macros, "{table}") {
		errs = append(errs, fmt.Errorf("clickhouse: zookeeper_path %q: must hold {database} and {table}, or two tables would share one replication log", c.ZooKeeperPath))
	}
	if c.Distributed && !slices.ContainsFunc(macros, func(m string) bool {
		return m != "{database}" && m != "{table}" && m != "{replica}"
	}) {
		errs = append(errs, fmt.Errorf("clickhouse: zookeeper_path %q: distributed needs a server macro that differs between shards (such as {shard}), or every shard would replicate one table", c.ZooKeeperPath))
	}
	return errs
}

// zooKeeperPath is ZooKeeperPath or its default.
func (c *Config) zooKeeperPath() string {
	if c.ZooKeeperPath == "" {
		return DefaultZooKeeperPath
	}
	return c.ZooKeeperPath
}

// addresses is Endpoint followed by Endpoints, schemes dropped, blanks skipped.
func (c *Config) addresses() []string {
	var out []string
	for _, e := range append([]string{c.Endpoint}, c.Endpoints...) {
		e = strings.TrimSpace(e)
		for _, scheme := range []string{"tcp://", "clickhouse://"} {
			e = strings.TrimPrefix(e, scheme)
		}
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// ttlByLevel parses TTL's level names; levels without a positive duration get no TTL rule.
func (c *Config) ttlByLevel() (map[record.Level]time.Duration, error) {
	out := map[record.Level]time.Duration{}
	for name, d := range c.TTL {
		l, err := record.ParseLevel(name)
		if err != nil || l.String() != strings.ToLower(name) {
			return nil, fmt.Errorf("clickhouse: ttl: key %q: want one of debug, info, warn, error, security", name)
		}
		if d < 0 {
			return nil, fmt.Errorf("clickhouse: ttl: %s %s must not be negative", name, d)
		}
		if d > 0 {
			out[l] = d
		}
	}
	return out, nil
}
