package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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

// defaultConfigOnFreePorts is the shipped otelcol-audit/config.yaml with its ports and data
// directory moved, so that the test runs what `make run` runs.
func defaultConfigOnFreePorts(t *testing.T) (yaml string, p ports) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "otelcol-audit", "config.yaml"))
	require.NoError(t, err)
	p = ports{
		grpc: collectortest.FreePort(t), http: collectortest.FreePort(t), audit: collectortest.FreePort(t),
		query: collectortest.FreePort(t), metrics: collectortest.FreePort(t),
	}
	yaml = string(raw)
	for from, to := range map[string]string{
		"127.0.0.1:4317": fmt.Sprintf("127.0.0.1:%d", p.grpc),
		"127.0.0.1:4318": fmt.Sprintf("127.0.0.1:%d", p.http),
		"127.0.0.1:8088": fmt.Sprintf("127.0.0.1:%d", p.audit),
		"127.0.0.1:8089": fmt.Sprintf("127.0.0.1:%d", p.query),
		"port: 8888":     fmt.Sprintf("port: %d", p.metrics),
		"./data":         t.TempDir(),
	} {
		require.Contains(t, yaml, from, "the default config changed; update this test")
		yaml = strings.ReplaceAll(yaml, from, to)
	}
	return yaml, p
}

// An audit event (the audit receiver's JSON) posted to the OTLP/HTTP endpoint used to be answered
// 200 {"partialSuccess":{}} and stored nothing: the OTLP JSON decoder ignores unknown fields. The
// default config must refuse it, naming the endpoint the sender wanted.
func TestDefaultConfig_AuditEventPostedToOTLPIsRefusedWithTheRightEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector binary; skipped with -short")
	}
	yaml, p := defaultConfigOnFreePorts(t)
	proc := collectortest.Start(t, yaml)
	queryURL := fmt.Sprintf("http://127.0.0.1:%d", p.query)
	proc.WaitReady(t, queryURL+"/api/v1/health", 60*time.Second)
	otlpURL := fmt.Sprintf("http://127.0.0.1:%d/v1/logs", p.http)

	event, err := os.ReadFile(filepath.Join("..", "..", "examples", "audit-event.json"))
	require.NoError(t, err)
	for name, body := range map[string][]byte{
		"one event":        event,
		"an array of them": []byte("[" + string(event) + "," + string(event) + "]"),
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := http.Post(otlpURL, "application/json", bytes.NewReader(body))
			require.NoError(t, err)
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "answer: %s", raw)
			// OTLP/HTTP errors are a google.rpc.Status in the request's encoding.
			var status struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			require.NoError(t, json.Unmarshal(raw, &status), "answer: %s", raw)
			assert.Equal(t, 3, status.Code, "INVALID_ARGUMENT")
			assert.Contains(t, status.Message, "/v1/events")
			assert.Contains(t, status.Message, "audit receiver")
		})
	}

	// Real OTLP JSON still passes, gzip'ed or not, and is stored.
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "otlp-log.json"))
	require.NoError(t, err)
	resp, err := http.Post(otlpURL, "application/json", bytes.NewReader(example))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	waitForTrace(t, queryURL, "5b8efff798038103d269b633813fc60c", 1)

	// The audit receiver, where such events belong: a backend on loopback (trusted by default)
	// names its end user's address and user agent, and keeps its own beside them.
	t.Run("a trusted sender names its end user", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/v1/events", p.audit), strings.NewReader(
			`{"action":"user.login","tenant_id":"acme","user_id":"u-77","entity_id":"session-77","ip_address":"203.0.113.77","user_agent":"Mozilla/5.0 (end user)"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "shop-backend/3.2")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode, "answer: %s", raw)

		var list struct {
			Records []struct {
				IPAddress  string         `json:"ip_address"`
				UserAgent  string         `json:"user_agent"`
				Attributes map[string]any `json:"attributes"`
			} `json:"records"`
		}
		require.Eventually(t, func() bool {
			getJSON(t, queryURL+"/api/v1/logs?entity_id=session-77", &list)
			return len(list.Records) == 1
		}, 20*time.Second, 50*time.Millisecond)
		got := list.Records[0]
		assert.Equal(t, "203.0.113.77", got.IPAddress)
		assert.Equal(t, "Mozilla/5.0 (end user)", got.UserAgent)
		assert.Equal(t, "127.0.0.1", got.Attributes["audit.sender.address"])
		assert.Equal(t, "shop-backend/3.2", got.Attributes["audit.sender.user_agent"])
	})
}
