package clickhousestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/clickhousestore/chcluster"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// The distributed tests run on the test cluster's second declaration of its two servers,
// audit_shards: two shards of one replica each, whose tables replicate at a path with the
// macro that differs between the servers (chcluster.ShardMacro).

// openShardedStores opens a distributed store on each server, on a new database, and drops
// the database ON CLUSTER when the test ends.
func openShardedStores(t *testing.T) (chcluster.Cluster, string, *Store, *Store) {
	t.Helper()
	cl := chcluster.Get(t)
	db := fmt.Sprintf("audit_shards_%d_%d", os.Getpid(), testDatabases.Add(1))
	t.Cleanup(func() { dropShardedDatabase(t, cl, db) })
	var out []*Store
	for _, r := range cl.Replicas {
		s := openShardedStore(t, cl, r, db)
		require.Equal(t, SchemaLegacy, s.Layout(), "18.16 gets the legacy layout")
		out = append(out, s)
	}
	return cl, db, out[0], out[1]
}

func shardedConfig(cl chcluster.Cluster, r chcluster.Replica, db string) Config {
	cfg := DefaultConfig()
	cfg.Endpoint = r.Addr
	cfg.Database = db
	cfg.Cluster = cl.ShardsName
	cfg.Distributed = true
	cfg.ZooKeeperPath = "/clickhouse/tables/" + chcluster.ShardMacro + "/{database}.{table}"
	return cfg
}

func openShardedStore(t *testing.T, cl chcluster.Cluster, r chcluster.Replica, db string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, err := Open(ctx, shardedConfig(cl, r, db))
	require.NoError(t, err, "Open on server %s", r.Addr)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func dropShardedDatabase(t *testing.T, cl chcluster.Cluster, db string) {
	t.Helper()
	sharded := cl
	sharded.Name = cl.ShardsName
	sharded.DropDatabase(t, cl.Replicas[0], db)
}

// shardOf asks the server which shard (0 or 1) the Distributed table sends a tenant to:
// cityHash64(tenant_id) modulo the two shards' weights.
func shardOf(t *testing.T, s *Store, tenant string) int {
	t.Helper()
	var n uint64
	require.NoError(t, s.conn.QueryRow(context.Background(), "SELECT toUInt64(cityHash64("+quoteString(tenant)+") % 2)").Scan(&n))
	return int(n)
}

// localCount counts a tenant's rows in one server's own local logs table, not through the
// Distributed one.
func localCount(r chcluster.Replica, db, tenant string) int {
	return r.Count("SELECT count() FROM `" + db + "`.`" + DefaultTable + localSuffix + "` WHERE tenant_id = " + quoteString(tenant))
}

// shardedTenants returns n tenant names that the hash puts on shard 0 and n on shard 1.
func shardedTenants(t *testing.T, s *Store, n int) (onFirst, onSecond []string) {
	t.Helper()
	for i := 0; len(onFirst) < n || len(onSecond) < n; i++ {
		require.Less(t, i, 1000, "no tenants found for both shards")
		name := fmt.Sprintf("tenant-%02d", i)
		if shardOf(t, s, name) == 0 {
			if len(onFirst) < n {
				onFirst = append(onFirst, name)
			}
		} else if len(onSecond) < n {
			onSecond = append(onSecond, name)
		}
	}
	return onFirst, onSecond
}

func TestDistributed_TenantsLandOnTheirShardAndEveryServerReadsAll(t *testing.T) {
	cl, db, s1, s2 := openShardedStores(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	first, second := shardedTenants(t, s1, 2)
	tenants := append(append([]string{}, first...), second...)
	// Half the tenants are written through each server: where a record goes does not
	// depend on the server that takes it.
	for i, tenant := range tenants {
		w := s1
		if i%2 == 1 {
			w = s2
		}
		res, err := w.Insert(ctx, tenant, clusterRecords(tenant, 20+i, now))
		require.NoError(t, err, "Insert %s", tenant)
		require.Equal(t, 20+i, res, "records %s stored", tenant)
	}

	for i, tenant := range tenants {
		want := 20 + i
		home, other := cl.Replicas[0], cl.Replicas[1]
		if shardOf(t, s1, tenant) == 1 {
			home, other = other, home
		}
		// Synchronous inserts: on the home shard the moment Insert returned.
		assert.Equal(t, want, localCount(home, db, tenant), "%s: rows in its home shard's local table %s", tenant, home.Addr)
		assert.Zero(t, localCount(other, db, tenant), "%s: rows in the other shard's local table %s", tenant, other.Addr)
		for j, s := range []*Store{s1, s2} {
			res, err := s.Query(ctx, store.Filter{TenantID: tenant}, store.Page{Limit: 1000})
			require.NoError(t, err, "Query %s through server %d", tenant, j+1)
			assert.Len(t, res.Records, want, "%s: records read through server %d's Distributed table", tenant, j+1)
		}
		got, err := s2.Get(ctx, tenant, tenant+"-007")
		require.NoError(t, err, "Get %s through server 2", tenant)
		assert.Equal(t, now.Add(7*time.Second), got.Timestamp.UTC(), "%s: the record read back", tenant)
	}
	for _, tenant := range []string{first[0], second[0]} {
		// The chain: links sit on the records' shard; the head, Verify (records, links,
		// checkpoints through the Distributed tables) and Unchained (a subquery on the shard's
		// local links) agree from either server.
		for j, s := range []*Store{s1, s2} {
			head, err := s.ChainHead(ctx, tenant)
			require.NoError(t, err, "ChainHead %s through server %d", tenant, j+1)
			assert.EqualValues(t, len(clusterRecords(tenant, 20+indexOf(tenants, tenant), now)), head.Seq, "%s: chain head through server %d", tenant, j+1)
			rep, err := chain.Verify(ctx, s, nil, tenant, chain.Range{})
			require.NoError(t, err, "Verify %s through server %d", tenant, j+1)
			assert.True(t, rep.OK, "%s: chain verifies through server %d: %+v", tenant, j+1, rep.FirstBroken)
			assert.EqualValues(t, head.Seq, rep.Records, "%s: links checked through server %d", tenant, j+1)
			un, err := s.Unchained(ctx, tenant, 10)
			require.NoError(t, err, "Unchained %s through server %d", tenant, j+1)
			assert.Empty(t, un, "%s: records outside the chain through server %d", tenant, j+1)
		}
	}
	// Every tenant at once (an operator's query), in pages, from either server.
	for j, s := range []*Store{s1, s2} {
		seen := map[string]int{}
		page := store.Page{Limit: 30}
		for {
			res, err := s.Query(ctx, store.Filter{}, page)
			require.NoError(t, err, "Query of every tenant through server %d", j+1)
			for _, r := range res.Records {
				seen[r.ID]++
			}
			if res.NextCursor == "" {
				break
			}
			page.Cursor = res.NextCursor
		}
		assert.Len(t, seen, 20+21+22+23, "records of every tenant through server %d", j+1)
	}
	// Stats of every tenant (the dashboard's totals, histogram and top events) count both
	// shards' records, through either server.
	for j, s := range []*Store{s1, s2} {
		st, err := s.Stats(ctx, store.StatsQuery{Start: now.Add(-time.Hour), End: now.Add(time.Hour)})
		require.NoError(t, err, "Stats through server %d", j+1)
		assert.EqualValues(t, 20+21+22+23, st.Total, "Stats total through server %d", j+1)
		var inBuckets int64
		for _, b := range st.Histogram {
			inBuckets += b.Count
		}
		assert.EqualValues(t, st.Total, inBuckets, "histogram through server %d", j+1)
		require.NotEmpty(t, st.TopEvents, "top events through server %d", j+1)
		assert.EqualValues(t, st.Total, st.TopEvents[0].Count, "the one event's count through server %d", j+1)
	}
	// A replay of a batch writes nothing (the id check reads the Distributed table).
	res, err := s2.Insert(ctx, first[0], clusterRecords(first[0], 20, now))
	require.NoError(t, err, "replay")
	assert.Zero(t, res, "a replayed batch stores nothing")
	// The insertion log (a fleet's live tail) lists every shard's writes, from either server.
	for j, s := range []*Store{s1, s2} {
		var n int
		pos := store.Position{At: now.Add(-time.Minute)}
		for {
			page, err := s.InsertedAfter(ctx, pos, 1000)
			require.NoError(t, err, "InsertedAfter through server %d", j+1)
			if len(page) == 0 {
				break
			}
			n += len(page)
			pos = store.PositionOf(page[len(page)-1])
		}
		assert.Equal(t, 20+21+22+23, n, "insertions listed through server %d", j+1)
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// Retention acts on the local tables of every shard: whole expired months are dropped on
// both, records expired inside a month that stays are deleted on both, and Prune returns
// once no shard serves them.
func TestDistributed_RetentionActsOnEveryShard(t *testing.T) {
	cl, db, s1, s2 := openShardedStores(t)
	ctx := context.Background()
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	first, second := shardedTenants(t, s1, 1)
	for _, tenant := range []string{first[0], second[0]} {
		_, err := s1.Insert(ctx, tenant, clusterRecords(tenant+"-jan", 10, time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)))
		require.NoError(t, err)
		stale := clusterRecords(tenant+"-stale", 10, now.Add(-5*time.Hour))
		for i := range stale {
			stale[i].Level = record.LevelDebug
		}
		_, err = s1.Insert(ctx, tenant, stale)
		require.NoError(t, err)
		_, err = s1.Insert(ctx, tenant, clusterRecords(tenant+"-fresh", 5, now.Add(-10*time.Minute)))
		require.NoError(t, err)
	}
	for i, r := range cl.Replicas {
		require.Equal(t, 25, r.Count("SELECT count() FROM `"+db+"`.`"+DefaultTable+localSuffix+"`"), "server %d's local rows before the prune", i+1)
	}

	pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	policy := store.RetentionPolicy{ByLevel: map[record.Level]time.Duration{record.LevelDebug: time.Hour}, Default: 90 * 24 * time.Hour}
	res, err := s2.Prune(pctx, policy, now)
	require.NoError(t, err, "Prune on the shards")
	assert.EqualValues(t, 40, res.Total, "records Prune reports removed (10 of January and 10 stale debug per shard)")
	for i, r := range cl.Replicas {
		local := "`" + db + "`.`" + DefaultTable + localSuffix + "`"
		assert.Equal(t, 5, r.Count("SELECT count() FROM "+local), "server %d keeps only the fresh records in its local table", i+1)
		assert.Zero(t, r.Count("SELECT count() FROM system.parts WHERE database = "+quoteString(db)+
			" AND table = "+quoteString(DefaultTable+localSuffix)+" AND active AND partition_id = '202501'"),
			"server %d keeps the partition of January 2025", i+1)
	}
	for j, s := range []*Store{s1, s2} {
		for _, tenant := range []string{first[0], second[0]} {
			res, err := s.Query(ctx, store.Filter{TenantID: tenant}, store.Page{Limit: 100})
			require.NoError(t, err)
			assert.Len(t, res.Records, 5, "%s through server %d after the prune", tenant, j+1)
		}
	}
}

// With a shard down, inserts that shard would take fail with an error the exporter retries
// (not ErrInvalidRecord), nothing of a failed batch is half stored, and once the shard is
// back the same batch is stored exactly once.
func TestDistributed_AShardDownFailsItsInsertsUntilItIsBack(t *testing.T) {
	cl, db, s1, _ := openShardedStores(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	first, second := shardedTenants(t, s1, 1)
	before := clusterRecords(second[0]+"-before", 10, now)
	_, err := s1.Insert(ctx, second[0], before)
	require.NoError(t, err)

	down := cl.Replicas[1] // shard 2 (s2), home of second[0]; s1 is connected to shard 1
	down.RestartAtCleanup(t)
	down.Kill(t)
	// A collector starting now must start (its WAL takes the records meanwhile): Open
	// returns the store although reading the schema through the Distributed table fails.
	ctxOpen, cancelOpen := context.WithTimeout(ctx, 30*time.Second)
	late, err := Open(ctxOpen, shardedConfig(cl, cl.Replicas[0], db))
	cancelOpen()
	require.NoError(t, err, "Open with shard 2 down")
	t.Cleanup(func() { _ = late.Close() })
	// The health check (the collector's readiness) says so, though server 1 answers pings.
	assert.Eventually(t, func() bool { return errors.Is(s1.CheckHealth(ctx), store.ErrUnavailable) }, 30*time.Second, 100*time.Millisecond,
		"CheckHealth should report the store unavailable while shard 2 is down")
	batch := clusterRecords(second[0]+"-during", 10, now.Add(time.Minute))
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = s1.Insert(ictx, second[0], batch)
	cancel()
	require.Error(t, err, "an insert for a tenant of the shard that is down")
	assert.False(t, errors.Is(err, store.ErrInvalidRecord), "the failure must be retryable, not a bad record: %v", err)
	t.Logf("insert with shard 2 down: %v", err)
	// 18.16's synchronous Distributed insert connects to every shard first, so a tenant of the
	// shard that is up fails too (README "Several shards"); nothing of it may be stored.
	_, errUp := s1.Insert(ctx, first[0], clusterRecords(first[0]+"-during", 5, now))
	if errUp != nil {
		assert.Zero(t, localCount(cl.Replicas[0], db, first[0]), "a failed insert must store nothing on the shard that is up")
	}
	t.Logf("insert for a tenant of the shard that is up: %v", errUp)

	down.Restart(t)
	// The exporter's retry: the same batch, until the shard answers.
	require.Eventually(t, func() bool {
		_, err := s1.Insert(ctx, second[0], batch)
		return err == nil
	}, 90*time.Second, 500*time.Millisecond, "the batch should be stored once shard 2 is back")
	_, err = s1.Insert(ctx, second[0], batch)
	require.NoError(t, err, "a second retry")
	assert.NoError(t, s1.CheckHealth(ctx), "CheckHealth once shard 2 is back")
	assert.Equal(t, 20, localCount(down, db, second[0]), "shard 2 holds the records from before and the retried batch, each once")
	res, err := s1.Query(ctx, store.Filter{TenantID: second[0]}, store.Page{Limit: 100})
	require.NoError(t, err)
	assert.Len(t, res.Records, 20, "records read through the Distributed table")
	rep, err := chain.Verify(ctx, s1, nil, second[0], chain.Range{})
	require.NoError(t, err)
	assert.True(t, rep.OK, "chain after the outage: %+v", rep.FirstBroken)
	// The store opened during the outage connects once the shard is back.
	res, err = late.Query(ctx, store.Filter{TenantID: second[0]}, store.Page{Limit: 100})
	require.NoError(t, err, "Query through the store opened while shard 2 was down")
	assert.Len(t, res.Records, 20, "records read through the store opened during the outage")
}

// A table a one-shard store made keeps its engine: a distributed store refuses it at Open
// instead of writing to one shard under a Distributed name that is not there.
func TestDistributed_OpenRefusesATableMadeWithoutDistributed(t *testing.T) {
	cl := chcluster.Get(t)
	db := fmt.Sprintf("audit_shards_%d_%d", os.Getpid(), testDatabases.Add(1))
	t.Cleanup(func() { dropShardedDatabase(t, cl, db) })
	cfg := shardedConfig(cl, cl.Replicas[0], db)
	cfg.Distributed = false
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg)
	require.NoError(t, err, "Open without distributed")
	require.NoError(t, s.Close())
	cfg.Distributed = true
	_, err = Open(ctx, cfg)
	require.Error(t, err, "Open with distributed on a table made without it")
	assert.Contains(t, err.Error(), "not Distributed", "the error should say what is wrong")
}

// With a replication path that is the same on both servers ({shard} is 01 on both: their
// shard in the one-shard cluster), the "shards" would be replicas of one table and every read
// through the Distributed table would count each record twice. Open refuses it.
func TestDistributed_OpenRefusesAZooKeeperPathTheShardsShare(t *testing.T) {
	cl := chcluster.Get(t)
	db := fmt.Sprintf("audit_shards_%d_%d", os.Getpid(), testDatabases.Add(1))
	t.Cleanup(func() { dropShardedDatabase(t, cl, db) })
	cfg := shardedConfig(cl, cl.Replicas[0], db)
	cfg.ZooKeeperPath = "/clickhouse/tables/{shard}/{database}.{table}"
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, err := Open(ctx, cfg)
	require.Error(t, err, "Open with a zookeeper_path the two shards share")
	assert.Contains(t, err.Error(), "needs a macro whose value differs between shards", "the error should say what is wrong")
}

// The store contract through the Distributed tables: every query, Stats, search, Trace and
// Prune of storetest.Run, with the tenants of its fixtures spread over both shards. Each
// store gets a table of its own in one database (a database per store would add its ON
// CLUSTER DDL round to each of the suite's stores).
func TestDistributed_PassesTheStoreContract(t *testing.T) {
	cl := chcluster.Get(t)
	db := fmt.Sprintf("audit_shards_%d_%d", os.Getpid(), testDatabases.Add(1))
	t.Cleanup(func() { dropShardedDatabase(t, cl, db) })
	var tables int
	storetest.Run(t, func(t *testing.T) store.Store {
		tables++
		cfg := shardedConfig(cl, cl.Replicas[tables%2], db)
		cfg.Table = fmt.Sprintf("contract_%d", tables)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		s, err := Open(ctx, cfg)
		require.NoError(t, err, "Open")
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// The store's answer to a connection of the server's that is out of step with another shard
// (peerreset.go): the server drops its pooled connections to the other servers, and reads
// through the Distributed table work on new ones. The pooled connections are counted where
// they end, in shard 2's TCPConnection metric (the counting connection is one of them, before
// and after).
func TestDistributed_AnOutOfStepPeerMakesTheServerReplaceItsConnections(t *testing.T) {
	cl, _, s1, _ := openShardedStores(t)
	ctx := context.Background()
	peer := cl.Replicas[1]
	connections := func() int {
		return peer.Count("SELECT toUInt64(value) FROM system.metrics WHERE metric = 'TCPConnection'")
	}
	_, err := s1.Query(ctx, store.Filter{}, store.Page{Limit: 10})
	require.NoError(t, err, "a read through the Distributed table, which pools connections to shard 2")
	before := connections()
	require.GreaterOrEqual(t, before, 2, "server 1 should hold a connection to shard 2 besides the counting one")

	p, ok := s1.conn.(*peerResettingConn)
	require.True(t, ok, "a store on a cluster resets out-of-step peers")
	err = p.check(outOfStep)
	require.ErrorIs(t, err, outOfStep)
	assert.Contains(t, err.Error(), "the store made it reconnect", "the reload should succeed: %v", err)
	assert.Eventually(t, func() bool { return connections() < before }, 10*time.Second, 100*time.Millisecond,
		"server 1's pooled connections to shard 2 should be closed (%d before)", before)

	_, err = s1.Query(ctx, store.Filter{}, store.Page{Limit: 10})
	require.NoError(t, err, "a read through the Distributed table after the reset")
	assert.NoError(t, s1.CheckHealth(ctx), "CheckHealth after the reset")
}
