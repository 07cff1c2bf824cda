package auditqueryextension

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/store/clickhousestore"
)

type healthBody struct {
	Status     string `json:"status"`
	Store      string `json:"store"`
	StoreError string `json:"store_error"`
}

// A ClickHouse store whose server does not answer (here: a closed port) fails every query with
// 503; health says so instead of "store":"ok".
func TestHealth_SaysTheStoreIsUnavailableWhileClickHouseIsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedPort := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there any more

	cfg := clickhousestore.DefaultConfig()
	cfg.Endpoint = closedPort
	cfg.DialTimeout = time.Second
	s, err := clickhousestore.Open(context.Background(), cfg)
	require.NoError(t, err, "Open with the server down (the store connects later)")
	t.Cleanup(func() { _ = s.Close() })
	h := testAPI(t, s, nil, false)

	require.Equal(t, http.StatusServiceUnavailable, get(h, logsPath).status, "a query while ClickHouse is down")
	resp := get(h, healthPath)
	require.Equal(t, http.StatusServiceUnavailable, resp.status, "body: %s", resp.body)
	var body healthBody
	resp.decode(t, &body)
	assert.Equal(t, "unavailable", body.Store)
	assert.Equal(t, "unavailable", body.Status)
	assert.Contains(t, body.StoreError, closedPort, "the admin is told which server did not answer")

	viewer := serve(h, http.MethodGet, healthPath, nil)
	require.Equal(t, http.StatusServiceUnavailable, viewer.status)

	// With authentication, only an admin is told the reason (it names hosts and paths).
	h = testAPI(t, s, nil, true)
	resp = serve(h, http.MethodGet, healthPath, viewerOf("acme"))
	require.Equal(t, http.StatusServiceUnavailable, resp.status, "body: %s", resp.body)
	body = healthBody{}
	resp.decode(t, &body)
	assert.Equal(t, "unavailable", body.Store)
	assert.Empty(t, body.StoreError, "a viewer is not told the store's error")
	resp = serve(h, http.MethodGet, healthPath, authData{"subject": "root", "role": "admin"})
	body = healthBody{}
	resp.decode(t, &body)
	assert.Contains(t, body.StoreError, closedPort, "an authenticated admin is told it")
}
