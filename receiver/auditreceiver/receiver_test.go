package auditreceiver

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver/internal/metadata"
)

// tokenAuth is a minimal server authenticator extension: the request must carry the token.
type tokenAuth struct {
	component.StartFunc
	component.ShutdownFunc
	token string
}

func (a tokenAuth) Authenticate(ctx context.Context, sources map[string][]string) (context.Context, error) {
	for _, v := range sources["Authorization"] {
		if v == "Bearer "+a.token {
			return ctx, nil
		}
	}
	return ctx, errors.New("missing or wrong bearer token")
}

type hostWithExtensions struct {
	component.Host
	extensions map[component.ID]component.Component
}

func (h hostWithExtensions) GetExtensions() map[component.ID]component.Component { return h.extensions }

func TestServer_AuthExtensionGuardsTheEndpoint(t *testing.T) {
	authID := component.MustNewID("tokenauth")
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.ServerConfig.Auth.GetOrInsertDefault().Config.AuthenticatorID = authID
	require.NoError(t, cfg.Validate())

	sink := new(consumertest.LogsSink)
	r, err := newAuditReceiver(cfg, receivertest.NewNopSettings(metadata.Type), sink)
	require.NoError(t, err)
	host := hostWithExtensions{Host: componenttest.NewNopHost(), extensions: map[component.ID]component.Component{authID: tokenAuth{token: "s3cret"}}}
	require.NoError(t, r.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	srv := testServer{url: "http://" + r.addr.String() + eventsPath, recv: r}

	denied := srv.post(t, "application/json", `{"action":"a"}`)
	assert.Equal(t, http.StatusUnauthorized, denied.status)
	assert.Equal(t, codeUnauthorized, denied.errorCode(), "auth failures use the receiver's JSON error format")
	assert.Zero(t, sink.LogRecordCount())

	allowed := srv.post(t, "application/json", `{"action":"a"}`, "Authorization", "Bearer s3cret")
	assert.Equal(t, http.StatusAccepted, allowed.status, allowed.raw)
	assert.Equal(t, 1, sink.LogRecordCount())
}

func TestStart_FailsWhenTheAuthExtensionIsMissing(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.ServerConfig.Auth.GetOrInsertDefault().Config.AuthenticatorID = component.MustNewID("absent")
	r, err := newAuditReceiver(cfg, receivertest.NewNopSettings(metadata.Type), consumertest.NewNop())
	require.NoError(t, err)
	assert.ErrorContains(t, r.Start(context.Background(), componenttest.NewNopHost()), "create server")
	require.NoError(t, r.Shutdown(context.Background()), "shutdown after a failed start is safe")
}

func TestValidate_AuthMakesAPublicEndpointAcceptable(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "0.0.0.0:8088"
	require.ErrorContains(t, cfg.Validate(), "no auth extension is configured")
	cfg.ServerConfig.Auth.GetOrInsertDefault().Config.AuthenticatorID = component.MustNewID("tokenauth")
	assert.NoError(t, cfg.Validate())
}

// blockingConsumer holds every batch until released, to observe requests in flight.
type blockingConsumer struct {
	consumertest.LogsSink
	arrived chan struct{}
	release chan struct{}
}

func (b *blockingConsumer) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	b.arrived <- struct{}{}
	<-b.release
	return b.LogsSink.ConsumeLogs(ctx, ld)
}

func (b *blockingConsumer) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func TestShutdown_AnswersRequestsInFlight(t *testing.T) {
	next := &blockingConsumer{arrived: make(chan struct{}), release: make(chan struct{})}
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	r, err := newAuditReceiver(cfg, receivertest.NewNopSettings(metadata.Type), next)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	url := "http://" + r.addr.String() + eventsPath

	answered := make(chan int, 1)
	go func() {
		resp, err := http.Post(url, "application/json", strings.NewReader(`{"action":"a"}`))
		if err != nil {
			answered <- -1
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-next.arrived

	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- r.Shutdown(context.Background()) }()
	select {
	case <-shutdownDone:
		require.FailNow(t, "shutdown returned while a request was still in the pipeline")
	case <-time.After(100 * time.Millisecond):
	}

	close(next.release)
	assert.Equal(t, http.StatusAccepted, <-answered, "the sender learns its events were taken")
	require.NoError(t, <-shutdownDone)
	assert.Equal(t, 1, next.LogRecordCount())

	_, err = http.Post(url, "application/json", strings.NewReader(`{"action":"a"}`))
	assert.Error(t, err, "nothing listens after shutdown")
}
