package auditexporter

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/exporter/auditexporter/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/sharedstore"
	"github.com/otelcol-audit/otelcol-audit/internal/store/clickhousestore/chcluster"
)

// A replica killed with SIGKILL while the exporter writes loses nothing the exporter
// acknowledged. The store's endpoints are replica 1 then replica 2: the driver dials them in
// order, so once replica 1 is gone the writes fail over to replica 2; the batches that met the
// dying connection stay in the WAL and are written there on the exporter's retry. Replica 1,
// restarted, fetches what it missed from replica 2, and rows it had acknowledged before the
// kill but not yet handed on reach replica 2 the same way.
func TestExporter_AClusterReplicaKilledDuringLoadLosesNothingAcknowledged(t *testing.T) {
	cl := chcluster.Get(t)
	r1, r2 := cl.Replicas[0], cl.Replicas[1]
	require.True(t, r1.Running(t), "replica 1 must run before the test")

	db := fmt.Sprintf("exporter_cluster_%d", time.Now().UnixNano())
	scfg := sharedstore.DefaultConfig()
	scfg.Backend = sharedstore.BackendClickHouse
	scfg.ClickHouse.Endpoint = r1.Addr
	scfg.ClickHouse.Endpoints = []string{r2.Addr}
	scfg.ClickHouse.Cluster = cl.Name
	scfg.ClickHouse.Database = db
	scfg.ClickHouse.DialTimeout = time.Second
	scfg.ClickHouse.ReadTimeout = 10 * time.Second
	shared := sharedstore.New(scfg, zap.NewNop())
	require.NoError(t, shared.Start(context.Background(), nil))
	// Cleanups run last first: the store closes, replica 1 is back, then the database goes.
	t.Cleanup(func() { cl.DropDatabase(t, r2, db) })
	r1.RestartAtCleanup(t)
	t.Cleanup(func() { _ = shared.Shutdown(context.Background()) })
	cfg := testConfig(t)
	e := newAuditExporter(cfg, exportertest.NewNopSettings(metadata.Type))
	require.NoError(t, e.start(context.Background(), extensionsHost{cfg.Store: shared}))
	t.Cleanup(func() { _ = e.shutdown(context.Background()) })

	const batches, perBatch, killAfter = 40, 50, 10
	for i := range batches {
		if i == killAfter {
			r1.Kill(t)
		}
		// consumeLogs returning nil is the acknowledgement: the batch is in the WAL.
		require.NoError(t, e.consumeLogs(context.Background(), numbered(fmt.Sprintf("b%02d", i), perBatch)), "batch %d", i)
		time.Sleep(10 * time.Millisecond)
	}
	const total = batches * perBatch
	require.Eventually(t, func() bool { return storedCount(e.store.Store()) == total }, 60*time.Second, 100*time.Millisecond,
		"all %d acknowledged records should be readable through the store, now on replica 2", total)
	distinct := "SELECT uniqExact(id) FROM `" + db + "`.audit_logs"
	n2 := r2.Count(distinct)
	t.Logf("replica 2 holds %d records before replica 1 is back", n2)

	r1.Restart(t)
	assert.Eventually(t, func() bool { return r1.Count(distinct) == total }, 60*time.Second, 200*time.Millisecond,
		"the restarted replica 1 should catch up to all %d records", total)
	assert.Eventually(t, func() bool { return r2.Count(distinct) == total }, 60*time.Second, 200*time.Millisecond,
		"replica 2 should hold all %d records", total)
	st := e.dlqStats()
	t.Logf("DLQ after the outage: %+v", st)
	assert.Zero(t, st.Files, "batches still waiting in the DLQ")
	assert.Zero(t, st.DeadFiles, "batches the DLQ gave up on")
	for id, n := range storedIDs(t, e.store.Store()) {
		assert.Equal(t, 1, n, "%s read %d times", id, n)
	}
}
