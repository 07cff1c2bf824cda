package auditqueryextension

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/health"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/sharedstore"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// Trace ids of the fixture. traceShared has records in both tenants: a viewer must see only its
// own half of it.
const (
	traceShared = "0af7651916cd43dd8448eb211c80319c"
	traceAcme   = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceGlobex = "5cf92f3577b34da6a3ce929d0e0e4737"
	traceNone   = "6df92f3577b34da6a3ce929d0e0e4738"
)

var fixtureBase = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture is two tenants' records with known ids. Newest first overall they are
// g2, a4, a3, g1, a2, a1.
type fixture struct {
	store store.Store
	ids   map[string]string // short name -> record id
}

func (f fixture) names(ids []string) []string {
	byID := map[string]string{}
	for name, id := range f.ids {
		byID[id] = name
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		if name, ok := byID[id]; ok {
			out[i] = name
		} else {
			out[i] = "unknown:" + id
		}
	}
	return out
}

func openStore(t *testing.T) *sqlitestore.Store {
	t.Helper()
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "audit.db")
	s, err := sqlitestore.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.Migrate(context.Background()))
	return s
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	s := openStore(t)
	f := fixture{store: s, ids: map[string]string{}}
	at := func(d time.Duration) time.Time { return fixtureBase.Add(d) }
	rec := func(name, tenant string, ts time.Time, level record.Level, event, user, msg string, edit func(*record.Record)) record.Record {
		r := record.Record{
			ID:                record.NewID(),
			Timestamp:         ts,
			ObservedTimestamp: ts,
			Level:             level,
			Event:             event,
			Message:           msg,
			TenantID:          tenant,
			UserID:            user,
			ServiceName:       "billing",
			Attributes:        map[string]any{},
			Resource:          map[string]any{},
		}
		if edit != nil {
			edit(&r)
		}
		f.ids[name] = r.ID
		return r
	}
	acme := []record.Record{
		rec("a1", "acme", at(1*time.Minute), record.LevelInfo, "user.login", "alice", "alice logged in", func(r *record.Record) {
			r.ActorID, r.EntityID, r.IPAddress, r.TraceID = "alice", "doc-1", "10.0.0.1", traceShared
			r.CompanyID, r.EmployeeID, r.EntityType, r.Scope, r.Tags = "c-1", "e-1", "document", "auth", []string{"login"}
		}),
		rec("a2", "acme", at(2*time.Minute), record.LevelWarn, "doc.update", "alice", "changed the title", func(r *record.Record) {
			r.EntityID, r.TraceID = "doc-1", traceShared
			r.CompanyID, r.EmployeeID, r.EntityType, r.Scope, r.Tags = "c-1", "e-2", "document", "server", []string{"pci", "edit"}
		}),
		rec("a3", "acme", at(3*time.Minute), record.LevelSecurity, "auth.failed", "bob", "password mismatch for bob", func(r *record.Record) {
			r.IPAddress = "10.0.0.2"
			r.CompanyID, r.Scope, r.Tags = "c-2", "auth", []string{"pci", "login"}
		}),
		rec("a4", "acme", at(4*time.Minute), record.LevelError, "doc.delete", "bob", "delete refused", func(r *record.Record) {
			r.EntityID, r.TraceID = "doc-2", traceAcme
			r.EntityType, r.Scope, r.ServiceName = "document", "db", "docs"
		}),
	}
	globex := []record.Record{
		rec("g1", "globex", at(150*time.Second), record.LevelInfo, "user.login", "carol", "carol logged in", func(r *record.Record) {
			r.TraceID = traceGlobex
			r.CompanyID, r.Scope, r.Tags = "c-1", "auth", []string{"login"}
		}),
		rec("g2", "globex", at(5*time.Minute), record.LevelSecurity, "auth.failed", "carol", "token replayed", func(r *record.Record) {
			r.TraceID = traceShared
		}),
	}
	ctx := context.Background()
	_, err := s.Insert(ctx, "acme", acme)
	require.NoError(t, err)
	_, err = s.Insert(ctx, "globex", globex)
	require.NoError(t, err)
	return f
}

// fixedHealth stands in for the exporter's pipeline state, which this package does not own.
type fixedHealth health.Snapshot

func (h fixedHealth) Health() health.Snapshot { return health.Snapshot(h) }

// authData is what an auth extension leaves in client.Info.
type authData map[string]any

func (a authData) GetAttribute(name string) any { return a[name] }

func (a authData) GetAttributeNames() []string {
	names := make([]string, 0, len(a))
	for n := range a {
		names = append(names, n)
	}
	return names
}

func viewerOf(tenant string) authData {
	return authData{"subject": "viewer@" + tenant, "tenant": tenant, "role": "viewer"}
}

// testAPI is the real handler with a backend registered (unless store is nil).
func testAPI(t *testing.T, s store.Store, h health.Source, authConfigured bool) *api {
	t.Helper()
	slot := &backendSlot{}
	if s != nil {
		require.NoError(t, slot.register(Backend{Store: s, Health: h}))
	}
	return newAPI(zap.NewNop(), slot, apiSettings{authConfigured: authConfigured, queryTimeout: time.Minute})
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (r response) apiError(t *testing.T) errorBody {
	t.Helper()
	require.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"), "body: %s", r.body)
	var e errorBody
	r.decode(t, &e)
	require.NotEmpty(t, e.Error.Code, "an error body names its code: %s", r.body)
	return e
}

type listBody struct {
	Records    []record.Record `json:"records"`
	NextCursor *string         `json:"next_cursor"`
}

func (b listBody) ids() []string {
	ids := make([]string, len(b.Records))
	for i, r := range b.Records {
		ids[i] = r.ID
	}
	return ids
}

// serve runs one request through h; auth, when not nil, is the identity an auth extension would
// have attached.
func serve(h http.Handler, method, target string, auth client.AuthData) response {
	req := httptest.NewRequest(method, target, nil)
	if auth != nil {
		req = req.WithContext(client.NewContext(req.Context(), client.Info{Auth: auth}))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func get(h http.Handler, target string) response { return serve(h, http.MethodGet, target, nil) }

// unixMillis is how a browser would send t.
func unixMillis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// testAPIWithSlot is the real handler over a slot the test registers into itself.
func testAPIWithSlot(slot *backendSlot) *api {
	return newAPI(zap.NewNop(), slot, apiSettings{queryTimeout: time.Minute})
}

var storeID = component.MustNewID("auditstore")

// storeHost is a host whose auditstore extension is the real shared store, over an empty
// SQLite database in memory; the query extension serves it from Start.
func storeHost(tb testing.TB) hostWithExtensions {
	tb.Helper()
	cfg := sharedstore.DefaultConfig()
	cfg.SQLite.Path = ":memory:"
	cfg.Retention.Enabled = false
	cfg.TamperEvidence.Enabled = false
	s := sharedstore.New(cfg, zap.NewNop())
	require.NoError(tb, s.Start(context.Background(), nil))
	tb.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return hostWithExtensions{storeID: s}
}

// serveBackend makes a started extension serve b instead of its host's store.
func (e *queryExtension) serveBackend(tb testing.TB, b Backend) {
	tb.Helper()
	e.unregisterBackend()
	require.NoError(tb, e.registerBackend(b))
}
