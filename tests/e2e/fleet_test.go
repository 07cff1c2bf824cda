package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/collectortest"
)

// fleetPollInterval is the collectors' stream.follow_store.poll_interval in the fleet test.
const fleetPollInterval = 200 * time.Millisecond

// fleetMemberConfig is one collector of a fleet: its own OTLP and API ports and data dir, the
// shared ClickHouse database, and the stream following the store.
func fleetMemberConfig(otlpPort, queryPort int, dataDir, addr, database string) string {
	return fmt.Sprintf(`
extensions:
  auditstore:
    backend: clickhouse
    clickhouse:
      endpoint: %[4]s
      database: %[5]s
  auditquery:
    endpoint: 127.0.0.1:%[2]d
    stream:
      follow_store:
        enabled: true # a writer follows only when told: it is one of a fleet
        poll_interval: %[6]s
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%[1]d
exporters:
  audit:
    data_dir: %[3]s
    batch:
      flush_interval: 50ms
service:
  extensions: [auditstore, auditquery]
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [audit]
  telemetry:
    metrics:
      level: none
`, otlpPort, queryPort, dataDir, addr, database, fleetPollInterval)
}

// postOTLP sends one OTLP/HTTP JSON request with a log record per id, of tenant.
func postOTLP(t *testing.T, port int, tenant string, ids []string) {
	t.Helper()
	var recs []string
	now := time.Now().UnixNano()
	for _, id := range ids {
		recs = append(recs, fmt.Sprintf(`{"timeUnixNano":"%d","severityText":"INFO","body":{"stringValue":"fleet record %s"},
			"attributes":[{"key":"audit.id","value":{"stringValue":%q}},{"key":"tenant.id","value":{"stringValue":%q}},
			{"key":"event.name","value":{"stringValue":"doc.read"}}]}`, now, id, id, tenant))
	}
	body := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"fleet-test"}}]},
		"scopeLogs":[{"scope":{"name":"audit"},"logRecords":[` + strings.Join(recs, ",") + `]}]}]}`
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/v1/logs", port), "application/json", strings.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "OTLP export to port %d", port)
}

// sseSubscriber counts, per record id, the records a Server-Sent Events stream delivers.
type sseSubscriber struct {
	mu   sync.Mutex
	seen map[string]int
	tags map[string]string // id -> tenant, to check the stream's tenant filter
}

func subscribeSSE(t *testing.T, ctx context.Context, queryPort int, tenant string) *sseSubscriber {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("http://127.0.0.1:%d/api/v1/stream?tenant=%s", queryPort, tenant), nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	s := &sseSubscriber{seen: map[string]int{}, tags: map[string]string{}}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var rec struct {
				ID       string `json:"id"`
				TenantID string `json:"tenant_id"`
			}
			if json.Unmarshal([]byte(data), &rec) != nil || rec.ID == "" {
				continue
			}
			s.mu.Lock()
			s.seen[rec.ID]++
			s.tags[rec.ID] = rec.TenantID
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *sseSubscriber) snapshot() (map[string]int, map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen, tags := map[string]int{}, map[string]string{}
	for k, v := range s.seen {
		seen[k] = v
	}
	for k, v := range s.tags {
		tags[k] = v
	}
	return seen, tags
}

// queryIDs lists the ids of tenant's records that the query API at port returns.
func queryIDs(t *testing.T, port int, tenant string) map[string]bool {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/logs?tenant=%s&limit=1000", port, tenant))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body struct {
		Records []struct {
			ID string `json:"id"`
		} `json:"records"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	ids := map[string]bool{}
	for _, r := range body.Records {
		ids[r.ID] = true
	}
	return ids
}

// Two collectors (own ports, own data dirs) write one ClickHouse: a live tail on either streams
// every record of both, each exactly once, within the documented bound (poll_interval after
// the commit), and either's query API lists them all. The tail's tenant filter holds for
// records that came through the store as for those committed locally.
func TestFleet_TwoCollectorsOnOneClickHouseStreamAndServeEachOthersRecords(t *testing.T) {
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
	database := fmt.Sprintf("fleet_%d", time.Now().UnixNano())

	type member struct{ otlp, query int }
	members := make([]member, 2)
	for i := range members {
		members[i] = member{collectortest.FreePort(t), collectortest.FreePort(t)}
		proc := collectortest.Start(t, fleetMemberConfig(members[i].otlp, members[i].query, t.TempDir(), addr, database))
		proc.WaitReady(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/health", members[i].query), 60*time.Second)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subs := []*sseSubscriber{subscribeSSE(t, ctx, members[0].query, "acme"), subscribeSSE(t, ctx, members[1].query, "acme")}

	// Several rounds to each collector, so commits of both interleave.
	want := map[string]bool{}
	for round := range 5 {
		for i, m := range members {
			var ids []string
			for n := range 4 {
				ids = append(ids, fmt.Sprintf("c%d-r%d-%d", i, round, n))
			}
			postOTLP(t, m.otlp, "acme", ids)
			postOTLP(t, m.otlp, "globex", []string{fmt.Sprintf("g%d-r%d", i, round)})
			for _, id := range ids {
				want[id] = true
			}
		}
	}

	// Committed: every collector's query API lists all of acme's records.
	for i, m := range members {
		require.Eventuallyf(t, func() bool { return len(queryIDs(t, m.query, "acme")) == len(want) }, 30*time.Second, 50*time.Millisecond,
			"collector %d's query API lists both collectors' %d records", i, len(want))
		assert.Equalf(t, want, queryIDs(t, m.query, "acme"), "collector %d's query API", i)
	}
	// Every record is committed now: the documented bound is one poll interval plus the poll's
	// own query. CI runs this beside other packages' tests on 2 cores, where a poll can wait
	// seconds for a core, so the test asserts arrival within a generous bound (without the
	// follower the other collector's records never arrive) and logs the time it took; the
	// latency itself belongs to a benchmark, not to a pass/fail timer.
	began := time.Now()
	bound := fleetPollInterval + 10*time.Second
	for i, s := range subs {
		require.Eventuallyf(t, func() bool { seen, _ := s.snapshot(); return len(seen) >= len(want) },
			time.Until(began.Add(bound))+time.Millisecond, 20*time.Millisecond, "subscriber on collector %d saw every record within %s of their commit", i, bound)
	}
	t.Logf("both subscribers had every record %s after the last commit (poll interval %s)", time.Since(began).Round(time.Millisecond), fleetPollInterval)
	// Wait past further polls and overlap re-reads, then count: duplicates would show now.
	time.Sleep(5 * fleetPollInterval)
	for i, s := range subs {
		seen, tenants := s.snapshot()
		for id := range want {
			assert.Equalf(t, 1, seen[id], "subscriber on collector %d: times record %s was streamed", i, id)
		}
		for id, tenant := range tenants {
			assert.Equalf(t, "acme", tenant, "subscriber on collector %d (tenant acme) was sent %s", i, id)
		}
		assert.Lenf(t, seen, len(want), "subscriber on collector %d: records streamed", i)
	}
}
