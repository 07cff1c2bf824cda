package clickhousestore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Records that expire inside a month still in use go by an ALTER ... DELETE mutation. The
// legacy server's system.mutations speaks only for the replica the store is connected to, so
// Prune used to return while the other replica still served the deleted records. Here the
// other replica cannot apply the mutation (its merges and fetches are stopped) until the test
// lets it: Prune must still be waiting then, and on return no replica serves a pruned record.
func TestCluster_RetentionDeleteWaitsForEveryReplica(t *testing.T) {
	_, _, r1, r2 := openClusterStores(t)
	ctx := context.Background()
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	_, err := r1.Insert(ctx, "acme", clusterRecords("stale", 10, now.Add(-5*time.Hour)))
	require.NoError(t, err)
	_, err = r1.Insert(ctx, "acme", clusterRecords("fresh", 5, now.Add(-10*time.Minute)))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return countEvent(t, r2, "stale")+countEvent(t, r2, "fresh") == 15 },
		30*time.Second, 100*time.Millisecond, "replica 2 should hold all 15 records before the prune")

	d, err := r2.dialect(ctx)
	require.NoError(t, err)
	for _, stmt := range []string{"SYSTEM STOP MERGES ", "SYSTEM STOP FETCHES "} {
		require.NoError(t, r2.conn.Exec(ctx, stmt+d.logs()), stmt)
	}
	held := true
	release := func() {
		if held {
			held = false
			for _, stmt := range []string{"SYSTEM START MERGES ", "SYSTEM START FETCHES "} {
				assert.NoError(t, r2.conn.Exec(ctx, stmt+d.logs()), stmt)
			}
		}
	}
	t.Cleanup(release)

	type pruned struct {
		res store.PruneResult
		err error
	}
	done := make(chan pruned, 1)
	go func() {
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		res, err := r1.Prune(pctx, store.RetentionPolicy{Default: time.Hour}, now)
		done <- pruned{res, err}
	}()

	// Replica 1 applies the mutation at once; replica 2 is held back.
	require.Eventually(t, func() bool { return countEvent(t, r1, "stale") == 0 }, 30*time.Second, 50*time.Millisecond,
		"replica 1 should apply the DELETE")
	time.Sleep(time.Second)
	select {
	case p := <-done:
		t.Fatalf("Prune returned (err %v) while replica 2 still serves %d pruned records", p.err, countEvent(t, r2, "stale"))
	default:
	}
	assert.Equal(t, 10, countEvent(t, r2, "stale"), "replica 2 is held back: it still serves the stale records")

	release()
	var p pruned
	select {
	case p = <-done:
	case <-time.After(45 * time.Second):
		t.Fatal("Prune did not return after replica 2 was let go")
	}
	require.NoError(t, p.err, "Prune")
	assert.EqualValues(t, 10, p.res.Total, "records Prune reports removed")
	for i, s := range []*Store{r1, r2} {
		assert.Zero(t, countEvent(t, s, "stale"), "replica %d serves pruned records after Prune returned", i+1)
		assert.Equal(t, 5, countEvent(t, s, "fresh"), "replica %d lost records inside the retention period", i+1)
	}
}

// A replica that is down serves nothing and applies the DELETE from its queue when it is
// back, so Prune must not wait for it (the retention run would hang for the whole outage).
func TestCluster_RetentionDoesNotWaitForAReplicaThatIsDown(t *testing.T) {
	cl, _, r1, r2 := openClusterStores(t)
	ctx := context.Background()
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	_, err := r1.Insert(ctx, "acme", clusterRecords("stale", 10, now.Add(-5*time.Hour)))
	require.NoError(t, err)
	_, err = r1.Insert(ctx, "acme", clusterRecords("fresh", 5, now.Add(-10*time.Minute)))
	require.NoError(t, err)
	// A whole expired month too: it goes by DROP PARTITION, not by the DELETE.
	_, err = r1.Insert(ctx, "acme", clusterRecords("january", 10, time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return countEvent(t, r2, "stale")+countEvent(t, r2, "fresh")+countEvent(t, r2, "january") == 25
	}, 30*time.Second, 100*time.Millisecond, "replica 2 should hold all 25 records before the prune")

	// Kill the table's leader: 18.16 forwards DROP PARTITION to it, so the survivor's drop
	// fails until a new leader is elected (dropPartition retries that).
	d, err := r1.dialect(ctx)
	require.NoError(t, err)
	var leader uint8
	require.NoError(t, r1.conn.QueryRow(ctx, "SELECT is_leader FROM system.replicas WHERE database = "+
		quoteString(d.db)+" AND table = "+quoteString(d.table)).Scan(&leader))
	down, up := cl.Replicas[1], r1
	if leader == 1 {
		down, up = cl.Replicas[0], r2
	}
	down.RestartAtCleanup(t)
	down.Kill(t)
	// Until its ZooKeeper session expires (10 s on the test cluster) the dead replica still
	// looks active, so Prune may wait that long; a minute means it did not give up on it.
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, err := up.Prune(pctx, store.RetentionPolicy{Default: time.Hour}, now)
	require.NoError(t, err, "Prune with the leader replica %s down", down.Addr)
	assert.EqualValues(t, 20, res.Total, "records Prune reports removed")
	assert.Zero(t, countEvent(t, up, "stale")+countEvent(t, up, "january"), "the replica up serves pruned records after Prune returned")

	down.Restart(t)
	back := openClusterStore(t, cl, down, r2.cfg.Database)
	assert.Eventually(t, func() bool { return countEvent(t, back, "stale")+countEvent(t, back, "january") == 0 }, 60*time.Second, 200*time.Millisecond,
		"the killed replica should apply the DROP PARTITION and the DELETE once it is back")
	assert.Equal(t, 5, countEvent(t, back, "fresh"), "the killed replica lost records inside the retention period")
}
