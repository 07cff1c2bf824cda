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
