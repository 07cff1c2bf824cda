package auditqueryextension

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

func TestUserLimiter_RefillsAtTheConfiguredRateAndForgetsIdleCallers(t *testing.T) {
	l := newUserLimiter(3, time.Minute) // one token every 20s, bursts of 3
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		ok, _ := l.allow("alice", now)
		require.True(t, ok, "request %d of the burst", i+1)
	}
	ok, wait := l.allow("alice", now)
	require.False(t, ok, "the fourth request within the window is refused")
	assert.Equal(t, 20*time.Second, wait, "the next token is 20s away")
	assert.Equal(t, 20, retryAfterSeconds(wait))

	ok, _ = l.allow("bob", now)
	assert.True(t, ok, "another caller has its own bucket")

	ok, _ = l.allow("alice", now.Add(20*time.Second))
	assert.True(t, ok, "one token came back after 20s")
	ok, _ = l.allow("alice", now.Add(20*time.Second))
	assert.False(t, ok, "and only one")

	l.allow("carol", now.Add(3*time.Minute)) // sweeps callers idle for a whole window
	assert.Len(t, l.buckets, 1, "only carol's bucket remains")
	assert.Nil(t, newUserLimiter(0, time.Minute), "requests: 0 disables the limit")
	assert.Equal(t, 1, retryAfterSeconds(10*time.Millisecond), "Retry-After is rounded up to a whole second")
}

func TestRateLimit_RefusesAUserOverBudgetWith429AndRetryAfter(t *testing.T) {
	s := startLive(t, func(c *Config) {
		useJWT(t, c)
		c.RateLimit = RateLimitConfig{Requests: 3, Window: time.Minute}
	})
	alice := bearerHeader(sign(t, viewerClaims("alice", "acme")))
	bob := bearerHeader(sign(t, viewerClaims("bob", "acme")))

	for i := range 3 {
		resp := httpGet(t, s.base+logsPath, alice)
		require.Equal(t, http.StatusOK, resp.status, "request %d: %s", i+1, resp.body)
	}
	resp := httpGet(t, s.base+logsPath, alice)
	require.Equal(t, http.StatusTooManyRequests, resp.status, "body: %s", resp.body)
	assert.Equal(t, codeRateLimited, resp.apiError(t).Error.Code)
	retry, err := strconv.Atoi(resp.header.Get("Retry-After"))
	require.NoError(t, err)
	assert.InDelta(t, 20, retry, 1, "one request every 20s on average")

	resp = httpGet(t, s.base+"/api/v1/logs/"+s.f.ids["a1"], alice)
	assert.Equal(t, http.StatusTooManyRequests, resp.status, "the budget covers every data endpoint")
	assert.Equal(t, http.StatusOK, httpGet(t, s.base+logsPath, bob).status, "bob has his own budget")
	assert.Equal(t, http.StatusOK, httpGet(t, s.base+healthPath, alice).status, "health is not rate limited")
	assert.Equal(t, http.StatusUnauthorized, httpGet(t, s.base+logsPath, nil).status, "an unauthenticated request is refused as such, not counted")
}

func TestRateLimit_WithoutAuthTheBudgetIsPerClientAddress(t *testing.T) {
	s := startLive(t, func(c *Config) { c.RateLimit = RateLimitConfig{Requests: 2, Window: time.Hour} })
	assert.Equal(t, http.StatusOK, httpGet(t, s.base+logsPath, nil).status)
	assert.Equal(t, http.StatusOK, httpGet(t, s.base+statsPath, nil).status)
	resp := httpGet(t, s.base+logsPath, nil)
	require.Equal(t, http.StatusTooManyRequests, resp.status)
	assert.Equal(t, "1800", resp.header.Get("Retry-After"))
}

// The local operator (loopback, no auth: an admin anyway) pages through a large store, with a
// viewer open beside it, without being throttled by the defaults: 100k records at limit=1000
// are 100 requests, 1M are 1,000.
func TestRateLimit_DefaultsDoNotThrottleTheLoopbackAdmin(t *testing.T) {
	s := startLive(t, nil)
	for i := range 1200 {
		resp := httpGet(t, s.base+logsPath+"?limit=1000", nil)
		require.Equal(t, http.StatusOK, resp.status, "request %d: %s", i+1, resp.body)
	}
}

// With authentication the defaults still bound each caller, at a budget that fits paging
// 100k records (100 requests) and a viewer refreshing every few seconds.
func TestRateLimit_DefaultsStillBoundAuthenticatedCallers(t *testing.T) {
	def := createDefaultConfig().(*Config).RateLimit
	require.GreaterOrEqual(t, def.Requests, 300, "the default budget must fit paging 100k records and a viewer")
	f := newFixture(t)
	slot := &backendSlot{}
	require.NoError(t, slot.register(Backend{Store: f.store}))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) // a still clock: no token comes back
	h := newAPI(zap.NewNop(), slot, apiSettings{authConfigured: true, queryTimeout: time.Minute, rateLimit: def, now: func() time.Time { return now }})
	for i := range def.Requests {
		resp := serve(h, http.MethodGet, logsPath+"?limit=1000", viewerOf("acme"))
		require.Equal(t, http.StatusOK, resp.status, "request %d: %s", i+1, resp.body)
	}
	assert.Equal(t, http.StatusTooManyRequests, serve(h, http.MethodGet, logsPath, viewerOf("acme")).status, "a request beyond the default budget")
}

// exempt_loopback: false limits the loopback admin too, per address as before.
func TestRateLimit_LoopbackMayBeLimitedOnRequest(t *testing.T) {
	s := startLive(t, func(c *Config) { c.RateLimit.Requests, c.RateLimit.ExemptLoopback = 2, false })
	assert.Equal(t, http.StatusOK, httpGet(t, s.base+logsPath, nil).status)
	assert.Equal(t, http.StatusOK, httpGet(t, s.base+logsPath, nil).status)
	assert.Equal(t, http.StatusTooManyRequests, httpGet(t, s.base+logsPath, nil).status)
}
