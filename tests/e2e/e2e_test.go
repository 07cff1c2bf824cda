// Package e2e runs the real otelcol-audit binary: an OpenTelemetry Go SDK sends logs over
// OTLP/HTTP inside a span, and the query API must return them by trace id, mapped, redacted
// and stored in SQLite.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/collectortest"
)

type ports struct{ grpc, http, audit, query, metrics int }

func configYAML(p ports, dataDir string) string {
	return fmt.Sprintf(`
extensions:
  auditstore:
    sqlite:
      path: %[6]s
    tamper_evidence:
      signing_key_file: %[8]s
      checkpoint_dir: %[9]s
  auditquery:
    endpoint: 127.0.0.1:%[4]d
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%[1]d
      http:
        endpoint: 127.0.0.1:%[2]d
  audit:
    endpoint: 127.0.0.1:%[3]d
processors:
  redact: {}
exporters:
  audit:
    data_dir: %[7]s
    batch:
      flush_interval: 100ms
service:
  extensions: [auditstore, auditquery]
  pipelines:
    logs:
      receivers: [otlp, audit]
      processors: [redact]
      exporters: [audit]
  telemetry:
    metrics:
      level: none
`, p.grpc, p.http, p.audit, p.query, p.metrics, filepath.Join(dataDir, "audit.db"), dataDir,
		filepath.Join(dataDir, "signing-key.pem"), filepath.Join(dataDir, "checkpoints"))
}

type apiRecord struct {
	ID         string         `json:"id"`
	Timestamp  time.Time      `json:"timestamp"`
	Level      string         `json:"level"`
	Event      string         `json:"event"`
	Message    string         `json:"message"`
	TenantID   string         `json:"tenant_id"`
	UserID     string         `json:"user_id"`
	IPAddress  string         `json:"ip_address"`
	TraceID    string         `json:"trace_id"`
	SpanID     string         `json:"span_id"`
	Service    string         `json:"service_name"`
	Scope      string         `json:"scope"`
	Attributes map[string]any `json:"attributes"`
}

func TestSDKLogsAreStoredRedactedAndFoundByTraceID(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector binary; skipped with -short")
	}
	p := ports{
		grpc: collectortest.FreePort(t), http: collectortest.FreePort(t), audit: collectortest.FreePort(t),
		query: collectortest.FreePort(t), metrics: collectortest.FreePort(t),
	}
	dataDir := t.TempDir()
	writeSigningKey(t, filepath.Join(dataDir, "signing-key.pem"))
	proc := collectortest.Start(t, configYAML(p, dataDir))
	queryURL := fmt.Sprintf("http://127.0.0.1:%d", p.query)
	proc.WaitReady(t, queryURL+"/api/v1/health", 60*time.Second)

	ctx := context.Background()
	exp, err := otlploghttp.New(ctx,
		otlploghttp.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", p.http)),
		otlploghttp.WithInsecure())
	require.NoError(t, err)
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("billing"))
	// The simple processor exports on every Emit, so an Emit that returns has been acknowledged.
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)), sdklog.WithResource(res))
	defer lp.Shutdown(ctx)
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(ctx)

	spanCtx, span := tp.Tracer("e2e").Start(ctx, "checkout")
	traceID := span.SpanContext().TraceID().String()
	logger := lp.Logger("auth")

	emit := func(event, body string, sev otellog.Severity, attrs ...attribute.KeyValue) {
		var r otellog.Record
		r.SetTimestamp(time.Now())
		r.SetEventName(event)
		r.SetSeverity(sev)
		r.SetBody(attribute.StringValue(body))
		r.AddAttributes(attrs...)
		logger.Emit(spanCtx, r)
	}
	emit("user.login", "user logged in", otellog.SeverityInfo,
		attribute.String("user.id", "u-42"),
		attribute.String("client.address", "203.0.113.7"),
		attribute.String("password", "hunter2-secret"),
		attribute.String("tenant.id", "acme"))
	emit("payment.failed", "card declined", otellog.SeverityError,
		attribute.String("user.id", "u-42"),
		attribute.String("client.address", "203.0.113.7"),
		attribute.String("tenant.id", "acme"))
	span.End()
	require.NoError(t, lp.ForceFlush(ctx), "flush")

	var got struct {
		TraceID string      `json:"trace_id"`
		Records []apiRecord `json:"records"`
	}
	// Acknowledged means durable, not yet queryable: records appear after the next flush.
	waitForTrace(t, queryURL, traceID, 2)
	getJSON(t, queryURL+"/api/v1/traces/"+traceID, &got)
	assert.Equal(t, traceID, got.TraceID, "trace_id")
	require.Len(t, got.Records, 2, "records for trace %s: %+v", traceID, got.Records)
	login, failed := got.Records[0], got.Records[1]
	checks := []struct{ name, got, want string }{
		{"first record (oldest first) event", login.Event, "user.login"},
		{"second record event", failed.Event, "payment.failed"},
		{"login level", login.Level, "info"},
		{"payment level", failed.Level, "error"},
		{"user_id", login.UserID, "u-42"},
		{"ip_address", login.IPAddress, "203.0.113.7"},
		{"trace_id", login.TraceID, traceID},
		{"message", login.Message, "user logged in"},
		{"tenant_id", login.TenantID, "acme"},
		{"service_name", login.Service, "billing"},
		{"scope", login.Scope, "auth"},
		{"password attribute", fmt.Sprint(login.Attributes["password"]), "[REDACTED]"},
	}
	for _, c := range checks {
		assert.Equal(t, c.want, c.got, c.name)
	}
	assert.NotEmpty(t, login.ID, "id must be set")
	assert.NotEmpty(t, login.SpanID, "span_id must be set")

	// The same record is reachable by id and through the filtered list.
	var one apiRecord
	getJSON(t, queryURL+"/api/v1/logs/"+login.ID, &one)
	assert.Equal(t, login.ID, one.ID, "GET /logs/{id} = %+v, want the login record", one)
	assert.Equal(t, "user.login", one.Event, "GET /logs/{id} = %+v, want the login record", one)
	var list struct {
		Records []apiRecord `json:"records"`
	}
	getJSON(t, queryURL+"/api/v1/logs?user_id=u-42&level=error", &list)
	if assert.Len(t, list.Records, 1, "GET /logs?user_id=u-42&level=error = %+v, want only payment.failed", list.Records) {
		assert.Equal(t, "payment.failed", list.Records[0].Event, "GET /logs?user_id=u-42&level=error, want only payment.failed")
	}

	// The README's curl example: the OTLP/HTTP JSON file posted as is, read back by trace id.
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "otlp-log.json"))
	require.NoError(t, err)
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/v1/logs", p.http), "application/json", bytes.NewReader(example))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "POST examples/otlp-log.json: %s", resp.Status)
	var readme struct {
		Records []apiRecord `json:"records"`
	}
	waitForTrace(t, queryURL, "5b8efff798038103d269b633813fc60c", 1)
	getJSON(t, queryURL+"/api/v1/traces/5b8efff798038103d269b633813fc60c", &readme)
	if assert.Len(t, readme.Records, 1, "README example read back as %+v", readme.Records) {
		r := readme.Records[0]
		assert.Equal(t, "user.login", r.Event, "README example read back as %+v", readme.Records)
		assert.Equal(t, "acme", r.TenantID, "README example read back as %+v", readme.Records)
		assert.Equal(t, "[REDACTED]", r.Attributes["password"], "README example read back as %+v", readme.Records)
	}

	// The README's audit receiver example: a plain JSON event, read back with its fields.
	event, err := os.ReadFile(filepath.Join("..", "..", "examples", "audit-event.json"))
	require.NoError(t, err)
	resp, err = http.Post(fmt.Sprintf("http://127.0.0.1:%d/v1/events", p.audit), "application/json", bytes.NewReader(event))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "POST examples/audit-event.json: %s", resp.Status)
	waitForTrace(t, queryURL, "4bf92f3577b34da6a3ce929d0e0e4736", 1)
	var posted apiRecord
	getJSON(t, queryURL+"/api/v1/logs/evt-2f1c9a", &posted)
	eventChecks := []struct{ name, got, want string }{
		{"id (the idempotency key)", posted.ID, "evt-2f1c9a"},
		{"event", posted.Event, "course.deleted"},
		{"level", posted.Level, "warn"},
		{"tenant_id", posted.TenantID, "acme"},
		{"user_id", posted.UserID, "u-7"},
		{"message", posted.Message, "course deleted by its owner"},
		{"trace_id", posted.TraceID, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"ip_address (from the connection)", posted.IPAddress, "127.0.0.1"},
	}
	for _, c := range eventChecks {
		assert.Equal(t, c.want, c.got, "audit event %s", c.name)
	}

	// The README's verify example: every acme record is on its chain, intact.
	var acme struct {
		Records []apiRecord `json:"records"`
	}
	getJSON(t, queryURL+"/api/v1/logs?tenant=acme&limit=1000", &acme)
	var report struct {
		OK          bool `json:"ok"`
		Records     int  `json:"records_checked"`
		Signed      bool `json:"signatures_checked"`
		Unsigned    int  `json:"unsigned_tail"`
		FirstBroken any  `json:"first_broken"`
	}
	getJSON(t, queryURL+"/api/v1/verify?tenant=acme", &report)
	verifyMsg := "verify acme = %+v; want ok over acme's %d records with signatures checked"
	assert.True(t, report.OK, verifyMsg, report, len(acme.Records))
	assert.Equal(t, len(acme.Records), report.Records, verifyMsg, report, len(acme.Records))
	assert.GreaterOrEqual(t, report.Records, 2, verifyMsg, report, len(acme.Records))
	assert.True(t, report.Signed, verifyMsg, report, len(acme.Records))

	code := proc.Stop(t, syscall.SIGTERM, 30*time.Second)
	require.Zero(t, code, "exit code after SIGTERM, want 0\n%s", proc.Output.String())
	// The clean stop signed acme's head, in the database and as a file outside it.
	files, err := filepath.Glob(filepath.Join(dataDir, "checkpoints", "acme", "*.json"))
	assert.NoError(t, err, "checkpoint files for acme")
	assert.NotEmpty(t, files, "no checkpoint file for acme after the stop")

	// Nothing on disk holds the planted secret.
	assertNoFileContains(t, dataDir, "hunter2")
}

func writeSigningKey(t *testing.T, path string) {
	t.Helper()
	priv, _, err := chain.GenerateKey()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, priv, 0o600))
}

// waitForTrace polls the trace endpoint until it lists want records.
func waitForTrace(t *testing.T, queryURL, traceID string, want int) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(queryURL + "/api/v1/traces/" + traceID)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var body struct {
			Records []json.RawMessage `json:"records"`
		}
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&body) == nil && len(body.Records) >= want
	}, 20*time.Second, 50*time.Millisecond, "trace %s did not show %d records within 20s", traceID, want)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoErrorf(t, err, "GET %s", url)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, resp.Status)
	require.NoErrorf(t, json.NewDecoder(resp.Body).Decode(v), "GET %s: decode", url)
}

func assertNoFileContains(t *testing.T, dir, secret string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		assert.False(t, strings.Contains(string(b), secret), "%s contains the planted secret %q", path, secret)
		return nil
	})
	require.NoError(t, err)
}
