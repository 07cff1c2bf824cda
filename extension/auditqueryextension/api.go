package auditqueryextension

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/livetail"
	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/health"
	"github.com/otelcol-audit/otelcol-audit/internal/httpjson"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Paths of the API. streamPath is also where the JWT gate accepts access_token.
const (
	logsPath      = "/api/v1/logs"
	logPath       = "/api/v1/logs/{id}"
	tracePath     = "/api/v1/traces/{trace_id}"
	statsPath     = "/api/v1/stats"
	streamPath    = "/api/v1/stream"
	healthPath    = "/api/v1/health"
	retentionPath = "/api/v1/retention/run"
	verifyPath    = "/api/v1/verify"
	openAPIPath   = "/openapi.json"
)

// api is the HTTP query API. It is a plain http.Handler so that tests can drive it with
// httptest and the extension can hand it to confighttp, which wraps it with auth, CORS,
// decompression and telemetry.
type api struct {
	apiSettings
	logger   *zap.Logger
	backends *backendSlot
	mux      *http.ServeMux
	// served lists "METHOD path" of every route, for the OpenAPI document's test.
	served []string

	limiter     *userLimiter // nil: no rate limit
	streamSlots *streamLimits
	// streamsRunning counts streams past their upgrade; Shutdown waits for them, since
	// http.Server.Shutdown does not track hijacked WebSocket connections.
	streamsRunning runningStreams
}

// apiSettings is what the API takes from the extension's configuration.
type apiSettings struct {
	// pipelines is the collector's pipeline state (extension.go); nil reads as "starting".
	pipelines      *atomic.Value
	authConfigured bool
	// authParams are query parameters the auth extension reads (confighttp's request_params,
	// e.g. a token for browsers that cannot set headers); they are accepted everywhere.
	authParams []string
	// queryTimeout bounds every store call. It also bounds how long UnregisterBackend, and so
	// the exporter's shutdown, can wait for requests in flight.
	queryTimeout time.Duration
	// jwt, when set, authenticates every /api/ request (authConfigured is then true too).
	jwt *jwtGate
	// hub feeds the live stream; nil answers 503 on /api/v1/stream.
	hub       *livetail.Hub
	streamCfg streamSettings
	// telemetry counts what the stream throttles; nil in tests that do not look.
	telemetry *metadata.TelemetryBuilder
	rateLimit RateLimitConfig
	// now is the clock (tests move it).
	now func() time.Time
}

func newAPI(logger *zap.Logger, backends *backendSlot, set apiSettings) *api {
	if set.now == nil {
		set.now = time.Now
	}
	if set.streamCfg == (streamSettings{}) {
		set.streamCfg = defaultStreamSettings()
	}
	a := &api{
		apiSettings: set,
		logger:      logger,
		backends:    backends,
		mux:         http.NewServeMux(),
		limiter:     newUserLimiter(set.rateLimit.Requests, set.rateLimit.Window),
		streamSlots: newStreamLimits(set.streamCfg.maxPerUser),
	}
	a.routes()
	return a
}

func defaultStreamSettings() streamSettings {
	d := createDefaultConfig().(*Config).Stream
	return streamSettingsFrom(d)
}

func streamSettingsFrom(c StreamConfig) streamSettings {
	return streamSettings{
		maxPerUser:        c.MaxPerUser,
		heartbeatInterval: c.HeartbeatInterval,
		writeTimeout:      c.WriteTimeout,
		maxReplay:         c.MaxReplay,

		maxMessagesPerSecond: c.MaxMessagesPerSecond,
	}
}

// routes is the API's table of contents. Paths are registered without a method so that a wrong
// method reaches route's own 405 (in the API's JSON shape) instead of the mux's plain-text one.
func (a *api) routes() {
	a.route(http.MethodGet, logsPath, a.listLogs, limited)
	a.route(http.MethodGet, logPath, a.getLog, limited)
	a.route(http.MethodGet, tracePath, a.getTrace, limited)
	a.route(http.MethodGet, statsPath, a.stats, limited)
	a.route(http.MethodGet, streamPath, a.stream, limited)
	// Health is not rate limited: probes poll it, and it reads no records.
	a.route(http.MethodGet, healthPath, a.health, unlimited)
	a.route(http.MethodPost, retentionPath, a.runRetention, limited)
	a.route(http.MethodGet, verifyPath, a.verify, limited)
	a.route(http.MethodGet, exportPath, a.exportChain, limited)
	a.route(http.MethodGet, openAPIPath, a.openAPI, unlimited)
	a.route(http.MethodGet, whoamiPath, a.whoami, limited)
	a.viewerRoutes()
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("no such endpoint: "+quote(r.URL.Path)))
	})
}

// handlerFunc writes a success itself and returns the error to answer otherwise.
type handlerFunc func(w http.ResponseWriter, r *http.Request) *apiError

type rateLimited bool

const (
	limited   rateLimited = true
	unlimited rateLimited = false
)

// route serves method on pattern (GET also answers HEAD, which net/http sends without a body).
func (a *api) route(method, pattern string, h handlerFunc, rl rateLimited) {
	a.served = append(a.served, method+" "+pattern)
	allow := method
	if method == http.MethodGet {
		allow = "GET, HEAD"
	}
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && (method != http.MethodGet || r.Method != http.MethodHead) {
			w.Header().Set("Allow", allow)
			writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Code: codeMethodNotAllowed, Message: r.Method + " is not allowed here; use " + method})
			return
		}
		if rl == limited && a.limiter != nil && !a.exemptFromLimit(r) {
			// An unauthenticated request is refused by the handler anyway; it spends no budget.
			if caller, e := principalFromRequest(r, a.authConfigured); e == nil {
				if ok, wait := a.limiter.allow(a.callerKey(r, caller), a.now()); !ok {
					w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
					writeError(w, &apiError{Status: http.StatusTooManyRequests, Code: codeRateLimited,
						Message: fmt.Sprintf("more than %d requests in %s; retry later", a.rateLimit.Requests, a.rateLimit.Window)})
					return
				}
			}
		}
		if e := h(w, r); e != nil {
			writeError(w, e)
		}
	})
}

// ServeHTTP authenticates /api/ requests when the built-in JWT check is configured. The viewer's
// files and the OpenAPI document hold no data and stay public, so that a browser can load the
// page that asks for the token.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.jwt != nil && strings.HasPrefix(r.URL.Path, "/api/") {
		authed, e := a.jwt.authenticate(r)
		if e != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="auditquery"`)
			writeError(w, e)
			return
		}
		r = authed
	}
	a.mux.ServeHTTP(w, r)
}

type logsResponse struct {
	Records []record.Record `json:"records"`
	// NextCursor is omitted on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

func (a *api) listLogs(w http.ResponseWriter, r *http.Request) *apiError {
	caller, e := principalFromRequest(r, a.authConfigured)
	if e != nil {
		return e
	}
	p := newParams(r.URL.Query(), filterParams, []string{paramLimit, paramCursor}, a.authParams)
	filter := p.parseFilter()
	page := p.page()
	if p.err != nil {
		return p.err
	}
	if filter.TenantID, e = caller.scope(filter.TenantID); e != nil {
		return e
	}

	var res store.Result
	if e := a.withStore(r, "query", func(ctx context.Context, b Backend) (err error) {
		res, err = b.Store.Query(ctx, filter, page)
		return err
	}); e != nil {
		return e
	}
	httpjson.Write(w, http.StatusOK, logsResponse{
		Records:    a.visible(filter.TenantID, res.Records),
		NextCursor: res.NextCursor,
	})
	return nil
}

// withStore is every query handler's preamble: it runs fn on the served backend under the
// query timeout, answering 503 when no store is open and turning fn's error into the answer
// (op names the store call in the log).
func (a *api) withStore(r *http.Request, op string, fn func(ctx context.Context, b Backend) error) *apiError {
	b, release, ok := a.backends.acquire()
	if !ok {
		return errNoBackend
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), a.queryTimeout)
	defer cancel()
	if err := fn(ctx, b); err != nil {
		return a.storeError(op, err)
	}
	return nil
}

// tenantScope serves the single-record endpoints, whose only parameter is tenant: it returns
// the tenant the caller may read ("" for an admin looking across tenants).
func (a *api) tenantScope(r *http.Request) (string, *apiError) {
	caller, e := principalFromRequest(r, a.authConfigured)
	if e != nil {
		return "", e
	}
	p := newParams(r.URL.Query(), []string{paramTenant}, a.authParams)
	requested := p.tenant()
	if p.err != nil {
		return "", p.err
	}
	return caller.scope(requested)
}

func (a *api) getLog(w http.ResponseWriter, r *http.Request) *apiError {
	tenant, e := a.tenantScope(r)
	if e != nil {
		return e
	}

	var rec record.Record
	if e := a.withStore(r, "get", func(ctx context.Context, b Backend) (err error) {
		rec, err = b.Store.Get(ctx, tenant, r.PathValue("id"))
		return err
	}); e != nil {
		return e
	}
	if len(a.visible(tenant, []record.Record{rec})) == 0 {
		return notFound("record not found")
	}
	httpjson.Write(w, http.StatusOK, rec)
	return nil
}

type traceResponse struct {
	TraceID string          `json:"trace_id"`
	Records []record.Record `json:"records"`
}

func (a *api) getTrace(w http.ResponseWriter, r *http.Request) *apiError {
	tenant, e := a.tenantScope(r)
	if e != nil {
		return e
	}
	traceID, e := parseTraceID("trace_id", r.PathValue("trace_id"))
	if e != nil {
		return e
	}

	var records []record.Record
	if e := a.withStore(r, "trace", func(ctx context.Context, b Backend) (err error) {
		records, err = b.Store.Trace(ctx, tenant, traceID)
		return err
	}); e != nil {
		return e
	}
	// A trace with no visible record is answered like a record that does not exist, so that a
	// viewer cannot tell another tenant's trace from an unknown one.
	records = a.visible(tenant, records)
	if len(records) == 0 {
		return notFound("no records of trace " + traceID)
	}
	httpjson.Write(w, http.StatusOK, traceResponse{TraceID: traceID, Records: records})
	return nil
}

// Health states. "degraded" comes from the pipeline snapshot (its own status) or a full store.
const (
	statusOK          = "ok"
	statusDegraded    = "degraded"
	statusUnavailable = "unavailable"
	// storeFull: the store answers queries but cannot take records for lack of space.
	storeFull = "full"
)

// healthCheckTimeout bounds the store's check: probes poll health and must get an answer.
const healthCheckTimeout = 5 * time.Second

type healthResponse struct {
	Status string `json:"status"`
	// Store is "ok", "full" (readable, not writable) or "unavailable" (queries fail).
	Store string `json:"store"`
	// StoreError says why the store is not ok; admins only, like the pipeline's last_error.
	StoreError string `json:"store_error,omitempty"`
	// Pipelines is the collector's pipeline state: "starting" until every pipeline has
	// started (an exporter replaying its WAL is not taking records yet), "ready", then
	// "stopping" once shutdown begins.
	Pipelines string           `json:"pipelines"`
	Pipeline  *health.Snapshot `json:"pipeline,omitempty"`
}

// pipelineState is what Ready and NotReady last said.
func (a *api) pipelineState() string {
	if a.pipelines != nil {
		if s, ok := a.pipelines.Load().(string); ok {
			return s
		}
	}
	return pipelinesStarting
}

// Pipeline states of healthResponse.Pipelines.
const (
	pipelinesStarting = "starting"
	pipelinesReady    = "ready"
	pipelinesStopping = "stopping"
)

// health answers 200 while the store answers queries, even when the pipeline is degraded or
// the store is full: records are still readable, and a load balancer must not pull the query
// API because the write path is retrying. Without a store, or with one that does not answer
// (its check fails: ClickHouse down, the file unreadable), it answers 503, as queries would.
func (a *api) health(w http.ResponseWriter, r *http.Request) *apiError {
	caller, e := principalFromRequest(r, a.authConfigured)
	if e != nil {
		return e
	}
	p := newParams(r.URL.Query(), a.authParams)
	if p.err != nil {
		return p.err
	}

	b, release, ok := a.backends.acquire()
	if !ok {
		httpjson.Write(w, http.StatusServiceUnavailable, healthResponse{Status: statusUnavailable, Store: statusUnavailable, Pipelines: a.pipelineState()})
		return nil
	}
	defer release()
	resp := healthResponse{Status: statusOK, Store: statusOK, Pipelines: a.pipelineState()}
	code := http.StatusOK
	if hc, ok := b.Store.(store.HealthChecker); ok {
		ctx, cancel := context.WithTimeout(r.Context(), min(healthCheckTimeout, a.queryTimeout))
		err := hc.CheckHealth(ctx)
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, store.ErrStorageFull):
			resp.Store = storeFull
		default:
			resp.Store, code = statusUnavailable, http.StatusServiceUnavailable
		}
		// The text names hosts and paths; only an admin sees it.
		if err != nil && caller.isAdmin() {
			resp.StoreError = err.Error()
		}
	}
	if b.Health != nil {
		snap := b.Health.Health()
		// The last error text can name files, hosts or another tenant's data; only an admin
		// sees it. Viewers still see the counts and the status.
		if !caller.isAdmin() {
			snap.LastError = ""
		}
		if snap.Status != "" {
			resp.Status = snap.Status
		}
		resp.Pipeline = &snap
	}
	// The store's state outranks a pipeline that says ok: the worst of the two is the status.
	switch resp.Store {
	case statusUnavailable:
		resp.Status = statusUnavailable
	case storeFull:
		if resp.Status == statusOK {
			resp.Status = statusDegraded
		}
	}
	httpjson.Write(w, code, resp)
	return nil
}

// visible keeps the records of tenant ("" keeps all). The store already filtered by tenant; this
// second check makes tenant isolation not depend on every backend getting it right, and a record
// dropped here is a store bug worth an error in the log.
func (a *api) visible(tenant string, records []record.Record) []record.Record {
	out := make([]record.Record, 0, len(records))
	if tenant == "" {
		return append(out, records...)
	}
	for _, rec := range records {
		if rec.TenantID == tenant {
			out = append(out, rec)
		}
	}
	if dropped := len(records) - len(out); dropped > 0 {
		a.logger.Error("audit store returned records of another tenant; they were withheld",
			zap.String("tenant", tenant), zap.Int("withheld", dropped))
	}
	return out
}
