package auditqueryextension

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/extension"
	"go.uber.org/zap"
)

// queryExtension serves the query API and is the BackendRegistry the exporter registers with.
type queryExtension struct {
	cfg      *Config
	settings extension.Settings
	backends backendSlot

	mu     sync.Mutex
	server *http.Server
	addr   net.Addr      // where the server listens; set by Start
	served chan struct{} // closed when the Serve goroutine has returned
}

var (
	_ extension.Extension = (*queryExtension)(nil)
	_ BackendRegistry     = (*queryExtension)(nil)
)

func newQueryExtension(cfg *Config, set extension.Settings) *queryExtension {
	return &queryExtension{cfg: cfg, settings: set}
}

// RegisterBackend makes the API serve b. It fails if a backend is already registered.
func (e *queryExtension) RegisterBackend(b Backend) error { return e.backends.register(b) }

// UnregisterBackend stops serving the backend. It returns once no request uses the store any
// more, so the caller may close the store right after.
func (e *queryExtension) UnregisterBackend() { e.backends.unregister() }

func (e *queryExtension) Start(ctx context.Context, host component.Host) error {
	// Validate again: a Config built in code never went through the collector's validation, and
	// the exposure rule must hold however the extension was created.
	if err := e.cfg.Validate(); err != nil {
		return fmt.Errorf("auditquery: %w", err)
	}
	var authParams []string
	if e.cfg.Auth.HasValue() {
		authParams = e.cfg.Auth.Get().RequestParameters
	}
	handler := newAPI(e.settings.Logger, &e.backends, apiSettings{
		authConfigured: e.cfg.Auth.HasValue(),
		authParams:     authParams,
		queryTimeout:   e.cfg.QueryTimeout,
	})

	ln, err := e.cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("auditquery: listen on %q: %w", e.cfg.NetAddr.Endpoint, err)
	}
	srv, err := e.cfg.ToServer(ctx, host.GetExtensions(), e.settings.TelemetrySettings, handler,
		confighttp.WithErrorHandler(writeTransportError))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("auditquery: build server: %w", err)
	}

	done := make(chan struct{})
	e.mu.Lock()
	e.server, e.addr, e.served = srv, ln.Addr(), done
	e.mu.Unlock()

	e.settings.Logger.Info("audit query API listening", zap.String("endpoint", ln.Addr().String()),
		zap.Bool("auth", e.cfg.Auth.HasValue()))
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(fmt.Errorf("auditquery: serve: %w", err)))
		}
	}()
	return nil
}

// Shutdown stops accepting connections and waits for running requests until ctx ends. It is safe
// before Start and when called twice.
func (e *queryExtension) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	srv, done := e.server, e.served
	e.server = nil
	e.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	select {
	case <-done:
	case <-ctx.Done():
	}
	if err != nil {
		return fmt.Errorf("auditquery: shutdown: %w", err)
	}
	return nil
}

// address is where the server listens, for tests that bind port 0.
func (e *queryExtension) address() net.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.addr
}
