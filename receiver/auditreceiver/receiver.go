package auditreceiver // import "github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver"

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
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"
)

// eventsPath is where audit events are posted.
const eventsPath = "/v1/events"

type auditReceiver struct {
	cfg      *Config
	settings receiver.Settings
	next     consumer.Logs
	obsrep   *receiverhelper.ObsReport
	resolver clientResolver

	// mu guards server and addr: Start and Shutdown may race when the collector aborts startup.
	mu     sync.Mutex
	server *http.Server
	addr   net.Addr
	// serving is done when the Serve goroutine has returned.
	serving sync.WaitGroup
}

func newAuditReceiver(cfg *Config, set receiver.Settings, next consumer.Logs) (*auditReceiver, error) {
	trusted, err := parseAddressList("trusted_proxies", cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("create audit receiver: %w", err)
	}
	senders, err := parseAddressList("trusted_senders", cfg.TrustedSenders)
	if err != nil {
		return nil, fmt.Errorf("create audit receiver: %w", err)
	}
	obsrep, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "http",
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, fmt.Errorf("create audit receiver: obsreport: %w", err)
	}
	return &auditReceiver{
		cfg:      cfg,
		settings: set,
		next:     next,
		obsrep:   obsrep,
		resolver: clientResolver{trusted: trusted, senders: senders},
	}, nil
}

// Start listens on the configured endpoint and serves in the background. A failure of the
// listener after Start returned is reported to the host as a fatal error.
func (r *auditReceiver) Start(ctx context.Context, host component.Host) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.server != nil {
		return errors.New("start audit receiver: already started")
	}

	server, err := r.cfg.ServerConfig.ToServer(ctx, host.GetExtensions(), r.settings.TelemetrySettings, r.routes(),
		confighttp.WithErrorHandler(writeTransportError))
	if err != nil {
		return fmt.Errorf("start audit receiver: create server: %w", err)
	}
	ln, err := r.cfg.ServerConfig.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("start audit receiver: listen on %s: %w", r.cfg.ServerConfig.NetAddr.Endpoint, err)
	}
	r.server, r.addr = server, ln.Addr()
	r.settings.Logger.Info("Audit receiver listening", zap.String("endpoint", ln.Addr().String()), zap.String("path", eventsPath))

	r.serving.Add(1)
	go func() {
		defer r.serving.Done()
		if err := server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(fmt.Errorf("audit receiver: serve: %w", err)))
		}
	}()
	return nil
}

// Shutdown stops accepting connections and waits, within ctx, for requests in flight: a request
// whose events reached the pipeline still gets its answer. Safe before Start and more than once.
func (r *auditReceiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	server := r.server
	r.mu.Unlock()
	if server == nil {
		return nil
	}
	err := server.Shutdown(ctx)
	r.serving.Wait()
	if err != nil {
		return fmt.Errorf("shutdown audit receiver: %w", err)
	}
	return nil
}

func (r *auditReceiver) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(eventsPath, r.handleEvents)
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("no such path %q; post events to %s", req.URL.Path, eventsPath))
	})
	return mux
}
