// Command shop is a small HTTP service that writes its audit trail to otelcol-audit through the
// OpenTelemetry Go SDK: one audit record for every request it serves, and one for each thing a
// request changes. Every record is emitted inside the request's span, so it carries the trace
// ID, and it names the caller: user, tenant, client address and user agent, taken from the
// request. This is what the request middleware of an in-process audit library did; here the
// records go to the collector, which redacts, stores and serves them.
//
//	OTEL_EXPORTER_OTLP_LOGS_ENDPOINT  where to send (default http://127.0.0.1:4318/v1/logs)
//	LISTEN_ADDR                       where to serve (default 127.0.0.1:8090)
//
// Try it with the collector running (`make run` at the repository's root):
//
//	go run . &
//	curl -s -X POST http://127.0.0.1:8090/invoices -H 'X-User-ID: u-42' -H 'X-Tenant-ID: acme'
//	curl -s 'http://127.0.0.1:8089/api/v1/logs?user_id=u-42'
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	if err := run(); err != nil {
		slog.Error("shop stopped", "error", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	endpoint := envOr("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://127.0.0.1:4318/v1/logs")
	lp, err := newLoggerProvider(ctx, endpoint, "shop")
	if err != nil {
		return err
	}
	// Shutdown flushes the batch processor. Without it the records still in the batch (in a
	// short program: all of them) are lost when the process exits.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := lp.Shutdown(ctx); err != nil {
			slog.Error("flush audit records", "error", err)
		}
	}()

	// Spans give each record its trace ID. A tracer provider without an exporter is enough for
	// that; add one (otlptracehttp) to send the traces somewhere too. The propagator continues a
	// trace that the caller started (traceparent header).
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	otel.SetTextMapPropagator(propagation.TraceContext{})

	s := &shop{audit: lp.Logger("shop")}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /invoices", s.createInvoice)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	handler := otelhttp.NewHandler(s.auditRequests(mux), "shop", otelhttp.WithTracerProvider(tp))

	addr := envOr("LISTEN_ADDR", "127.0.0.1:8090")
	srv := &http.Server{Addr: addr, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe() }()
	slog.Info("shop listening", "addr", addr, "otlp_logs_endpoint", endpoint)

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Requests in flight finish, and emit their records, before the logger provider flushes.
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down HTTP server: %w", err)
	}
	return nil
}

// newLoggerProvider sends log records in batches to the collector's OTLP/HTTP receiver.
func newLoggerProvider(ctx context.Context, endpointURL, service string) (*sdklog.LoggerProvider, error) {
	exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(endpointURL))
	if err != nil {
		return nil, fmt.Errorf("OTLP log exporter for %s: %w", endpointURL, err)
	}
	return sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", service))),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)),
	), nil
}

// caller is who sent a request, as the audit trail names them.
type caller struct {
	userID, tenantID, address, userAgent string
}

type callerKey struct{}

// callerOf reads the request's caller. The user and tenant come from headers that an
// authenticating proxy in front of this service sets; put your own session or token check here.
func callerOf(r *http.Request) caller {
	c := caller{
		userID:    r.Header.Get("X-User-ID"),
		tenantID:  r.Header.Get("X-Tenant-ID"),
		userAgent: r.UserAgent(),
	}
	// The TCP peer. Behind a reverse proxy, take the client address it reports instead.
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		c.address = host
	}
	return c
}

type shop struct {
	audit log.Logger
}

// auditRequests is the request middleware: it puts the caller into the request's context for
// the handlers' own records, and writes one record per request with its method, path, status
// and duration.
func (s *shop) auditRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		ctx := context.WithValue(r.Context(), callerKey{}, callerOf(r))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))

		severity, level := log.SeverityInfo, "info"
		switch {
		case rec.status == http.StatusUnauthorized || rec.status == http.StatusForbidden:
			severity, level = log.SeverityWarn, "security"
		case rec.status >= 500:
			severity, level = log.SeverityError, "error"
		case rec.status >= 400:
			severity, level = log.SeverityWarn, "warn"
		}
		s.emit(ctx, "http.request", severity, fmt.Sprintf("%s %s answered %d", r.Method, r.URL.Path, rec.status),
			attribute.String("audit.level", level),
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.Int("http.response.status_code", rec.status),
			attribute.Float64("audit.duration_ms", float64(time.Since(start).Microseconds())/1000),
		)
	})
}

// emit writes one audit record. ctx carries the request's span, which gives the record its
// trace and span ID, and the caller, which gives it user, tenant, client address and user agent.
func (s *shop) emit(ctx context.Context, event string, severity log.Severity, message string, attrs ...attribute.KeyValue) {
	var r log.Record
	r.SetTimestamp(time.Now())
	r.SetEventName(event)
	r.SetSeverity(severity)
	r.SetBody(attribute.StringValue(message))
	if c, ok := ctx.Value(callerKey{}).(caller); ok {
		r.AddAttributes(
			attribute.String("user.id", c.userID),
			attribute.String("tenant.id", c.tenantID),
			attribute.String("client.address", c.address),
			attribute.String("user_agent.original", c.userAgent),
		)
	}
	r.AddAttributes(attrs...)
	s.audit.Emit(ctx, r)
}

func (s *shop) createInvoice(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-User-ID") == "" || r.Header.Get("X-Tenant-ID") == "" {
		http.Error(w, "who are you? (X-User-ID and X-Tenant-ID)", http.StatusUnauthorized)
		return
	}
	id := "inv-" + rand.Text()[:10]
	s.emit(r.Context(), "invoice.created", log.SeverityInfo, "invoice "+id+" created",
		attribute.String("audit.entity_type", "invoice"),
		attribute.String("audit.entity_id", id),
	)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
