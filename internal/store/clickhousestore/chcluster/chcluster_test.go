package chcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"
)

// A replica killed between writing a part and recording it in ZooKeeper keeps that part on
// disk. With more such rows than replicated_max_ratio_of_wrong_parts of a table's, 18.16 will
// not load the table and the server does not start (seen once in CI, on a chain table of 25
// rows). Restart must bring such a replica back, without serving the unrecorded rows.
func TestRestart_AReplicaWithPartsZooKeeperNeverRecordedStartsAgain(t *testing.T) {
	cl := Get(t)
	r := cl.Replicas[1]
	db := fmt.Sprintf("chcluster_restart_%d", time.Now().UnixNano())
	t.Cleanup(func() { cl.DropDatabase(t, cl.Replicas[0], db) })
	r.RestartAtCleanup(t) // runs first: the drop needs both replicas

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{r.Addr}})
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	on := " ON CLUSTER `" + cl.Name + "`"
	require.NoError(t, conn.Exec(ctx, "CREATE DATABASE `"+db+"`"+on))
	require.NoError(t, conn.Exec(ctx, "CREATE TABLE `"+db+"`.t"+on+" (n UInt64) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/"+db+"/t', '{replica}') ORDER BY n"))
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO `"+db+"`.t (n)")
	require.NoError(t, err)
	require.NoError(t, batch.Append(uint64(1)))
	require.NoError(t, batch.Send())
	require.Equal(t, 1, r.Count("SELECT count() FROM `"+db+"`.t"))

	r.Kill(t)
	// Two copies of the recorded part under block numbers ZooKeeper never gave out: two thirds
	// of the table's rows on disk are then unknown to ZooKeeper.
	tableDir := filepath.Join(r.Dir, "data", "data", db, "t")
	recorded := filepath.Join(tableDir, "all_0_0_0")
	require.DirExists(t, recorded, "the inserted part on the killed replica's disk")
	for _, name := range []string{"all_7_7_0", "all_8_8_0"} {
		require.NoError(t, os.CopyFS(filepath.Join(tableDir, name), os.DirFS(recorded)))
	}

	r.Restart(t)
	require.Equal(t, 1, r.Count("SELECT count() FROM `"+db+"`.t"), "the replica serves what ZooKeeper recorded, not the unrecorded parts")
}
