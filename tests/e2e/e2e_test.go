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
	if err != nil {
		t.Fatal(err)
	}
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
	if err := lp.ForceFlush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}

	var got struct {
		TraceID string      `json:"trace_id"`
		Records []apiRecord `json:"records"`
	}
	// Acknowledged means durable, not yet queryable: records appear after the next flush.
	waitForTrace(t, queryURL, traceID, 2)
	getJSON(t, queryURL+"/api/v1/traces/"+traceID, &got)
	if got.TraceID != traceID {
		t.Errorf("trace_id = %q, want %q", got.TraceID, traceID)
	}
	if len(got.Records) != 2 {
		t.Fatalf("got %d records for trace %s, want 2: %+v", len(got.Records), traceID, got.Records)
	}
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
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if login.ID == "" || login.SpanID == "" {
		t.Errorf("id %q and span_id %q must be set", login.ID, login.SpanID)
	}

	// The same record is reachable by id and through the filtered list.
	var one apiRecord
	getJSON(t, queryURL+"/api/v1/logs/"+login.ID, &one)
	if one.ID != login.ID || one.Event != "user.login" {
		t.Errorf("GET /logs/{id} = %+v, want the login record", one)
	}
	var list struct {
		Records []apiRecord `json:"records"`
	}
	getJSON(t, queryURL+"/api/v1/logs?user_id=u-42&level=error", &list)
	if len(list.Records) != 1 || list.Records[0].Event != "payment.failed" {
		t.Errorf("GET /logs?user_id=u-42&level=error = %+v, want only payment.failed", list.Records)
	}

	// The README's curl example: the OTLP/HTTP JSON file posted as is, read back by trace id.
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "otlp-log.json"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/v1/logs", p.http), "application/json", bytes.NewReader(example))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST examples/otlp-log.json: %s", resp.Status)
	}
	var readme struct {
		Records []apiRecord `json:"records"`
	}
	waitForTrace(t, queryURL, "5b8efff798038103d269b633813fc60c", 1)
	getJSON(t, queryURL+"/api/v1/traces/5b8efff798038103d269b633813fc60c", &readme)
	if len(readme.Records) != 1 || readme.Records[0].Event != "user.login" || readme.Records[0].TenantID != "acme" ||
		readme.Records[0].Attributes["password"] != "[REDACTED]" {
		t.Errorf("README example read back as %+v", readme.Records)
	}

	// The README's audit receiver example: a plain JSON event, read back with its fields.
	event, err := os.ReadFile(filepath.Join("..", "..", "examples", "audit-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Post(fmt.Sprintf("http://127.0.0.1:%d/v1/events", p.audit), "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST examples/audit-event.json: %s", resp.Status)
	}
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
		if c.got != c.want {
			t.Errorf("audit event %s = %q, want %q", c.name, c.got, c.want)
		}
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
	if !report.OK || report.Records != len(acme.Records) || report.Records < 2 || !report.Signed {
		t.Errorf("verify acme = %+v; want ok over acme's %d records with signatures checked", report, len(acme.Records))
	}

	if code := proc.Stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0\n%s", code, proc.Output.String())
	}
	// The clean stop signed acme's head, in the database and as a file outside it.
	files, err := filepath.Glob(filepath.Join(dataDir, "checkpoints", "acme", "*.json"))
	if err != nil || len(files) == 0 {
		t.Errorf("no checkpoint file for acme after the stop (%v)", err)
	}

	// Nothing on disk holds the planted secret.
	assertNoFileContains(t, dataDir, "hunter2")
}

func writeSigningKey(t *testing.T, path string) {
	t.Helper()
	priv, _, err := chain.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, priv, 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitForTrace polls the trace endpoint until it lists want records.
func waitForTrace(t *testing.T, queryURL, traceID string, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(queryURL + "/api/v1/traces/" + traceID)
		if err == nil {
			var body struct {
				Records []json.RawMessage `json:"records"`
			}
			ok := resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&body) == nil && len(body.Records) >= want
			resp.Body.Close()
			if ok {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("trace %s did not show %d records within 20s", traceID, want)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var body strings.Builder
		_, _ = fmt.Fprint(&body, resp.Status)
		t.Fatalf("GET %s: %s", url, body.String())
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decode: %v", url, err)
	}
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
		if strings.Contains(string(b), secret) {
			t.Errorf("%s contains the planted secret %q", path, secret)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
