package clickhousestore

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// serverAddr is the native address of the test server (scripts/clickhouse/start.sh prints it).
// Without it the tests that need a server skip, except under CI, where a missing server is a
// broken pipeline, not a reason to pass.
func serverAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("CLICKHOUSE_ADDR")
	if addr == "" {
		if os.Getenv("CI") != "" {
			require.FailNow(t, "CLICKHOUSE_ADDR is not set under CI: run scripts/clickhouse/start.sh and export what it prints")
		}
		t.Skip("CLICKHOUSE_ADDR is not set (under CI this fails instead); run eval \"$(scripts/clickhouse/start.sh)\" to test against a real server")
	}
	return addr
}

var testDatabases atomic.Int64

// openTestStore opens a store on a database of its own, dropped when the test ends.
func openTestStore(t testing.TB, mutate func(*Config)) *Store {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Endpoint = serverAddr(t)
	cfg.Database = fmt.Sprintf("audit_test_%d_%d", os.Getpid(), testDatabases.Add(1))
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, cfg)
	require.NoError(t, err, "Open")
	require.NotEmpty(t, s.Layout(), "Open returned without reaching the server at %s", cfg.Endpoint)
	t.Cleanup(func() {
		_ = s.Close()
		dropDatabase(t, cfg)
	})
	return s
}

// dropDatabase removes a test database through a connection of its own: the test may have
// closed its store already.
func dropDatabase(t testing.TB, cfg Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts, err := cfg.options(ctx)
	if err == nil {
		var conn driver.Conn
		if conn, err = clickhouse.Open(opts); err == nil {
			defer conn.Close()
			err = conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+cfg.Database+"`")
		}
	}
	assert.NoErrorf(t, err, "drop test database %s", cfg.Database)
}

func TestStore_PassesTheStoreContractOnARealServer(t *testing.T) {
	serverAddr(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openTestStore(t, nil) })
}

// The legacy layout on 18.16 lists its insertions: a fleet's live tail follows it.
func TestStore_ListsInsertionsInWriteOrderOnARealServer(t *testing.T) {
	serverAddr(t)
	storetest.RunInsertionLog(t, func(t *testing.T) store.InsertionLog { return openTestStore(t, nil) })
}
