package auditqueryextension

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensioncapabilities"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/livetail"
	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/auditstore"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// queryExtension serves the query API over the store of the auditstore extension it names.
type queryExtension struct {
	cfg      *Config
	settings extension.Settings
	backends backendSlot

	// hub is the live feed. It is set by Start and closed by Shutdown; Publish before Start or
	// after Shutdown is a no-op, since nobody can be listening.
	hub atomic.Pointer[livetail.Hub]

	unsubscribe func() // ends the live feed's subscription to the store's commits
	stopFollow  func() // stops the store follower and waits for it; nil when none runs
	// pipelines is "starting", "ready" or "stopping": what the collector last told this
	// extension through Ready and NotReady, served in /api/v1/health.
	pipelines atomic.Value

	mu     sync.Mutex
	server *http.Server
	api    *api
	addr   net.Addr      // where the server listens; set by Start
	served chan struct{} // closed when the Serve goroutine has returned
}

var (
	_ extension.Extension                   = (*queryExtension)(nil)
	_ extensioncapabilities.Dependent       = (*queryExtension)(nil)
	_ extensioncapabilities.PipelineWatcher = (*queryExtension)(nil)
)

// Ready is called once every pipeline has started.
func (e *queryExtension) Ready() error { e.pipelines.Store(pipelinesReady); return nil }

// NotReady is called when the collector begins to stop its receivers.
func (e *queryExtension) NotReady() error { e.pipelines.Store(pipelinesStopping); return nil }

func newQueryExtension(cfg *Config, set extension.Settings) *queryExtension {
	return &queryExtension{cfg: cfg, settings: set}
}

// Dependencies makes the collector start the auditstore extension first and stop it last.
func (e *queryExtension) Dependencies() []component.ID { return []component.ID{e.cfg.Store} }

// registerBackend makes the API serve b. It fails if a backend is already registered.
func (e *queryExtension) registerBackend(b Backend) error { return e.backends.register(b) }

// unregisterBackend stops serving the backend. It returns once no request uses the store any
// more.
func (e *queryExtension) unregisterBackend() { e.backends.unregister() }

// publish hands committed records to the live streams. It never blocks (see livetail.Hub).
func (e *queryExtension) publish(records []record.Record) {
	if hub := e.hub.Load(); hub != nil {
		hub.Publish(records)
	}
}

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
	var gate *jwtGate
	if e.cfg.JWT.HasValue() {
		var err error
		if gate, err = newJWTGate(e.cfg.JWT.Get()); err != nil {
			return fmt.Errorf("auditquery: %w", err)
		}
	}
	handle, err := auditstore.Find(host, e.cfg.Store)
	if err != nil {
		return fmt.Errorf("auditquery: store: %w", err)
	}
	followed, err := followedLog(e.cfg.Stream.FollowStore, handle.Store(), handle.ReadOnly())
	if err != nil {
		return fmt.Errorf("auditquery: %w", err)
	}
	telemetry, err := metadata.NewTelemetryBuilder(e.settings.TelemetrySettings)
	if err != nil {
		return fmt.Errorf("auditquery: telemetry: %w", err)
	}
	hub := livetail.New(livetail.Options{BufferSize: e.cfg.Stream.BufferSize, MaxSkipped: e.cfg.Stream.MaxSkipped})
	handler := newAPI(e.settings.Logger, &e.backends, apiSettings{
		telemetry:      telemetry,
		pipelines:      &e.pipelines,
		authConfigured: e.cfg.authenticated(),
		authParams:     authParams,
		queryTimeout:   e.cfg.QueryTimeout,
		jwt:            gate,
		hub:            hub,
		streamCfg:      streamSettingsFrom(e.cfg.Stream),
		rateLimit:      e.cfg.RateLimit,
	})

	ln, err := e.cfg.ToListener(ctx)
	if err != nil {
		telemetry.Shutdown()
		return fmt.Errorf("auditquery: listen on %q: %w", e.cfg.NetAddr.Endpoint, err)
	}
	srv, err := e.cfg.ToServer(ctx, host.GetExtensions(), e.settings.TelemetrySettings, handler,
		confighttp.WithErrorHandler(writeTransportError))
	if err != nil {
		_ = ln.Close()
		telemetry.Shutdown()
		return fmt.Errorf("auditquery: build server: %w", err)
	}

	done := make(chan struct{})
	e.mu.Lock()
	e.server, e.api, e.addr, e.served = srv, handler, ln.Addr(), done
	e.mu.Unlock()
	e.hub.Store(hub)
	if err := e.registerBackend(backendOf(handle)); err != nil {
		return fmt.Errorf("auditquery: %w", err)
	}
	feed := e.publish
	if followed != nil {
		// The follower publishes this collector's commits too (at once, through Local), so
		// that a record its poll also finds goes out once.
		follower := e.newStoreFollower(followed, telemetry)
		feed = follower.Local
		followCtx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { defer close(stopped); follower.Run(followCtx) }()
		e.stopFollow = func() { cancel(); <-stopped }
	}
	e.unsubscribe = handle.Subscribe(feed)

	e.settings.Logger.Info("audit query API listening", zap.String("endpoint", ln.Addr().String()),
		zap.Bool("auth", e.cfg.Auth.HasValue()), zap.Bool("jwt", gate != nil), zap.Bool("stream_follows_store", followed != nil))
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
	srv, handler, done := e.server, e.api, e.served
	e.server, e.api = nil, nil
	e.mu.Unlock()
	if srv == nil {
		return nil
	}
	if e.unsubscribe != nil {
		e.unsubscribe()
	}
	if e.stopFollow != nil {
		e.stopFollow()
		e.stopFollow = nil
	}
	// Streams first: http.Server.Shutdown waits for active requests, and a stream is active
	// until its subscription ends. Closing the hub ends every stream with a close frame (or a
	// final SSE event) at once.
	if hub := e.hub.Swap(nil); hub != nil {
		hub.Close()
	}
	err := srv.Shutdown(ctx)
	handler.streamsRunning.wait(ctx)
	if handler.telemetry != nil {
		handler.telemetry.Shutdown()
	}
	e.unregisterBackend()
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
