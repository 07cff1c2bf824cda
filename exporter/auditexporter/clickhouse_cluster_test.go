package auditexporter

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/exporter/auditexporter/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/sharedstore"
)

// replica is one clickhouse-server of the cluster scripts/clickhouse/start-cluster.sh runs,
// with what it takes to kill and restart it.
type replica struct{ addr, dir string }

func (r replica) pid(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, "pid"))
	require.NoError(t, err, "the replica's pid file")
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err, "the replica's pid file")
	return pid
}

func (r replica) running(t *testing.T) bool { return syscall.Kill(r.pid(t), 0) == nil }

// restart starts the server again on its own config and data, in a session of its own so
// that it outlives the test binary, and records its pid where stop-cluster.sh looks.
func (r replica) restart(t *testing.T) {
	t.Helper()
	bin := "/usr/bin/clickhouse-server"
	for _, b := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server", "/usr/bin/clickhouse"} {
		if _, err := os.Stat(b); err == nil {
			bin = b
			break
		}
	}
	out, err := os.OpenFile(filepath.Join(r.dir, "log", "stdout.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	require.NoError(t, err)
	defer out.Close()
	cmd := exec.Command(bin, "--config-file="+filepath.Join(r.dir, "config.xml"))
	cmd.Dir, cmd.Stdout, cmd.Stderr = r.dir, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	require.NoError(t, cmd.Start(), "restart the replica")
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600))
	go func() { _ = cmd.Wait() }()
	require.Eventually(t, func() bool { return countFinal(r.addr, "system", "one") >= 0 }, 60*time.Second, 250*time.Millisecond,
		"the restarted replica should answer")
}

// countFinal counts distinct ids in db.table on one server; -1 when it does not answer.
func countFinal(addr, db, table string) int {
	c, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: time.Second})
	if err != nil {
		return -1
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sql := "SELECT count() FROM system.one"
	if db != "system" {
		sql = "SELECT uniqExact(id) FROM `" + db + "`.`" + table + "`"
	}
	var n uint64
	if err := c.QueryRow(ctx, sql).Scan(&n); err != nil {
		return -1
	}
	return int(n)
}

// A replica killed with SIGKILL while the exporter writes loses nothing the exporter
// acknowledged. The store's endpoints are replica 1 then replica 2: the driver dials them in
// order, so once replica 1 is gone the writes fail over to replica 2; the batches that met the
// dying connection stay in the WAL and are written there on the exporter's retry. Replica 1,
// restarted, fetches what it missed from replica 2, and rows it had acknowledged before the
// kill but not yet handed on reach replica 2 the same way.
func TestExporter_AClusterReplicaKilledDuringLoadLosesNothingAcknowledged(t *testing.T) {
	raw, name, dir := os.Getenv("CLICKHOUSE_CLUSTER_ADDRS"), os.Getenv("CLICKHOUSE_CLUSTER_NAME"), os.Getenv("CLICKHOUSE_CLUSTER_DIR")
	if raw == "" || name == "" || dir == "" {
		require.Empty(t, os.Getenv("CI"), "CLICKHOUSE_CLUSTER_ADDRS, _NAME and _DIR are not set under CI: scripts/clickhouse/start-cluster.sh must run first")
		t.Skip("no ClickHouse cluster: run eval \"$(scripts/clickhouse/start-cluster.sh)\" (CI always does)")
	}
	addrs := strings.Split(raw, ",")
	require.Len(t, addrs, 2, "CLICKHOUSE_CLUSTER_ADDRS")
	r1, r2 := replica{addrs[0], filepath.Join(dir, "ch1")}, replica{addrs[1], filepath.Join(dir, "ch2")}
	require.True(t, r1.running(t), "replica 1 must run before the test")

	db := fmt.Sprintf("exporter_cluster_%d", time.Now().UnixNano())
	scfg := sharedstore.DefaultConfig()
	scfg.Backend = sharedstore.BackendClickHouse
	scfg.ClickHouse.Endpoint = r1.addr
	scfg.ClickHouse.Endpoints = []string{r2.addr}
	scfg.ClickHouse.Cluster = name
	scfg.ClickHouse.Database = db
	scfg.ClickHouse.DialTimeout = time.Second
	scfg.ClickHouse.ReadTimeout = 10 * time.Second
	shared := sharedstore.New(scfg, zap.NewNop())
	require.NoError(t, shared.Start(context.Background(), nil))
	t.Cleanup(func() {
		_ = shared.Shutdown(context.Background())
		if !r1.running(t) {
			r1.restart(t)
		}
		c, err := clickhouse.Open(&clickhouse.Options{Addr: []string{r2.addr}})
		if assert.NoError(t, err) {
			assert.NoError(t, c.Exec(context.Background(), "DROP DATABASE IF EXISTS `"+db+"` ON CLUSTER `"+name+"`"), "drop the test database")
			_ = c.Close()
		}
	})
	cfg := testConfig(t)
	e := newAuditExporter(cfg, exportertest.NewNopSettings(metadata.Type))
	require.NoError(t, e.start(context.Background(), extensionsHost{cfg.Store: shared}))
	t.Cleanup(func() { _ = e.shutdown(context.Background()) })

	const batches, perBatch, killAfter = 40, 50, 10
	for i := range batches {
		if i == killAfter {
			require.NoError(t, syscall.Kill(r1.pid(t), syscall.SIGKILL), "kill -9 replica 1")
			require.Eventually(t, func() bool { return !r1.running(t) }, 10*time.Second, 20*time.Millisecond, "replica 1 should be gone")
		}
		// consumeLogs returning nil is the acknowledgement: the batch is in the WAL.
		require.NoError(t, e.consumeLogs(context.Background(), numbered(fmt.Sprintf("b%02d", i), perBatch)), "batch %d", i)
		time.Sleep(10 * time.Millisecond)
	}
	const total = batches * perBatch
	require.Eventually(t, func() bool { return storedCount(e.store.Store()) == total }, 60*time.Second, 100*time.Millisecond,
		"all %d acknowledged records should be readable through the store, now on replica 2", total)
	n2 := countFinal(r2.addr, db, "audit_logs")
	t.Logf("replica 2 holds %d records before replica 1 is back", n2)

	r1.restart(t)
	assert.Eventually(t, func() bool { return countFinal(r1.addr, db, "audit_logs") == total }, 60*time.Second, 200*time.Millisecond,
		"the restarted replica 1 should catch up to all %d records", total)
	assert.Eventually(t, func() bool { return countFinal(r2.addr, db, "audit_logs") == total }, 60*time.Second, 200*time.Millisecond,
		"replica 2 should hold all %d records", total)
	for id, n := range storedIDs(t, e.store.Store()) {
		assert.Equal(t, 1, n, "%s read %d times", id, n)
	}
}
