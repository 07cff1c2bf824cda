package clickhousestore

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

func TestServerVersion_ChoosesTheLayout(t *testing.T) {
	tests := []struct {
		name    string
		version string
		schema  string
		want    mode
		wantErr bool
	}{
		{"Debian's 18.16 gets the legacy layout", "18.16.1", SchemaAuto, modeLegacy, false},
		{"21.8 is still legacy", "21.8.15.7", SchemaAuto, modeLegacy, false},
		{"22.1 gets the modern layout", "22.1.3.7", SchemaAuto, modeModern, false},
		{"chDB's 26.7 gets the modern layout", "26.7.2.1", SchemaAuto, modeModern, false},
		{"legacy can be forced on a modern server", "24.3.1", SchemaLegacy, modeLegacy, false},
		{"modern is refused on an old server", "18.16.1", SchemaModern, 0, true},
		{"a version with a suffix still parses", "23.8.2.7-lts", SchemaAuto, modeModern, false},
		{"a version without a minor is an error", "23", SchemaAuto, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := parseServerVersion(tc.version)
			var m mode
			if err == nil {
				m, err = chooseMode(tc.schema, v)
			}
			if tc.wantErr {
				assert.Error(t, err, "layout for %s with schema %s", tc.version, tc.schema)
			} else {
				assert.NoError(t, err, "layout for %s with schema %s", tc.version, tc.schema)
			}
			assert.Equal(t, tc.want, m, "layout for %s with schema %s", tc.version, tc.schema)
		})
	}
}

func TestDDL_FollowsTheLayout(t *testing.T) {
	legacy := dialect{mode: modeLegacy, db: "otel", table: "audit_logs"}
	modern := dialect{mode: modeModern, db: "otel", table: "audit_logs", ttl: map[record.Level]time.Duration{record.LevelDebug: 7 * 24 * time.Hour}}
	modern1 := modern
	modern1.rev = modernRev1
	clustered := modern
	clustered.cluster = "prod"

	tests := []struct {
		name      string
		sql       string
		contains  []string
		forbidden []string
	}{
		{"the legacy table uses only what 18.16 knows", legacy.createLogs(),
			[]string{"Timestamp DateTime,", "TimestampNanos Int64", "ReplacingMergeTree(insert_version)", "ORDER BY (tenant_id, TimestampNanos, id)"},
			[]string{"DateTime64", "Map(", "LowCardinality", "INDEX", "TTL", "CODEC"}},
		{"the modern table has the otel_logs columns, skip indexes and TTL", modern.createLogs(),
			[]string{"Timestamp DateTime64(9)", "ResourceAttributes Map(LowCardinality(String), String)", "LogAttributes Map(", "ScopeAttributes Map(",
				"SeverityText LowCardinality(String)", "TraceFlags UInt8", "INDEX idx_trace_id TraceId TYPE bloom_filter",
				"INDEX idx_search search_text TYPE tokenbf_v1", "PARTITION BY toYYYYMM(Timestamp)", "ORDER BY (tenant_id, Timestamp, id)",
				"TTL toDateTime(Timestamp) + toIntervalSecond(604800) DELETE WHERE level = 1"},
			[]string{"TimestampNanos", "ON CLUSTER"}},
		{"a new modern table has otel_logs' SeverityNumber type and Body index, and the record's severity apart", modern.createLogs(),
			[]string{"SeverityNumber UInt8,", "severity_text LowCardinality(String)", "severity_number Int32",
				"INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8"}, nil},
		{"a revision 1 modern table keeps its layout", modern1.createLogs(),
			[]string{"SeverityNumber Int32,"}, []string{"idx_body", "severity_text", "severity_number"}},
		{"a cluster adds ON CLUSTER and the replicated engine", clustered.createLogs(),
			[]string{"ON CLUSTER `prod`", "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/otel.audit_logs', '{replica}', insert_version)"}, nil},
		{"legacy inserts name every column", legacy.insertSQL(),
			[]string{"INSERT INTO `otel`.`audit_logs` (Timestamp, TimestampNanos, ObservedTimestampNanos, TraceId"}, []string{"VALUES", "LogAttributes"}},
		{"modern inserts fill the maps", modern.insertSQL(), []string{"ResourceAttributes, ScopeName, LogAttributes"}, []string{"TimestampNanos"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range tc.contains {
				assert.Contains(t, tc.sql, s, "missing %q", s)
			}
			for _, s := range tc.forbidden {
				assert.NotContains(t, tc.sql, s, "unexpected %q", s)
			}
		})
	}
	// Insert writes every column reads decode plus search_text and insert_version, and the
	// legacy DateTime or the two modern maps (and, from modern revision 2, the OpenTelemetry
	// severity derived from the level): a column added to one list but not the other shows here.
	for d, extra := range map[*dialect]int{&legacy: 3, &modern1: 4, &modern: 6} {
		n, read := len(d.insertColumns()), len(strings.Split(d.selectColumns(), ","))
		assert.Equal(t, read+extra, n, "%v layout inserts %d columns and reads %d, want %d more", d.mode, n, read, extra)
	}
}

// testdata/modern-rev1-ddl.sql is the DDL the store ran for a new modern table before revision 2
// (createStatements of commit bfab1a0, database otel): revision 1 must still produce it word
// for word, since tables created by it are read and written as revision 1.
func TestDDL_ModernRevision1IsTheDDLFirstShipped(t *testing.T) {
	want, err := os.ReadFile("testdata/modern-rev1-ddl.sql")
	require.NoError(t, err)
	d := dialect{mode: modeModern, rev: modernRev1, db: "otel", table: "audit_logs"}
	assert.Equal(t, string(want), strings.Join(d.createStatements(), ";\n\n")+";\n")
	assert.Equal(t, "modern", d.layoutName(), "the layout name revision 1 recorded")
}

// A distributed store's DDL: each table twice, the shard's Replicated <name>_local at the
// configured path (database and local table name filled in, server macros left), then the
// Distributed <name> over it, keyed by tenant or, for the one-row tables, the first shard.
func TestDDL_DistributedTablesOverLocalOnes(t *testing.T) {
	d := dialect{mode: modeLegacy, db: "otel", table: "audit_logs", cluster: "prod", distributed: true,
		zkPath: "/ch/{cluster_shard}/{database}/{table}"}
	stmts := d.createStatements()
	require.Len(t, stmts, 11, "the database, then five tables twice")
	assert.Equal(t, "CREATE DATABASE IF NOT EXISTS `otel` ON CLUSTER `prod`", stmts[0])
	for i, name := range []string{"audit_logs_schema", "audit_logs", "audit_logs_chain", "audit_logs_checkpoints", "audit_logs_chain_start"} {
		local, dist := stmts[1+2*i], stmts[2+2*i]
		assert.Contains(t, local, "CREATE TABLE IF NOT EXISTS `otel`.`"+name+"_local` ON CLUSTER `prod`", name)
		assert.Contains(t, local, "Replicated", name)
		assert.Contains(t, local, "('/ch/{cluster_shard}/otel/"+name+"_local', '{replica}'", name)
		key := "cityHash64(tenant_id)"
		if name == "audit_logs_schema" || name == "audit_logs_chain_start" {
			key = "0"
		}
		assert.Equal(t, "CREATE TABLE IF NOT EXISTS `otel`.`"+name+"` ON CLUSTER `prod` AS `otel`.`"+name+"_local` ENGINE = Distributed(prod, otel, "+name+"_local, "+key+")", dist, name)
	}
	// Reads and writes name the Distributed table; retention and the system tables the local
	// one, on every shard.
	assert.Equal(t, "INSERT INTO `otel`.`audit_logs` (", d.insertSQL()[:len("INSERT INTO `otel`.`audit_logs` (")])
	assert.Contains(t, d.dropPartitionSQL("202501"), "ALTER TABLE `otel`.`audit_logs_local` ON CLUSTER `prod` DROP PARTITION ID '202501'")
	assert.Contains(t, d.pruneDeleteSQL("level = 1"), "ALTER TABLE `otel`.`audit_logs_local` ON CLUSTER `prod` DELETE WHERE")
	assert.Contains(t, d.partitionsSQL(), "FROM cluster('prod', system.parts)")
	assert.Contains(t, d.partitionsSQL(), "table = 'audit_logs_local'")
	assert.Contains(t, d.pendingMutationsSQL(), "FROM cluster('prod', system.mutations)")
	assert.Contains(t, d.unchainedSQL("acme", 1, 10), "FROM `otel`.`audit_logs_chain_local`")
	// The default path is the one the one-shard cluster always used.
	one := dialect{mode: modeLegacy, db: "otel", table: "audit_logs", cluster: "prod"}
	assert.Contains(t, one.createLogs(), "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/otel.audit_logs', '{replica}', insert_version)")
}
