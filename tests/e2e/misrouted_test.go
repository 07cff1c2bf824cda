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
}
