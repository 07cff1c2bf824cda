package clickhousestore

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/clickhousestore/chcluster"
)

// openClusterStores opens one store per replica on a new database of the cluster, each
// connected to its own replica only, and drops the database ON CLUSTER when the test ends.
func openClusterStores(t *testing.T) (chcluster.Cluster, string, *Store, *Store) {
	t.Helper()
	cl := chcluster.Get(t)
	db := fmt.Sprintf("audit_cluster_%d_%d", os.Getpid(), testDatabases.Add(1))
	t.Cleanup(func() { cl.DropDatabase(t, cl.Replicas[1], db) })
	var out []*Store
	for _, r := range cl.Replicas {
		s := openClusterStore(t, cl, r, db)
		require.Equal(t, SchemaLegacy, s.Layout(), "18.16 gets the legacy layout")
		out = append(out, s)
	}
	return cl, db, out[0], out[1]
}

// openClusterStore opens a store on replica r alone, closed when the test ends.
func openClusterStore(t *testing.T, cl chcluster.Cluster, r chcluster.Replica, db string) *Store {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Endpoint = r.Addr
	cfg.Database = db
	cfg.Cluster = cl.Name
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg)
	require.NoError(t, err, "Open on replica %s", r.Addr)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func clusterRecords(prefix string, n int, ts time.Time) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = record.Record{ID: fmt.Sprintf("%s-%03d", prefix, i), Timestamp: ts.Add(time.Duration(i) * time.Second),
			Level: record.LevelInfo, Event: "cluster.test", Message: prefix}
	}
	return out
}

func countEvent(t *testing.T, s *Store, msg string) int {
	t.Helper()
	res, err := s.Query(context.Background(), store.Filter{Event: "cluster.test", Text: msg}, store.Page{Limit: 1000})
	require.NoError(t, err, "Query")
	return len(res.Records)
}

func TestCluster_RecordsWrittenThroughOneReplicaAreReadThroughTheOther(t *testing.T) {
	_, _, r1, r2 := openClusterStores(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	_, err := r1.Insert(ctx, "acme", clusterRecords("viaone", 25, now))
	require.NoError(t, err, "Insert through replica 1")
	// Another tenant: a tenant's chain has one writer (each store caches its tenants' heads).
	_, err = r2.Insert(ctx, "globex", clusterRecords("viatwo", 15, now))
	require.NoError(t, err, "Insert through replica 2")

	// Replication is asynchronous (insert_quorum 0): the other replica fetches the part.
	assert.Eventually(t, func() bool { return countEvent(t, r2, "viaone") == 25 }, 30*time.Second, 100*time.Millisecond,
		"replica 2 should read the 25 records written through replica 1")
	assert.Eventually(t, func() bool { return countEvent(t, r1, "viatwo") == 15 }, 30*time.Second, 100*time.Millisecond,
		"replica 1 should read the 15 records written through replica 2")
	got, err := r2.Get(ctx, "acme", "viaone-007")
	require.NoError(t, err, "Get through replica 2")
	assert.Equal(t, now.Add(7*time.Second), got.Timestamp.UTC(), "the record read back through the other replica")
	// The chain's links are replicated too: both replicas read the same head.
	head, err := r1.ChainHead(ctx, "acme")
	require.NoError(t, err, "ChainHead on replica 1")
	assert.EqualValues(t, 25, head.Seq, "replica 1's chain head")
	assert.Eventually(t, func() bool {
		h, err := r2.ChainHead(ctx, "acme")
		return err == nil && h == head
	}, 30*time.Second, 100*time.Millisecond, "replica 2 should read replica 1's chain head")
}

func TestCluster_RetentionDropsWholePartitionsOnEveryReplica(t *testing.T) {
	_, _, r1, r2 := openClusterStores(t)
	ctx := context.Background()
	now := time.Now().UTC()
	old := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
	_, err := r1.Insert(ctx, "acme", clusterRecords("jan", 10, old))
	require.NoError(t, err)
	_, err = r1.Insert(ctx, "acme", clusterRecords("feb", 10, old.AddDate(0, 1, 0)))
	require.NoError(t, err)
	_, err = r1.Insert(ctx, "acme", clusterRecords("recent", 5, now.Add(-time.Hour)))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return countEvent(t, r2, "jan")+countEvent(t, r2, "feb")+countEvent(t, r2, "recent") == 25
	},
		30*time.Second, 100*time.Millisecond, "replica 2 should hold all 25 records before the prune")

	res, err := r1.Prune(ctx, store.RetentionPolicy{Default: 90 * 24 * time.Hour}, now)
	require.NoError(t, err, "Prune on the cluster")
	assert.EqualValues(t, 20, res.Total, "records Prune reports removed")
	// On return no replica holds a pruned record, and the two months are gone as partitions
	// (dropped, not rewritten by a DELETE mutation).
	for i, s := range []*Store{r1, r2} {
		assert.Zero(t, countEvent(t, s, "jan")+countEvent(t, s, "feb"), "replica %d still reads pruned records", i+1)
		assert.Equal(t, 5, countEvent(t, s, "recent"), "replica %d lost records inside the retention period", i+1)
		d, err := s.dialect(ctx)
		require.NoError(t, err)
		var parts []string
		rows, err := s.conn.Query(ctx, d.partitionsSQL())
		require.NoError(t, err)
		for rows.Next() {
			var id string
			require.NoError(t, rows.Scan(&id))
			parts = append(parts, id)
		}
		require.NoError(t, rows.Close())
		assert.NotContains(t, parts, "202401", "replica %d keeps the partition of January 2024", i+1)
		assert.NotContains(t, parts, "202402", "replica %d keeps the partition of February 2024", i+1)
		var mutations uint64
		require.NoError(t, s.conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = "+quoteString(d.db)).Scan(&mutations))
		assert.Zero(t, mutations, "replica %d: retention of whole months should need no DELETE mutation", i+1)
	}
}

// A collector (re)starting while one replica is down must still open its existing tables on
// the replica that is up. Before, Open ran the CREATE ... IF NOT EXISTS ON CLUSTER statements
// again on every start, and an ON CLUSTER statement waits for every replica of the cluster
// (distributed_ddl_task_timeout, 180 s by default): Open hung, then failed.
func TestCluster_OpenWithAReplicaDownUsesTheExistingTables(t *testing.T) {
	cl, db, r1, _ := openClusterStores(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	_, err := r1.Insert(ctx, "acme", clusterRecords("before", 5, now))
	require.NoError(t, err)

	down, up := cl.Replicas[0], cl.Replicas[1]
	down.RestartAtCleanup(t)
	down.Kill(t)
	s := openClusterStore(t, cl, up, db)
	require.Equal(t, SchemaLegacy, s.Layout(), "Open with replica 1 down should reach replica 2 and read the recorded layout")
	_, err = s.Insert(ctx, "globex", clusterRecords("during", 5, now))
	require.NoError(t, err, "Insert through replica 2 while replica 1 is down")
	assert.Equal(t, 5, countEvent(t, s, "during"), "records written while replica 1 is down")
}

// What expires inside a month that stays goes by an ALTER ... ON CLUSTER DELETE mutation; on
// return neither replica serves those records.
func TestCluster_RetentionDeleteReachesEveryReplica(t *testing.T) {
	_, _, r1, r2 := openClusterStores(t)
	ctx := context.Background()
	now := time.Now().UTC()
	debug := clusterRecords("debugold", 200, now.Add(-3*time.Hour))
	for i := range debug {
		debug[i].Level = record.LevelDebug
	}
	_, err := r1.Insert(ctx, "acme", debug)
	require.NoError(t, err)
	_, err = r1.Insert(ctx, "acme", clusterRecords("infokept", 10, now.Add(-3*time.Hour)))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return countEvent(t, r2, "debugold") == 200 && countEvent(t, r2, "infokept") == 10 },
		30*time.Second, 100*time.Millisecond, "replica 2 should hold all 210 records before the prune")

	policy := store.RetentionPolicy{ByLevel: map[record.Level]time.Duration{record.LevelDebug: time.Hour}, Default: 90 * 24 * time.Hour}
	res, err := r1.Prune(ctx, policy, now)
	require.NoError(t, err, "Prune on the cluster")
	assert.EqualValues(t, 200, res.Total, "records Prune reports removed")
	for i, s := range []*Store{r1, r2} {
		assert.Zero(t, countEvent(t, s, "debugold"), "replica %d still reads pruned debug records", i+1)
		assert.Equal(t, 10, countEvent(t, s, "infokept"), "replica %d lost info records inside their period", i+1)
	}
}
