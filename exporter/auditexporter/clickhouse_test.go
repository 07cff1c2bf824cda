package auditexporter

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestExporter_WritesThroughTheDurablePathIntoClickHouse runs the exporter with store.backend:
// clickhouse against the real server that scripts/clickhouse/start.sh starts (CLICKHOUSE_ADDR).
func TestExporter_WritesThroughTheDurablePathIntoClickHouse(t *testing.T) {
	addr := os.Getenv("CLICKHOUSE_ADDR")
	if addr == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CLICKHOUSE_ADDR is not set under CI: scripts/clickhouse/start.sh must run first")
		}
		t.Skip("no ClickHouse server: run eval \"$(scripts/clickhouse/start.sh)\" (CI always does)")
	}
	cfg := testConfig(t)
	cfg.Store.Backend = backendClickHouse
	cfg.Store.ClickHouse.Endpoint = addr
	cfg.Store.ClickHouse.Database = fmt.Sprintf("exporter_test_%d", time.Now().UnixNano())
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e := newTestExporter(t, cfg, nil)
	ld := numbered("ch", 30)
	if err := e.consumeLogs(context.Background(), ld); err != nil {
		t.Fatal(err)
	}
	// The same request again: a replay must not duplicate.
	if err := e.consumeLogs(context.Background(), ld); err != nil {
		t.Fatal(err)
	}
	eventually(t, "30 records in ClickHouse", func() bool { return len(storedIDs(t, e.store)) == 30 })
	for id, n := range storedIDs(t, e.store) {
		if n != 1 {
			t.Errorf("%s stored %d times", id, n)
		}
	}
}
