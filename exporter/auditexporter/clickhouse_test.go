package auditexporter

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/exporter/auditexporter/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/sharedstore"
)

// TestExporter_WritesThroughTheDurablePathIntoClickHouse runs the exporter with store.backend:
// clickhouse against the real server that scripts/clickhouse/start.sh starts (CLICKHOUSE_ADDR).
func TestExporter_WritesThroughTheDurablePathIntoClickHouse(t *testing.T) {
	addr := os.Getenv("CLICKHOUSE_ADDR")
	if addr == "" {
		require.Empty(t, os.Getenv("CI"), "CLICKHOUSE_ADDR is not set under CI: scripts/clickhouse/start.sh must run first")
		t.Skip("no ClickHouse server: run eval \"$(scripts/clickhouse/start.sh)\" (CI always does)")
	}
	cfg := testConfig(t)
	scfg := sharedstore.DefaultConfig()
	scfg.Backend = sharedstore.BackendClickHouse
	scfg.ClickHouse.Endpoint = addr
	scfg.ClickHouse.Database = fmt.Sprintf("exporter_test_%d", time.Now().UnixNano())
	shared := sharedstore.New(scfg, zap.NewNop())
	require.NoError(t, shared.Start(context.Background(), nil))
	t.Cleanup(func() { _ = shared.Shutdown(context.Background()) })
	e := newAuditExporter(cfg, exportertest.NewNopSettings(metadata.Type))
	require.NoError(t, e.start(context.Background(), extensionsHost{cfg.Store: shared}))
	t.Cleanup(func() { _ = e.shutdown(context.Background()) })
	ld := numbered("ch", 30)
	require.NoError(t, e.consumeLogs(context.Background(), ld))
	// The same request again: a replay must not duplicate.
	require.NoError(t, e.consumeLogs(context.Background(), ld))
	require.Eventually(t, func() bool { return storedCount(e.store.Store()) == 30 }, 20*time.Second, 10*time.Millisecond, "30 records in ClickHouse")
	for id, n := range storedIDs(t, e.store.Store()) {
		assert.Equal(t, 1, n, "%s stored %d times", id, n)
	}
}
