package auditexporter

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/otelcol-audit/otelcol-audit/exporter/auditexporter/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/sharedstore"
	"github.com/otelcol-audit/otelcol-audit/internal/store/clickhousestore/chcluster"
)

// numberedFor is numbered with every record of tenant.
func numberedFor(tenant, prefix string, n int) plog.Logs {
	ld := numbered(prefix, n)
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < lrs.Len(); i++ {
		lrs.At(i).Attributes().PutStr(record.AttrTenantID, tenant)
	}
	return ld
}

// The store on two shards (the test cluster's audit_shards: each server a shard, a Distributed
// table over them, records sharded by tenant): the server of shard 2 is killed with SIGKILL
// while the exporter writes two tenants, one on each shard. The exporter acknowledges every
// batch (its WAL holds them); the store's writes fail while the shard is down (on 18.16 those
// of both tenants, see the clickhousestore README), the batches wait in the DLQ, and once the
// shard is back every acknowledged record is stored exactly once, on its tenant's shard.
func TestExporter_AShardDownLosesNothingAcknowledged(t *testing.T) {
	cl := chcluster.Get(t)
	s1, s2 := cl.Replicas[0], cl.Replicas[1]
	require.True(t, s2.Running(t), "server 2 must run before the test")

	db := fmt.Sprintf("exporter_shards_%d", time.Now().UnixNano())
	scfg := sharedstore.DefaultConfig()
	scfg.Backend = sharedstore.BackendClickHouse
	scfg.ClickHouse.Endpoint = s1.Addr
	scfg.ClickHouse.Cluster = cl.ShardsName
	scfg.ClickHouse.Distributed = true
	scfg.ClickHouse.ZooKeeperPath = "/clickhouse/tables/" + chcluster.ShardMacro + "/{database}.{table}"
	scfg.ClickHouse.Database = db
	scfg.ClickHouse.DialTimeout = time.Second
	scfg.ClickHouse.ReadTimeout = 10 * time.Second
	shared := sharedstore.New(scfg, zap.NewNop())
	require.NoError(t, shared.Start(context.Background(), nil))
	// Cleanups run last first: the store closes, server 2 is back, then the database goes.
	sharded := cl
	sharded.Name = cl.ShardsName
	t.Cleanup(func() { sharded.DropDatabase(t, s1, db) })
	s2.RestartAtCleanup(t)
	t.Cleanup(func() { _ = shared.Shutdown(context.Background()) })
	cfg := testConfig(t)
	// Failed inserts reach the DLQ quickly and are retried from it often: the outage lasts
	// seconds here.
	cfg.RetryOnFailure.InitialInterval = 50 * time.Millisecond
	cfg.RetryOnFailure.MaxInterval = 200 * time.Millisecond
	cfg.RetryOnFailure.MaxElapsedTime = time.Second
	cfg.DLQ.ScanInterval = 250 * time.Millisecond
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zaptest.NewLogger(t)
	e := newAuditExporter(cfg, set)
	require.NoError(t, e.start(context.Background(), extensionsHost{cfg.Store: shared}))
	t.Cleanup(func() { _ = e.shutdown(context.Background()) })

	// Two tenants, one on each shard (cityHash64(tenant_id) % 2, asked of the server).
	var tenants [2]string
	for i := 0; tenants[0] == "" || tenants[1] == ""; i++ {
		require.Less(t, i, 1000, "no tenants found for both shards")
		name := fmt.Sprintf("tenant-%02d", i)
		shard := s1.Count("SELECT toUInt64(cityHash64('" + name + "') % 2)")
		require.True(t, shard == 0 || shard == 1, "shard of %s", name)
		if tenants[shard] == "" {
			tenants[shard] = name
		}
	}

	const batches, perBatch, killAfter = 20, 25, 6
	for i := range batches {
		if i == killAfter {
			s2.Kill(t)
		}
		for _, tenant := range tenants {
			// consumeLogs returning nil is the acknowledgement: the batch is in the WAL.
			require.NoError(t, e.consumeLogs(context.Background(), numberedFor(tenant, fmt.Sprintf("%s-b%02d", tenant, i), perBatch)),
				"batch %d of %s", i, tenant)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// While shard 2 is down the store cannot take the batches for it: some wait in the DLQ.
	require.Eventually(t, func() bool { return e.dlqStats().Files > 0 }, 30*time.Second, 50*time.Millisecond,
		"batches should wait in the DLQ while shard 2 is down")

	s2.Restart(t)
	const total = 2 * batches * perBatch
	require.Eventually(t, func() bool { return storedCount(e.store.Store()) == total }, 90*time.Second, 200*time.Millisecond,
		"all %d acknowledged records should be readable through the Distributed table once shard 2 is back", total)
	local := "SELECT count() FROM `" + db + "`.audit_logs_local WHERE tenant_id = "
	for shard, r := range []chcluster.Replica{s1, s2} {
		assert.Equal(t, batches*perBatch, r.Count(local+"'"+tenants[shard]+"'"), "shard %d holds every record of %s", shard+1, tenants[shard])
		assert.Zero(t, r.Count(local+"'"+tenants[1-shard]+"'"), "shard %d holds records of %s", shard+1, tenants[1-shard])
	}
	assert.Eventually(t, func() bool { st := e.dlqStats(); return st.Files == 0 && st.DeadFiles == 0 }, 30*time.Second, 100*time.Millisecond,
		"the DLQ should be empty once every batch is stored")
	for id, n := range storedIDs(t, e.store.Store()) {
		assert.Equal(t, 1, n, "%s read %d times", id, n)
	}
}
