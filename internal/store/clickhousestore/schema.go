package clickhousestore

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// schemaVersion is the version of the table layout this binary writes and reads. Migrate
// records it in <table>_schema and refuses a table recorded with a newer one.
//
//	1: the logs table
//	2: the tamper-evident chain: <table>_chain, <table>_checkpoints, <table>_chain_start
const schemaVersion = 2

// modernMajor is the first ClickHouse major version given the modern layout: DateTime64(9),
// Map, LowCardinality, skip indexes and TTL ... DELETE WHERE are all there and out of
// experimental flags by 22.1.
const modernMajor = 22

// mode is a table layout.
type mode int

const (
	modeLegacy mode = iota + 1
	modeModern
)

func (m mode) String() string {
	if m == modeModern {
		return SchemaModern
	}
	return SchemaLegacy
}

// Revisions of the modern layout. A table keeps the revision it was created with; the
// revision is part of the layout name recorded in <table>_schema ("modern" is revision 1,
// "modern.2" revision 2), so a binary that does not know a revision refuses the table as an
// unknown layout instead of writing rows it would read back wrong.
//
//	1: as first shipped: SeverityText and SeverityNumber (Int32) hold the record's severity.
//	2: otel_logs' types and Grafana's levels: SeverityNumber is UInt8, SeverityText and
//	   SeverityNumber are derived from the audit level (otelSeverity), the record's own
//	   severity is in severity_text and severity_number, and Body has the idx_body token index.
const (
	modernRev1       = 1
	modernRev2       = 2
	currentModernRev = modernRev2
)

// parseMode reads a recorded layout name: the mode and, for modern, its revision.
func parseMode(s string) (mode, int, bool) {
	switch s {
	case SchemaModern:
		return modeModern, modernRev1, true
	case SchemaModern + ".2":
		return modeModern, modernRev2, true
	case SchemaLegacy:
		return modeLegacy, 0, true
	}
	return 0, 0, false
}

// serverVersion is the leading major.minor of SELECT version(): "18.16.1" or "26.7.2.1".
type serverVersion struct{ major, minor int }

func parseServerVersion(s string) (serverVersion, error) {
	parts := strings.SplitN(strings.TrimSpace(s), ".", 3)
	if len(parts) < 2 {
		return serverVersion{}, fmt.Errorf("server version %q: want major.minor", s)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return serverVersion{}, fmt.Errorf("server version %q: want major.minor", s)
	}
	return serverVersion{major, minor}, nil
}

func (v serverVersion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

// chooseMode decides the layout of a new table: what the config asks for, or by version.
// A modern layout on an old server is refused: its CREATE TABLE would fail anyway, with a
// less helpful message.
func chooseMode(schema string, v serverVersion) (mode, error) {
	supportsModern := v.major >= modernMajor
	switch schema {
	case SchemaLegacy:
		return modeLegacy, nil
	case SchemaModern:
		if !supportsModern {
			return 0, fmt.Errorf("schema modern needs ClickHouse %d or newer; the server is %s (use schema: auto or legacy)", modernMajor, v)
		}
		return modeModern, nil
	}
	if supportsModern {
		return modeModern, nil
	}
	return modeLegacy, nil
}

// dialect renders the SQL of one table layout. Every statement names its table as
// `database`.`table`, so the connection's default database never matters.
type dialect struct {
	mode    mode
	rev     int // modern revision; 0 is currentModernRev
	db      string
	table   string
	cluster string
	// distributed: every table is <name>_local on each shard and a Distributed <name> over
	// them (Config.Distributed); zkPath is Config.ZooKeeperPath, "" for the default.
	distributed bool
	zkPath      string
	ttl         map[record.Level]time.Duration
}

func (d dialect) modern() bool { return d.mode == modeModern }

// modernRev is the revision of a modern table (see modernRev1); 0 on a legacy one.
func (d dialect) modernRev() int {
	switch {
	case !d.modern():
		return 0
	case d.rev == 0:
		return currentModernRev
	}
	return d.rev
}

// layoutName is what <table>_schema records: the mode, and a modern revision after the first.
func (d dialect) layoutName() string {
	if r := d.modernRev(); r > modernRev1 {
		return fmt.Sprintf("%s.%d", SchemaModern, r)
	}
	return d.mode.String()
}

func (d dialect) qualified(table string) string { return "`" + d.db + "`.`" + table + "`" }

func (d dialect) logs() string { return d.qualified(d.table) }

func (d dialect) meta() string { return d.qualified(d.table + "_schema") }

// localSuffix names the per-shard tables under a Distributed table of the same name.
const localSuffix = "_local"

// local is the table that holds the rows of the table reads and writes name: name itself, or
// on a distributed store name_local, the shard's own table. ALTERs, system tables and
// ZooKeeper speak of it.
func (d dialect) local(name string) string {
	if d.distributed {
		return name + localSuffix
	}
	return name
}

// Distributed tables' sharding keys. A tenant's records, links and checkpoints live on one
// shard: its chain has one writer, ReplacingMergeTree deduplicates only within a shard, and
// Unchained compares a tenant's rows with its links shard by shard (unchainedSQL). The
// one-row tables go to the first shard.
const (
	shardByTenant = "cityHash64(tenant_id)"
	firstShard    = "0"
)

// createDistributed is the Distributed table name over its local tables on every shard.
func (d dialect) createDistributed(name, shardingKey string) string {
	return "CREATE TABLE IF NOT EXISTS " + d.qualified(name) + d.onCluster() + " AS " + d.qualified(d.local(name)) +
		" ENGINE = Distributed(" + d.cluster + ", " + d.db + ", " + d.local(name) + ", " + shardingKey + ")"
}

// replicatedArgs is the ZooKeeper path and replica name of a Replicated engine for table.
func (d dialect) replicatedArgs(table string) string {
	path := d.zkPath
	if path == "" {
		path = DefaultZooKeeperPath
	}
	path = strings.NewReplacer("{database}", d.db, "{table}", table).Replace(path)
	return "'" + path + "', '{replica}'"
}

func (d dialect) onCluster() string {
	if d.cluster == "" {
		return ""
	}
	return " ON CLUSTER `" + d.cluster + "`"
}

// engine is ReplacingMergeTree keyed (by ORDER BY) on tenant, time and id, keeping the row
// with the highest insert_version: Insert gives earlier writes higher versions, so when a
// replay slips past Insert's id check, merges and FINAL keep the first write.
func (d dialect) engine(table, args string) string {
	if d.cluster == "" {
		return "ReplacingMergeTree(" + args + ")"
	}
	path := d.replicatedArgs(table)
	if args != "" {
		path += ", " + args
	}
	return "ReplicatedReplacingMergeTree(" + path + ")"
}

// column is one column of the logs table. A type "" means the layout has no such column.
type column struct {
	name         string
	legacy       string
	modern       string
	modernExtras string // CODEC or DEFAULT clause, modern only
	// modernSince is the first modern revision with the column (0: all), modernRev1 its type
	// on revision 1 where that differs.
	modernSince int
	modernRev1  string
}

// columns is the logs table in insert order. The OpenTelemetry columns carry the names of the
// collector-contrib clickhouseexporter's otel_logs, so Grafana's ClickHouse data source reads
// the modern table as OpenTelemetry logs; the audit columns follow the API's field names.
var columns = []column{
	{"Timestamp", "DateTime", "DateTime64(9)", "CODEC(Delta(8), ZSTD(1))", 0, ""},
	// The legacy server's DateTime has whole seconds: the exact instant is this column.
	{"TimestampNanos", "Int64", "", "", 0, ""},
	{"ObservedTimestamp", "", "DateTime64(9)", "CODEC(Delta(8), ZSTD(1))", 0, ""},
	{"ObservedTimestampNanos", "Int64", "", "", 0, ""},
	{"TraceId", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"SpanId", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"SeverityText", "String", "LowCardinality(String)", "CODEC(ZSTD(1))", 0, ""},
	// Modern revision 2: derived from the audit level (otelSeverity), UInt8 as in otel_logs.
	{"SeverityNumber", "Int32", "UInt8", "", 0, "Int32"},
	{"ServiceName", "String", "LowCardinality(String)", "CODEC(ZSTD(1))", 0, ""},
	{"Body", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"ResourceAttributes", "", "Map(LowCardinality(String), String)", "CODEC(ZSTD(1))", 0, ""},
	{"ScopeName", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"LogAttributes", "", "Map(LowCardinality(String), String)", "CODEC(ZSTD(1))", 0, ""},
	{"EventName", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"id", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"tenant_id", "String", "LowCardinality(String)", "", 0, ""},
	{"level", "UInt8", "UInt8", "", 0, ""},
	// The record's own severity, as sent (modern revision 2; before, SeverityText and
	// SeverityNumber held it).
	{"severity_text", "", "LowCardinality(String)", "CODEC(ZSTD(1))", modernRev2, ""},
	{"severity_number", "", "Int32", "", modernRev2, ""},
	{"user_id", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"username", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"company_id", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"employee_id", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"actor_id", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"entity_id", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"entity_type", "String", "LowCardinality(String)", "", 0, ""},
	{"ip_address", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"user_agent", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"geo_country", "String", "LowCardinality(String)", "", 0, ""},
	{"geo_city", "String", "LowCardinality(String)", "", 0, ""},
	{"method", "String", "LowCardinality(String)", "", 0, ""},
	{"path", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"status_code", "Int64", "Int64", "", 0, ""},
	{"duration_ms", "Float64", "Float64", "", 0, ""},
	{"tags", "Array(String)", "Array(String)", "CODEC(ZSTD(1))", 0, ""},
	// Exact JSON of attributes and resource: what reads return (the maps above flatten
	// values to strings for Grafana and lose int64 precision and nesting).
	{"attributes_json", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"resource_json", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	// Lowercased words of event, message and attributes, space separated with a space at
	// each end: what text search matches (see search.go).
	{"search_text", "String", "String", "CODEC(ZSTD(1))", 0, ""},
	{"insert_version", "UInt64", "UInt64", "", 0, ""},
}

// insertColumns lists the columns this layout inserts, in order.
func (d dialect) insertColumns() []string {
	var out []string
	for _, c := range columns {
		if d.columnType(c) != "" {
			out = append(out, c.name)
		}
	}
	return out
}

func (d dialect) columnType(c column) string {
	if !d.modern() {
		return c.legacy
	}
	rev := d.modernRev()
	switch {
	case rev < c.modernSince:
		return ""
	case rev == modernRev1 && c.modernRev1 != "":
		return c.modernRev1
	}
	return c.modern
}

// insertSQL is the statement a native batch is prepared with. The column list is explicit:
// the legacy server's native protocol needs it, and it keeps the OpenTelemetry defaults
// (TraceFlags, ScopeVersion ...) filled by the server.
func (d dialect) insertSQL() string {
	return "INSERT INTO " + d.logs() + " (" + strings.Join(d.insertColumns(), ", ") + ")"
}

// createStatements is Migrate's DDL, in order. Each is idempotent (IF NOT EXISTS), so the
// same list upgrades a version 1 database: only the chain's tables are new.
func (d dialect) createStatements() []string {
	out := []string{"CREATE DATABASE IF NOT EXISTS `" + d.db + "`" + d.onCluster()}
	for _, t := range []struct {
		create, name, shardingKey string
	}{
		{d.createMeta(), d.table + "_schema", firstShard},
		{d.createLogs(), d.table, shardByTenant},
		{d.createChain(), d.table + "_chain", shardByTenant},
		{d.createCheckpoints(), d.table + "_checkpoints", shardByTenant},
		{d.createChainStart(), d.table + "_chain_start", firstShard},
	} {
		out = append(out, t.create)
		if d.distributed {
			out = append(out, d.createDistributed(t.name, t.shardingKey))
		}
	}
	return out
}

func (d dialect) createMeta() string {
	name := d.local(d.table + "_schema")
	return "CREATE TABLE IF NOT EXISTS " + d.qualified(name) + d.onCluster() +
		" (version UInt32, mode String, applied_at DateTime) ENGINE = " + d.engine(name, "") + " ORDER BY version"
}

func (d dialect) createLogs() string {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + d.qualified(d.local(d.table)) + d.onCluster() + " (\n")
	var defs []string
	for _, c := range columns {
		typ := d.columnType(c)
		if typ == "" {
			continue
		}
		def := "    " + c.name + " " + typ
		if d.modern() && c.modernExtras != "" {
			def += " " + c.modernExtras
		}
		defs = append(defs, def)
		if d.modern() && c.name == "Timestamp" {
			// TimestampTime and the OpenTelemetry columns this store leaves at their
			// defaults, as otel_logs has them, so dashboards written for it work unchanged.
			defs = append(defs,
				"    TimestampTime DateTime DEFAULT toDateTime(Timestamp)",
				"    TraceFlags UInt8",
				"    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1))",
				"    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1))",
				"    ScopeVersion LowCardinality(String) CODEC(ZSTD(1))",
				"    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1))",
			)
		}
	}
	if d.modern() {
		defs = append(defs,
			"    INDEX idx_id id TYPE bloom_filter(0.001) GRANULARITY 1",
			"    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1",
			"    INDEX idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 1",
			"    INDEX idx_actor_id actor_id TYPE bloom_filter(0.01) GRANULARITY 1",
			"    INDEX idx_entity_id entity_id TYPE bloom_filter(0.01) GRANULARITY 1",
			"    INDEX idx_ip_address ip_address TYPE bloom_filter(0.01) GRANULARITY 1",
			"    INDEX idx_event EventName TYPE bloom_filter(0.01) GRANULARITY 1",
			"    INDEX idx_search search_text TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 1",
		)
		if d.modernRev() >= modernRev2 {
			// otel_logs' index on Body, which Grafana's log search (hasToken, LIKE) reads.
			defs = append(defs, "    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8")
		}
		defs = append(defs,
			"    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1",
			"    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1",
			"    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1",
			"    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1",
		)
	}
	b.WriteString(strings.Join(defs, ",\n"))
	b.WriteString("\n) ENGINE = " + d.engine(d.local(d.table), "insert_version"))
	if d.modern() {
		b.WriteString("\nPARTITION BY toYYYYMM(Timestamp)\nORDER BY (tenant_id, Timestamp, id)")
		if ttl := d.ttlClause(); ttl != "" {
			b.WriteString("\nTTL " + ttl)
		}
		b.WriteString("\nSETTINGS index_granularity = 8192")
	} else {
		b.WriteString("\nPARTITION BY toYYYYMM(Timestamp)\nORDER BY (tenant_id, TimestampNanos, id)")
	}
	return b.String()
}

// ttlClause is one DELETE rule per level with a TTL, oldest level first.
func (d dialect) ttlClause() string {
	var rules []string
	for _, l := range record.Levels {
		if p, ok := d.ttl[l]; ok && p > 0 {
			rules = append(rules, fmt.Sprintf("toDateTime(Timestamp) + toIntervalSecond(%d) DELETE WHERE level = %d", int64(p/time.Second), l))
		}
	}
	return strings.Join(rules, ", ")
}

// selectColumns are the expressions scanRecord reads, in its order. Timestamps come back as
// Int64 Unix nanoseconds in both layouts.
func (d dialect) selectColumns() string {
	severity := []string{"SeverityText", "SeverityNumber"}
	if d.modernRev() >= modernRev2 {
		severity = []string{"severity_text", "severity_number"}
	}
	cols := []string{"id", "tenant_id", d.tsExpr(), d.observedExpr(), "level", severity[0], severity[1],
		"EventName", "Body", "user_id", "username", "company_id", "employee_id", "actor_id", "entity_id",
		"entity_type", "ip_address", "user_agent", "geo_country", "geo_city", "method", "path", "status_code",
		"duration_ms", "TraceId", "SpanId", "ServiceName", "ScopeName", "tags", "attributes_json", "resource_json"}
	return strings.Join(cols, ", ")
}

// tsExpr is the record timestamp as Int64 Unix nanoseconds.
func (d dialect) tsExpr() string {
	if d.modern() {
		return "toUnixTimestamp64Nano(Timestamp)"
	}
	return "TimestampNanos"
}

func (d dialect) observedExpr() string {
	if d.modern() {
		return "toUnixTimestamp64Nano(ObservedTimestamp)"
	}
	return "ObservedTimestampNanos"
}

// tsColumn is the column the sort key orders by; comparisons against it use the primary key.
func (d dialect) tsColumn() string {
	if d.modern() {
		return "Timestamp"
	}
	return "TimestampNanos"
}

// tsLiteral is a Unix-nanosecond instant typed like tsColumn.
func (d dialect) tsLiteral(nanos int64) string {
	if d.modern() {
		return fmt.Sprintf("fromUnixTimestamp64Nano(toInt64(%d))", nanos)
	}
	return strconv.FormatInt(nanos, 10)
}

// Storable timestamp ranges. Legacy Timestamp is a DateTime (UInt32 seconds since 1970);
// modern is DateTime64(9), from 1900 to 2262-04-11 (Int64 nanoseconds).
var (
	legacyMinTime = time.Unix(0, 0).UTC()
	legacyMaxTime = time.Unix(1<<32-1, 0).UTC()
	modernMinTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	modernMaxTime = time.Unix(0, 1<<63-1).UTC()
)

func (d dialect) timeRange() (time.Time, time.Time) {
	if d.modern() {
		return modernMinTime, modernMaxTime
	}
	return legacyMinTime, legacyMaxTime
}

// levelsSQL renders a set of levels for IN (...), ascending and without repeats.
func levelsSQL(levels []record.Level) string {
	s := slices.Clone(levels)
	slices.Sort(s)
	s = slices.Compact(s)
	parts := make([]string, len(s))
	for i, l := range s {
		parts[i] = strconv.Itoa(int(l))
	}
	return strings.Join(parts, ", ")
}
