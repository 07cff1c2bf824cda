package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/collectortest"
)

// writerConfig is a collector that receives audit events and writes them to storeYAML's store.
func writerConfig(auditPort, queryPort int, dataDir, storeYAML string) string {
	return fmt.Sprintf(`
extensions:
  auditstore:
%[4]s
  auditquery:
    endpoint: 127.0.0.1:%[2]d
receivers:
  audit:
    endpoint: 127.0.0.1:%[1]d
exporters:
  audit:
    data_dir: %[3]s
    batch:
      flush_interval: 50ms
service:
  # Listed in the wrong order on purpose: auditquery declares auditstore as its dependency, so
  # the collector starts the store first anyway.
  extensions: [auditquery, auditstore]
  pipelines:
    logs:
      receivers: [audit]
      exporters: [audit]
  telemetry:
    metrics:
      level: none
`, auditPort, queryPort, dataDir, storeYAML)
}

// queryNodeConfig is a collector with no pipeline at all: the store, read-only, and the API.
func queryNodeConfig(queryPort int, storeYAML string) string {
	return fmt.Sprintf(`
extensions:
  auditstore:
    read_only: true
%[2]s
  auditquery:
    endpoint: 127.0.0.1:%[1]d
service:
  extensions: [auditstore, auditquery]
  telemetry:
    metrics:
      level: none
`, queryPort, storeYAML)
}

// postEvents sends n audit events of tenant acme to the audit receiver.
func postEvents(t *testing.T, auditPort int, prefix string, n int) {
	t.Helper()
	var events []string
	for i := range n {
		events = append(events, fmt.Sprintf(`{"id":"%s-%d","action":"doc.read","tenant_id":"acme","user_id":"u-%d"}`, prefix, i, i))
	}
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/v1/events", auditPort), "application/json",
		strings.NewReader(`[`+strings.Join(events, ",")+`]`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
}

// countLogs is how many of tenant acme's records the query API at port lists.
func countLogs(t *testing.T, port int) int {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/logs?tenant=acme&limit=1000", port))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body struct {
		Records []json.RawMessage `json:"records"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return len(body.Records)
}

// A query node (auditstore read_only + auditquery, no exporter, no pipeline) serves the records
// another collector writes, follows its new commits, and refuses to write.
func testQueryNode(t *testing.T, storeYAML string) {
	dataDir := t.TempDir()
	auditPort, writerQuery, nodeQuery := collectortest.FreePort(t), collectortest.FreePort(t), collectortest.FreePort(t)
	writer := collectortest.Start(t, writerConfig(auditPort, writerQuery, dataDir, storeYAML))
	writer.WaitReady(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/health", writerQuery), 60*time.Second)
	postEvents(t, auditPort, "first", 5)
	require.Eventually(t, func() bool { return countLogs(t, writerQuery) == 5 }, 30*time.Second, 50*time.Millisecond)

	// A collector without pipelines needs the collector's own feature gate.
	node := collectortest.Start(t, queryNodeConfig(nodeQuery, storeYAML), "--feature-gates=service.AllowNoPipelines")
	node.WaitReady(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/health", nodeQuery), 60*time.Second)
	assert.Equal(t, 5, countLogs(t, nodeQuery), "the node reads what the writer stored")

	postEvents(t, auditPort, "second", 3)
	require.Eventually(t, func() bool { return countLogs(t, nodeQuery) == 8 }, 30*time.Second, 50*time.Millisecond,
		"the node sees the writer's later commits")

	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/api/v1/retention/run", nodeQuery), "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotImplemented, resp.StatusCode, "retention runs where the store is written, not on a query node")
}

func TestQueryNode_OverAnSQLiteFileAnotherCollectorWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two collector binaries; skipped with -short")
	}
	path := filepath.Join(t.TempDir(), "shared", "audit.db")
	testQueryNode(t, fmt.Sprintf("    sqlite:\n      path: %s", path))
}

func TestQueryNode_OverClickHouse(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two collector binaries; skipped with -short")
	}
	addr := os.Getenv("CLICKHOUSE_ADDR")
	if addr == "" {
		if os.Getenv("CI") != "" {
			require.FailNow(t, "CLICKHOUSE_ADDR is not set under CI: scripts/clickhouse/start.sh must run first")
		}
		t.Skip("no ClickHouse server: run eval \"$(scripts/clickhouse/start.sh)\" (CI always does)")
	}
	db := fmt.Sprintf("querynode_%d", time.Now().UnixNano())
	testQueryNode(t, fmt.Sprintf("    backend: clickhouse\n    clickhouse:\n      endpoint: %s\n      database: %s", addr, db))
}

// A configuration written before the store became an extension stops the collector at start
// with what to write instead, rather than running without its retention or signing key.
func TestOldExporterStoreConfigFailsAtStartSayingWhatToWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the collector binary; skipped with -short")
	}
	dir := t.TempDir()
	proc := collectortest.Start(t, fmt.Sprintf(`
extensions:
  auditquery:
    endpoint: 127.0.0.1:%[1]d
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%[2]d
exporters:
  audit:
    data_dir: %[3]s
    store:
      backend: sqlite
      sqlite:
        path: %[3]s/audit.db
    query: auditquery
service:
  extensions: [auditquery]
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [audit]
`, collectortest.FreePort(t), collectortest.FreePort(t), dir))
	require.NotZero(t, proc.Wait(t, 60*time.Second), "the collector must refuse the old layout")
	assert.Contains(t, proc.Output.String(), "store moved to the auditstore extension: write them under `extensions: auditstore:`")
}
