//go:build chdb

package clickhousestore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// These tests run with `go test -tags chdb` and CHDB_LIB_PATH naming libchdb.so (make test
// sets both; scripts/clickhouse/install-chdb.sh installs the library). chdb-go loads the
// library when the test binary starts, so a missing one fails the run rather than skipping.

// openCHDBStore opens a store with the default (auto) layout on a database of its own in the
// process's chDB engine, dropped when the test ends.
func openCHDBStore(t testing.TB, mutate func(*Config)) *Store {
	t.Helper()
	sess, err := sharedCHDB()
	require.NoError(t, err, "chDB engine")
	cfg := DefaultConfig()
	cfg.Endpoint = "chdb.invalid:9000" // never dialled: the store talks to the engine through conn
	cfg.Database = fmt.Sprintf("audit_chdb_%d_%d", os.Getpid(), testDatabases.Add(1))
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := openConn(ctx, cfg, &chdbConn{s: sess})
	require.NoError(t, err, "Open on chDB")
	if cfg.Schema == SchemaAuto {
		require.Equal(t, "modern", s.Layout(), "chDB engine %s must get the modern layout", s.ServerVersion())
	}
	t.Cleanup(func() {
		_ = s.Close()
		_, err := sess.exec("DROP DATABASE IF EXISTS `" + cfg.Database + "`")
		assert.NoErrorf(t, err, "drop test database %s", cfg.Database)
	})
	return s
}

func TestStore_ModernLayoutPassesTheStoreContractOnChDB(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openCHDBStore(t, nil) })
}

func TestStore_ModernLayoutKeepsATamperEvidentChainOnChDB(t *testing.T) {
	storetest.RunChain(t, func(t *testing.T) store.ChainStore { return openCHDBStore(t, nil) }, chTamper{})
}

// A legacy table outlives a server upgrade (the layout is recorded with the table), so the
// legacy layout must work on a current engine too.
func TestStore_LegacyLayoutPassesTheStoreContractOnChDB(t *testing.T) {
	legacy := func(c *Config) { c.Schema = SchemaLegacy }
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openCHDBStore(t, legacy)
		require.Equal(t, "legacy", s.Layout())
		return s
	})
	storetest.RunChain(t, func(t *testing.T) store.ChainStore { return openCHDBStore(t, legacy) }, chTamper{})
}

// The engine is a current ClickHouse, so the suites above test the modern layout, not the
// legacy one a fallback would pick.
func TestCHDB_EngineIsACurrentClickHouse(t *testing.T) {
	s := openCHDBStore(t, nil)
	v, err := parseServerVersion(s.ServerVersion())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, v.major, 26, "chDB engine %s", s.ServerVersion())
	t.Logf("chDB engine %s, layout %s", s.ServerVersion(), s.Layout())
}

// The contract suites read records back through attributes_json and Int64 nanoseconds; this
// reads the otel_logs columns themselves, both as the engine sees what the driver encoded
// (map lookups, type names, nanoseconds) and through the driver's Map, DateTime64 and
// LowCardinality decoders.
func TestCHDB_ModernColumnsHoldWhatTheDriverEncoded(t *testing.T) {
	s := openCHDBStore(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ts := time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.UTC)
	rec := storetest.FullRecord("otel-1", "acme", ts)
	n, err := s.Insert(ctx, "acme", []record.Record{rec})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	d := dialectOf(t, s)

	var (
		tsType, attrsType, sevType string
		nanos, observedNanos       int64
		count, policy, host        string
	)
	require.NoError(t, s.conn.QueryRow(ctx, "SELECT toTypeName(Timestamp), toTypeName(LogAttributes), toTypeName(SeverityText), "+
		"toUnixTimestamp64Nano(Timestamp), toUnixTimestamp64Nano(ObservedTimestamp), "+
		"LogAttributes['share.count'], LogAttributes['share.policy'], ResourceAttributes['host.name'] FROM "+d.logs()).
		Scan(&tsType, &attrsType, &sevType, &nanos, &observedNanos, &count, &policy, &host))
	assert.Equal(t, "DateTime64(9)", tsType)
	assert.Equal(t, "Map(LowCardinality(String), String)", attrsType)
	assert.Equal(t, "LowCardinality(String)", sevType)
	assert.Equal(t, ts.UnixNano(), nanos, "Timestamp in the engine")
	assert.Equal(t, rec.ObservedTimestamp.UnixNano(), observedNanos, "ObservedTimestamp in the engine")
	assert.Equal(t, "3", count, "LogAttributes['share.count']: non-strings are stored as their JSON")
	assert.JSONEq(t, `{"name":"external","rules":["no-download",2,false,1.5]}`, policy, "LogAttributes['share.policy']")
	assert.Equal(t, "web-1", host, "ResourceAttributes['host.name']")

	var (
		gotTS, gotObserved    time.Time
		severity, service     string
		tenant                string
		gotAttrs, gotResource map[string]string
	)
	require.NoError(t, s.conn.QueryRow(ctx, "SELECT Timestamp, ObservedTimestamp, SeverityText, ServiceName, tenant_id, LogAttributes, ResourceAttributes FROM "+d.logs()).
		Scan(&gotTS, &gotObserved, &severity, &service, &tenant, &gotAttrs, &gotResource))
	assert.True(t, ts.Equal(gotTS), "Timestamp decoded: %s, want %s", gotTS.Format(time.RFC3339Nano), ts.Format(time.RFC3339Nano))
	assert.True(t, rec.ObservedTimestamp.Equal(gotObserved), "ObservedTimestamp decoded: %s", gotObserved.Format(time.RFC3339Nano))
	assert.Equal(t, []string{"WARN", "documents", "acme"}, []string{severity, service, tenant})
	assert.Equal(t, logAttributes(&rec, "acme"), gotAttrs, "LogAttributes decoded: the attributes and the audit fields")
	assert.Equal(t, flatten(rec.Resource), gotResource, "ResourceAttributes decoded")

	// The engine answered with those types, not converted ones, so the values above came
	// through the driver's decoders of these very types.
	blocks, err := s.conn.(*chdbConn).s.queryBlocks("SELECT Timestamp, SeverityText, LogAttributes FROM " + d.logs())
	require.NoError(t, err)
	require.NotEmpty(t, blocks)
	var types []string
	for _, c := range blocks[0].Columns {
		types = append(types, string(c.Type()))
	}
	assert.Equal(t, []string{"DateTime64(9)", "LowCardinality(String)", "Map(LowCardinality(String), String)"}, types, "column types of the Native answer")
}

// TestMain closes the chDB engine before the process exits: left open, its background threads
// outlive Go's exit under the race detector and the binary ends in a segmentation fault after
// the tests passed.
func TestMain(m *testing.M) {
	code := m.Run()
	closeCHDB()
	os.Exit(code)
}

// The modern layout's documented range, 1900-01-01 to 2262-04-11, through the driver's
// DateTime64(9) encoder (negative ticks before 1970) and back, with a query over a time range.
func TestCHDB_TimestampsAtTheEdgesOfTheModernRangeRoundTrip(t *testing.T) {
	s := openCHDBStore(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	edges := map[string]time.Time{
		"min":        modernMinTime,
		"pre-1970":   time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		"epoch+1ns":  time.Unix(0, 1).UTC(),
		"max":        modernMaxTime,
		"before-max": modernMaxTime.Add(-time.Nanosecond),
	}
	var recs []record.Record
	for id, ts := range edges {
		recs = append(recs, record.Record{ID: id, Timestamp: ts, ObservedTimestamp: ts, Level: record.LevelInfo, Tags: []string{}})
	}
	n, err := s.Insert(ctx, "acme", recs)
	require.NoError(t, err)
	require.Equal(t, len(edges), n)
	for id, ts := range edges {
		got, err := s.Get(ctx, "acme", id)
		if assert.NoError(t, err, "Get %s", id) {
			assert.True(t, ts.Equal(got.Timestamp), "%s: Timestamp %s, want %s", id, got.Timestamp.Format(time.RFC3339Nano), ts.Format(time.RFC3339Nano))
			assert.True(t, ts.Equal(got.ObservedTimestamp), "%s: ObservedTimestamp %s", id, got.ObservedTimestamp.Format(time.RFC3339Nano))
		}
	}
	res, err := s.Query(ctx, store.Filter{Start: modernMinTime, End: time.Unix(0, 0)}, store.Page{Limit: 10})
	require.NoError(t, err)
	var ids []string
	for _, r := range res.Records {
		ids = append(ids, r.ID)
	}
	assert.Equal(t, []string{"pre-1970", "min"}, ids, "records before 1970, newest first")
}

// Large answers come in several Native blocks; the conn must read them all, in order.
func TestCHDB_AnswersOfSeveralBlocksAreReadInOrder(t *testing.T) {
	sess, err := sharedCHDB()
	require.NoError(t, err)
	c := &chdbConn{s: sess}
	const q = "SELECT number, toString(number) FROM numbers(10) SETTINGS max_block_size = 3"
	blocks, err := sess.queryBlocks(q)
	require.NoError(t, err)
	assert.Len(t, blocks, 4, "blocks of at most 3 rows")
	rs, err := c.Query(context.Background(), q)
	require.NoError(t, err)
	defer rs.Close()
	var got []string
	for rs.Next() {
		var n uint64
		var s string
		require.NoError(t, rs.Scan(&n, &s))
		assert.Equal(t, fmt.Sprint(n), s)
		got = append(got, s)
	}
	require.NoError(t, rs.Err())
	assert.Equal(t, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, got)
	var missing uint64
	assert.ErrorIs(t, c.QueryRow(context.Background(), "SELECT number FROM numbers(0)").Scan(&missing), sql.ErrNoRows, "QueryRow of no rows")
	var ex *clickhouse.Exception
	if assert.ErrorAs(t, c.Exec(context.Background(), "SELECT * FROM system.no_such_table"), &ex, "an engine error is the driver's Exception") {
		assert.Equal(t, int32(60), ex.Code, "UNKNOWN_TABLE")
	}
}

func TestStore_BothLayoutsListInsertionsInWriteOrderOnChDB(t *testing.T) {
	t.Run("modern", func(t *testing.T) {
		storetest.RunInsertionLog(t, func(t *testing.T) store.InsertionLog { return openCHDBStore(t, nil) })
	})
	t.Run("legacy", func(t *testing.T) {
		storetest.RunInsertionLog(t, func(t *testing.T) store.InsertionLog {
			return openCHDBStore(t, func(c *Config) { c.Schema = SchemaLegacy })
		})
	})
}

func TestCHDB_BatchesLargerThanABlockWriteEveryRowOnce(t *testing.T) {
	checkInsertInBlocks(t, openCHDBStore(t, nil))
}

func TestCHDB_ARecordThatCannotBeStoredFailsItsBatchBeforeAnyBlockLeaves(t *testing.T) {
	checkLateInvalidRecord(t, openCHDBStore(t, func(c *Config) { c.Chain = false }))
}

func TestCHDB_AReplayOfManyIdsStoresOnlyTheNewOnes(t *testing.T) {
	checkLargeReplay(t, openCHDBStore(t, nil))
}
