package auditqueryextension

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// startExtension starts the extension from cfg with host and stops it at cleanup.
func startExtension(t *testing.T, cfg *Config, host component.Host) *queryExtension {
	t.Helper()
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), host))
	t.Cleanup(func() { assert.NoError(t, ext.Shutdown(context.Background())) })
	return ext.(*queryExtension)
}

func loopbackConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	return cfg
}

func httpGet(t *testing.T, url string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return response{status: res.StatusCode, header: res.Header, body: body}
}

func TestExtension_ServesOverRealHTTPFromStartToShutdown(t *testing.T) {
	cfg := loopbackConfig()
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), storeHost(t)))
	qe := ext.(*queryExtension)
	base := "http://" + qe.address().String()

	resp := httpGet(t, base+"/api/v1/health", nil)
	assert.Equal(t, http.StatusOK, resp.status, "the host's store is served from Start: %s", resp.body)

	f := newFixture(t)
	qe.serveBackend(t, Backend{Store: f.store, Health: fixedHealth{Status: "ok"}})

	resp = httpGet(t, base+"/api/v1/health", nil)
	assert.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	resp = httpGet(t, base+"/api/v1/logs?tenant=globex", nil)
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	var body listBody
	resp.decode(t, &body)
	assert.Equal(t, []string{"g2", "g1"}, f.names(body.ids()))

	qe.unregisterBackend()
	assert.Equal(t, http.StatusServiceUnavailable, httpGet(t, base+"/api/v1/logs", nil).status)

	require.NoError(t, ext.Shutdown(context.Background()))
	_, err = http.Get(base + "/api/v1/health")
	assert.Error(t, err, "the port is closed after Shutdown")
	require.NoError(t, ext.Shutdown(context.Background()), "a second Shutdown is harmless")
}

func TestExtension_RefusesAnOpenEndpointWithoutAuth(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "0.0.0.0:8089"
	want := `endpoint "0.0.0.0:8089" is not loopback and no auth is configured; set jwt, auth or allow_unauthenticated: true`

	require.EqualError(t, cfg.Validate(), want)

	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	err = ext.Start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err, "Start checks again, for configs that skipped Validate")
	assert.Contains(t, err.Error(), want)
	assert.NoError(t, ext.Shutdown(context.Background()), "Shutdown after a refused Start is harmless")
}

func TestIsLocalEndpoint(t *testing.T) {
	tests := []struct {
		endpoint string
		want     bool
	}{
		{"127.0.0.1:8089", true},
		{"127.8.9.10:8089", true},
		{"localhost:8089", true},
		{"LocalHost:8089", true},
		{"[::1]:8089", true},
		{"0.0.0.0:8089", false},
		{":8089", false},
		{"[::]:8089", false},
		{"192.168.1.10:8089", false},
		{"audit.internal:8089", false},
		{"no-port", false},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			assert.Equal(t, tt.want, isLocalEndpoint("tcp", tt.endpoint))
		})
	}
	assert.True(t, isLocalEndpoint("unix", "/run/audit/query.sock"), "a Unix socket is reachable only on this machine")
}

// tokenAuth is a minimal server authenticator: a bearer token names a fixed identity. It goes
// through confighttp's real auth path, the way a JWT or OIDC extension would.
type tokenAuth struct {
	component.StartFunc
	component.ShutdownFunc
	identities map[string]authData
}

var _ extensionauth.Server = (*tokenAuth)(nil)

func (a *tokenAuth) Authenticate(ctx context.Context, sources map[string][]string) (context.Context, error) {
	var token string
	for k, v := range sources {
		switch {
		case len(v) == 0:
		case strings.EqualFold(k, "Authorization"):
			token = strings.TrimPrefix(v[0], "Bearer ")
		case k == "access_token":
			token = v[0]
		}
	}
	id, ok := a.identities[token]
	if !ok {
		return ctx, errors.New("missing or unknown bearer token")
	}
	info := client.FromContext(ctx)
	info.Auth = id
	return client.NewContext(ctx, info), nil
}

type hostWithExtensions map[component.ID]component.Component

func (h hostWithExtensions) GetExtensions() map[component.ID]component.Component { return h }

func TestExtension_TakesTheCallerFromTheConfiguredAuthExtension(t *testing.T) {
	authID := component.MustNewID("tokenauth")
	host := storeHost(t)
	host[authID] = &tokenAuth{identities: map[string]authData{
		"acme-viewer": viewerOf("acme"),
		"root":        {"subject": "root", "role": "admin"},
	}}
	cfg := loopbackConfig()
	cfg.Auth = configoptional.Some(confighttp.AuthConfig{
		Config:            configauth.Config{AuthenticatorID: authID},
		RequestParameters: []string{"access_token"},
	})
	qe := startExtension(t, cfg, host)
	f := newFixture(t)
	qe.serveBackend(t, Backend{Store: f.store})
	base := "http://" + qe.address().String()
	bearer := func(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

	t.Run("a request without a token is 401 in the API's JSON shape", func(t *testing.T) {
		resp := httpGet(t, base+"/api/v1/logs", nil)
		require.Equal(t, http.StatusUnauthorized, resp.status, "body: %s", resp.body)
		e := resp.apiError(t)
		assert.Equal(t, codeUnauthenticated, e.Error.Code)
		assert.Contains(t, e.Error.Message, "missing or unknown bearer token")
		assert.Equal(t, "Bearer", resp.header.Get("WWW-Authenticate"))
	})

	t.Run("a viewer's list holds only its tenant", func(t *testing.T) {
		resp := httpGet(t, base+"/api/v1/logs", bearer("acme-viewer"))
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
		var body listBody
		resp.decode(t, &body)
		assert.Equal(t, []string{"a4", "a3", "a2", "a1"}, f.names(body.ids()))
	})

	t.Run("a viewer naming another tenant is 403", func(t *testing.T) {
		resp := httpGet(t, base+"/api/v1/logs?tenant=globex", bearer("acme-viewer"))
		require.Equal(t, http.StatusForbidden, resp.status, "body: %s", resp.body)
		assert.Equal(t, codeForbidden, resp.apiError(t).Error.Code)
	})

	t.Run("a viewer reading another tenant's record or trace gets 404", func(t *testing.T) {
		for _, target := range []string{"/api/v1/logs/" + f.ids["g2"], "/api/v1/traces/" + traceGlobex} {
			resp := httpGet(t, base+target, bearer("acme-viewer"))
			assert.Equal(t, http.StatusNotFound, resp.status, "%s: %s", target, resp.body)
		}
	})

	t.Run("an admin reads every tenant", func(t *testing.T) {
		resp := httpGet(t, base+"/api/v1/logs", bearer("root"))
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
		var body listBody
		resp.decode(t, &body)
		assert.Len(t, body.Records, 6)
	})

	t.Run("a query parameter the authenticator reads is not an unknown parameter", func(t *testing.T) {
		resp := httpGet(t, base+"/api/v1/logs?access_token=acme-viewer&user_id=bob", nil)
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
		var body listBody
		resp.decode(t, &body)
		assert.Equal(t, []string{"a4", "a3"}, f.names(body.ids()))
	})

	t.Run("an open endpoint is allowed once auth is configured", func(t *testing.T) {
		open := *cfg
		open.NetAddr.Endpoint = "0.0.0.0:8089"
		assert.NoError(t, open.Validate())
	})
}

func TestRegistry_SecondRegistrationAndNilStoreAreRefused(t *testing.T) {
	f := newFixture(t)
	qe := newQueryExtension(createDefaultConfig().(*Config), extensiontest.NewNopSettings(metadata.Type))

	assert.ErrorContains(t, qe.registerBackend(Backend{}), "store is nil")
	qe.serveBackend(t, Backend{Store: f.store})
	assert.ErrorIs(t, qe.registerBackend(Backend{Store: f.store}), errBackendRegistered)
	qe.unregisterBackend()
	assert.NoError(t, qe.registerBackend(Backend{Store: f.store}), "after unregistering, a backend can be registered again")
	qe.unregisterBackend()
	qe.unregisterBackend() // unregistering twice is harmless
}

// gatedStore holds Query until the test opens the gate, to catch a request in flight.
type gatedStore struct {
	store.Store
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedStore) Query(ctx context.Context, f store.Filter, p store.Page) (store.Result, error) {
	close(g.entered)
	<-g.gate
	return g.Store.Query(ctx, f, p)
}

func TestRegistry_UnregisterWaitsForRequestsInFlight(t *testing.T) {
	f := newFixture(t)
	gated := &gatedStore{Store: f.store, entered: make(chan struct{}), gate: make(chan struct{})}
	slot := &backendSlot{}
	require.NoError(t, slot.register(Backend{Store: gated}))
	h := testAPIWithSlot(slot)

	got := make(chan response, 1)
	go func() { got <- get(h, "/api/v1/logs") }()
	<-gated.entered

	unregistered := make(chan struct{})
	go func() { slot.unregister(); close(unregistered) }()
	select {
	case <-unregistered:
		t.Fatal("unregister returned while a request was still using the store")
	case <-time.After(100 * time.Millisecond):
	}

	close(gated.gate)
	resp := <-got
	assert.Equal(t, http.StatusOK, resp.status, "the request in flight completes: %s", resp.body)
	select {
	case <-unregistered:
	case <-time.After(5 * time.Second):
		t.Fatal("unregister did not return after the request finished")
	}
	assert.Equal(t, http.StatusServiceUnavailable, get(h, "/api/v1/logs").status)
}

func TestRegistry_IsSafeUnderConcurrentRegistrationAndRequests(t *testing.T) {
	f := newFixture(t)
	slot := &backendSlot{}
	h := testAPIWithSlot(slot)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp := get(h, "/api/v1/logs?limit=1")
				if resp.status != http.StatusOK && resp.status != http.StatusServiceUnavailable {
					t.Errorf("status %d: %s", resp.status, resp.body)
					return
				}
				var body map[string]json.RawMessage
				if err := json.Unmarshal(resp.body, &body); err != nil {
					t.Errorf("body is not JSON: %s", resp.body)
					return
				}
			}
		}()
	}
	for range 50 {
		_ = slot.register(Backend{Store: f.store})
		slot.unregister()
	}
	close(stop)
	wg.Wait()
}
