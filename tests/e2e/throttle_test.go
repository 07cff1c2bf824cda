package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/collectortest"
)

// throttleRequest is an OTLP request of n records with long messages, so that a few fill a
// small WAL.
func throttleRequest(prefix string, n int) plog.Logs {
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := range n {
		r := recs.AppendEmpty()
		r.Body().SetStr(fmt.Sprintf("%s-%d %s", prefix, i, strings.Repeat("x", 1000)))
		r.Attributes().PutStr("tenant.id", "acme")
	}
	return ld
}

// A full WAL throttles senders the way OTLP says to: OTLP/HTTP answers 429 with Retry-After,
// OTLP/gRPC RESOURCE_EXHAUSTED with a RetryInfo (without which gRPC clients must not retry),
// and the audit receiver 429 with its Retry-After. The default config, with a 1 MiB WAL and
// batches that never flush, so that the WAL fills and stays full.
func TestDefaultConfig_AFullWALThrottlesEverySender(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector binary; skipped with -short")
	}
	yaml, p := defaultConfigOnFreePorts(t)
	for from, to := range map[string]string{
		"max_bytes: 268435456": "max_bytes: 1048576\n      segment_size: 1048576",
		"max_size: 1000":       "max_size: 100000",
		"flush_interval: 1s":   "flush_interval: 1h",
		"max_queue_bytes: 0":   "max_queue_bytes: 268435456",
	} {
		require.Contains(t, yaml, from, "the default config changed; update this test")
		yaml = strings.Replace(yaml, from, to, 1)
	}
	proc := collectortest.Start(t, yaml)
	proc.WaitReady(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/health", p.query), 60*time.Second)

	otlpURL := fmt.Sprintf("http://127.0.0.1:%d/v1/logs", p.http)
	var resp *http.Response
	for i := 0; ; i++ {
		require.Less(t, i, 200, "a 1 MiB WAL never filled")
		body, err := plogotlp.NewExportRequestFromLogs(throttleRequest(fmt.Sprint("http", i), 100)).MarshalProto()
		require.NoError(t, err)
		resp, err = http.Post(otlpURL, "application/x-protobuf", bytes.NewReader(body))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			break
		}
	}
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "OTLP/HTTP when the WAL is full")
	assert.Equal(t, "1", resp.Header.Get("Retry-After"), "OTLP/HTTP when the WAL is full")

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", p.grpc), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(throttleRequest("grpc", 1)))
	st, ok := status.FromError(err)
	require.True(t, ok, "OTLP/gRPC answered %v", err)
	assert.Equal(t, codes.ResourceExhausted, st.Code(), "OTLP/gRPC when the WAL is full: %v", err)
	var delay time.Duration
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.RetryInfo); ok {
			delay = info.GetRetryDelay().AsDuration()
		}
	}
	assert.Equal(t, time.Second, delay, "OTLP/gRPC RetryInfo when the WAL is full")

	audit, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/v1/events", p.audit), "application/json",
		strings.NewReader(`{"action":"user.login","tenant_id":"acme","user_id":"u-1"}`))
	require.NoError(t, err)
	raw, _ := io.ReadAll(audit.Body)
	audit.Body.Close()
	assert.Equal(t, http.StatusTooManyRequests, audit.StatusCode, "the audit receiver when the WAL is full: %s", raw)
	assert.NotEmpty(t, audit.Header.Get("Retry-After"), "the audit receiver when the WAL is full")
}
