// Package chcluster gives tests the ClickHouse cluster that scripts/clickhouse/start-cluster.sh
// runs: its two servers' addresses, the names under which remote_servers declares them (two
// replicas of one shard, and two shards), and a way to kill a server with SIGKILL and start it
// again on the same files.
package chcluster

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"
)

// Cluster is the running test cluster.
type Cluster struct {
	// Name is the remote_servers entry with one shard of both servers as replicas.
	Name string
	// ShardsName is the entry with the same servers as two shards of one replica each
	// (CLICKHOUSE_SHARDS_NAME); ShardMacro the server macro that differs between them.
	ShardsName string
	Replicas   []Replica
}

// ShardMacro is the macro start-cluster.sh sets to s1 and s2, each server's shard in
// ShardsName ({shard} is 01 on both: their shard in Name).
const ShardMacro = "{audit_shards_shard}"

// Replica is one clickhouse-server of the cluster and the directory of its files.
type Replica struct {
	Addr string
	Dir  string
}

// Get reads the cluster from CLICKHOUSE_CLUSTER_ADDRS, _NAME and _DIR. Without them the test
// skips, except under CI, where a missing cluster is a broken pipeline and the test fails.
//
// The test holds the cluster alone until it ends (an exclusive flock on a file in the
// cluster's directory): go test runs packages in parallel, and a test that kills a replica
// must not do it under another package's test.
func Get(t testing.TB) Cluster {
	t.Helper()
	raw, name, dir := os.Getenv("CLICKHOUSE_CLUSTER_ADDRS"), os.Getenv("CLICKHOUSE_CLUSTER_NAME"), os.Getenv("CLICKHOUSE_CLUSTER_DIR")
	if raw == "" || name == "" || dir == "" {
		if os.Getenv("CI") != "" {
			require.FailNow(t, "CLICKHOUSE_CLUSTER_ADDRS, _NAME and _DIR are not set under CI: run scripts/clickhouse/start-cluster.sh and export what it prints")
		}
		t.Skip("no ClickHouse cluster (under CI this fails instead); run eval \"$(scripts/clickhouse/start-cluster.sh)\"")
	}
	addrs := strings.Split(raw, ",")
	require.Len(t, addrs, 2, "CLICKHOUSE_CLUSTER_ADDRS: want two replicas")
	lock, err := os.OpenFile(filepath.Join(dir, "tests.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	require.NoError(t, err, "the cluster's test lock")
	require.NoError(t, syscall.Flock(int(lock.Fd()), syscall.LOCK_EX), "take the cluster's test lock")
	// Registered first, so it runs after every cleanup the test adds later (restarts, drops).
	t.Cleanup(func() { _ = lock.Close() })
	shards := os.Getenv("CLICKHOUSE_SHARDS_NAME")
	if shards == "" {
		require.FailNow(t, "CLICKHOUSE_SHARDS_NAME is not set: scripts/clickhouse/start-cluster.sh prints it with the others (a cluster started by an older version of it is restarted)")
	}
	c := Cluster{Name: name, ShardsName: shards}
	for i, a := range addrs {
		c.Replicas = append(c.Replicas, Replica{Addr: a, Dir: filepath.Join(dir, "ch"+strconv.Itoa(i+1))})
	}
	for _, r := range c.Replicas {
		r.logErrorsOnFailure(t)
		r.resetPeerConnections(t)
	}
	return c
}

// resetPeerConnections makes the server drop its pooled connections to the other server
// (SYSTEM RELOAD CONFIG re-creates every cluster's pool), so that a connection a failed test
// left out of step (see clickhousestore's peerreset.go) cannot fail the tests after it. A
// server that does not answer is left to the test to find.
func (r Replica) resetPeerConnections(t testing.TB) {
	c, err := clickhouse.Open(&clickhouse.Options{Addr: []string{r.Addr}, DialTimeout: time.Second})
	if err != nil {
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Exec(ctx, "SYSTEM RELOAD CONFIG"); err != nil {
		t.Logf("reset the pooled connections of %s: %v", r.Addr, err)
	}
}

// logErrorsOnFailure adds to a failing test's output the last errors and warnings the server
// logged while the test ran: what CI keeps of a cluster that misbehaved.
func (r Replica) logErrorsOnFailure(t testing.TB) {
	path := filepath.Join(r.Dir, "log", "clickhouse-server.err.log")
	var from int64
	if st, err := os.Stat(path); err == nil {
		from = st.Size()
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		f, err := os.Open(path)
		if err != nil {
			return
		}
		defer f.Close()
		if _, err := f.Seek(from, io.SeekStart); err != nil {
			return
		}
		var lines []string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if l := sc.Text(); strings.Contains(l, "<Error>") || strings.Contains(l, "<Warning>") {
				if len(l) > 400 {
					l = l[:400] + "..."
				}
				lines = append(lines, l)
			}
		}
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		t.Logf("server %s logged during the test (last %d errors and warnings):\n%s", r.Addr, len(lines), strings.Join(lines, "\n"))
	})
}

func (r Replica) pid(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.Dir, "pid"))
	require.NoError(t, err, "the replica's pid file")
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err, "the replica's pid file")
	return pid
}

// Running reports whether the replica's process exists.
func (r Replica) Running(t testing.TB) bool { return syscall.Kill(r.pid(t), 0) == nil }

// Kill sends SIGKILL and waits until the process is gone. A test that kills a replica must
// restart it (RestartAtCleanup), or the tests after it meet a cluster with one replica.
func (r Replica) Kill(t testing.TB) {
	t.Helper()
	require.NoError(t, syscall.Kill(r.pid(t), syscall.SIGKILL), "kill -9 %s", r.Addr)
	require.Eventually(t, func() bool { return !r.Running(t) }, 10*time.Second, 20*time.Millisecond, "replica %s should be gone", r.Addr)
}

// RestartAtCleanup starts the replica again when the test ends, if it is not running.
func (r Replica) RestartAtCleanup(t testing.TB) {
	t.Cleanup(func() {
		if !r.Running(t) {
			r.Restart(t)
		}
	})
}

// Restart starts the server on its own config and data, in a session of its own so that it
// outlives the test binary, records its pid where stop-cluster.sh looks and waits until it
// answers.
func (r Replica) Restart(t testing.TB) {
	t.Helper()
	bin := ""
	for _, b := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server", "/usr/bin/clickhouse"} {
		if _, err := os.Stat(b); err == nil {
			bin = b
			break
		}
	}
	require.NotEmpty(t, bin, "no clickhouse-server binary")
	// A SIGKILL can land between a part written to disk and its entry in ZooKeeper. 18.16 then
	// refuses to load a replicated table whose unrecorded parts exceed
	// replicated_max_ratio_of_wrong_parts of its rows ("The local set of parts ... doesn't look
	// like the set of parts in ZooKeeper", and the server does not start), which a test's small
	// table reaches with one part (seen once in CI). The flag is
	// ClickHouse's documented recovery: the server moves such parts to detached/ and fetches
	// what ZooKeeper has, then deletes the flag. Their rows belong to an insert that never
	// returned, so the writer retries them.
	flags := filepath.Join(r.Dir, "data", "flags")
	require.NoError(t, os.MkdirAll(flags, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(flags, "force_restore_data"), nil, 0o600))
	out, err := os.OpenFile(filepath.Join(r.Dir, "log", "stdout.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	require.NoError(t, err)
	defer out.Close()
	cmd := exec.Command(bin, "--config-file="+filepath.Join(r.Dir, "config.xml"))
	cmd.Dir, cmd.Stdout, cmd.Stderr = r.Dir, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	require.NoError(t, cmd.Start(), "restart replica %s", r.Addr)
	require.NoError(t, os.WriteFile(filepath.Join(r.Dir, "pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600))
	go func() { _ = cmd.Wait() }()
	require.Eventually(t, func() bool { return r.Count("SELECT count() FROM system.one") == 1 }, 60*time.Second, 250*time.Millisecond,
		"the restarted replica %s should answer", r.Addr)
}

// Count runs a query that returns one UInt64 on this replica alone; -1 when it does not answer.
func (r Replica) Count(sql string) int {
	c, err := clickhouse.Open(&clickhouse.Options{Addr: []string{r.Addr}, DialTimeout: time.Second})
	if err != nil {
		return -1
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n uint64
	if err := c.QueryRow(ctx, sql).Scan(&n); err != nil {
		return -1
	}
	return int(n)
}

// DropDatabase drops db ON CLUSTER through replica r.
func (c Cluster) DropDatabase(t testing.TB, r Replica, db string) {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{r.Addr}})
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+db+"` ON CLUSTER `"+c.Name+"`"), "drop cluster database %s", db)
}
