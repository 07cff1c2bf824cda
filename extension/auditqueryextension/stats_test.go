package auditqueryextension

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

type statsBody struct {
	Tenant          string           `json:"tenant"`
	Start           time.Time        `json:"start"`
	End             time.Time        `json:"end"`
	IntervalSeconds int64            `json:"interval_seconds"`
	Total           int64            `json:"total"`
	Failures        int64            `json:"failures"`
	ByLevel         map[string]int64 `json:"by_level"`
	TopEvents       []store.Count    `json:"top_events"`
	TopUsers        []store.Count    `json:"top_users"`
	Histogram       []store.Bucket   `json:"histogram"`
}

func TestStats_CountsTheCallersRecordsOverTheRange(t *testing.T) {
	s := startLive(t, func(c *Config) { useJWT(t, c) })
	admin := bearerHeader(sign(t, adminClaims("root")))
	acme := bearerHeader(sign(t, viewerClaims("alice", "acme")))
	rng := "start=" + url.QueryEscape(fixtureBase.Format(time.RFC3339)) + "&end=" + unixMillis(fixtureBase.Add(time.Hour))

	resp := httpGet(t, s.base+statsPath+"?"+rng, admin)
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	var all statsBody
	resp.decode(t, &all)
	assert.Equal(t, int64(6), all.Total)
	assert.Equal(t, map[string]int64{"debug": 0, "info": 2, "warn": 1, "error": 1, "security": 2}, all.ByLevel)
	assert.Equal(t, int64(3), all.Failures, "error and security records")
	assert.Equal(t, int64(60), all.IntervalSeconds, "one hour is shown in one-minute buckets by default")
	assert.Len(t, all.Histogram, 60)
	require.NotEmpty(t, all.TopEvents)
	assert.Contains(t, all.TopEvents, store.Count{Key: "auth.failed", Count: 2})

	resp = httpGet(t, s.base+statsPath+"?"+rng+"&interval=15m", acme)
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	var mine statsBody
	resp.decode(t, &mine)
	assert.Equal(t, "acme", mine.Tenant)
	assert.Equal(t, int64(4), mine.Total, "a viewer counts its tenant only")
	assert.Equal(t, int64(900), mine.IntervalSeconds)
	assert.Len(t, mine.Histogram, 4)

	resp = httpGet(t, s.base+statsPath+"?tenant=globex&"+rng, acme)
	assert.Equal(t, http.StatusForbidden, resp.status)
}

func TestStats_DefaultsToTheLastDay(t *testing.T) {
	s := startLive(t, nil)
	resp := httpGet(t, s.base+statsPath, nil)
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	var body statsBody
	resp.decode(t, &body)
	assert.Equal(t, 24*time.Hour, body.End.Sub(body.Start))
	assert.WithinDuration(t, time.Now(), body.End, time.Minute)
	assert.Equal(t, int64(30*60), body.IntervalSeconds, "24 hours in 30-minute buckets: at most about 60")
	assert.Zero(t, body.Total, "the fixture is older than a day")
}

func TestStats_RefusesBadRanges(t *testing.T) {
	s := startLive(t, nil)
	tests := []struct {
		name, query, code string
	}{
		{"an interval that is not a duration", "interval=hourly", codeInvalidParameter},
		{"an interval below a second", "interval=500ms", codeInvalidParameter},
		{"end before start", "start=2026-03-02T00:00:00Z&end=2026-03-01T00:00:00Z", codeInvalidParameter},
		{"an interval that makes too many buckets", "start=2020-01-01T00:00:00Z&end=2026-01-01T00:00:00Z&interval=1s", codeInvalidQuery},
		{"an unknown parameter", "level=info", codeInvalidParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := httpGet(t, s.base+statsPath+"?"+tt.query, nil)
			require.Equal(t, http.StatusBadRequest, resp.status, "body: %s", resp.body)
			assert.Equal(t, tt.code, resp.apiError(t).Error.Code)
		})
	}
}

// pruneNow is a retention runner over the real store, as the exporter would provide.
type pruneNow struct {
	s      store.Store
	policy store.RetentionPolicy
}

func (p pruneNow) RunRetention(ctx context.Context) (store.PruneResult, error) {
	return p.s.Prune(ctx, p.policy, time.Now())
}

func TestRetention_OnlyAnAdminRunsItAndGetsWhatWasRemoved(t *testing.T) {
	cfg := loopbackConfig()
	useJWT(t, cfg)
	ext := startExtension(t, cfg, storeHost(t))
	base := "http://" + ext.address().String()
	f := newFixture(t)
	post := func(token string) response {
		req, err := http.NewRequest(http.MethodPost, base+retentionPath, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var body []byte
		body, err = readAll(res)
		require.NoError(t, err)
		return response{status: res.StatusCode, header: res.Header, body: body}
	}
	admin, viewer := sign(t, adminClaims("root")), sign(t, viewerClaims("alice", "acme"))

	ext.serveBackend(t, Backend{Store: f.store})
	resp := post(admin)
	require.Equal(t, http.StatusNotImplemented, resp.status, "no retention policy: body %s", resp.body)
	assert.Equal(t, codeNotImplemented, resp.apiError(t).Error.Code)
	ext.unregisterBackend()

	// Keep security records for ever, everything else for a day: the fixture is older.
	policy := store.RetentionPolicy{Default: 24 * time.Hour, ByLevel: map[record.Level]time.Duration{record.LevelSecurity: 0}}
	ext.serveBackend(t, Backend{Store: f.store, Retention: pruneNow{s: f.store, policy: policy}})
	resp = post(viewer)
	require.Equal(t, http.StatusForbidden, resp.status, "body: %s", resp.body)
	assert.Equal(t, http.StatusMethodNotAllowed, httpGet(t, base+retentionPath, bearerHeader(admin)).status, "GET does not delete")

	resp = post(admin)
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	var res store.PruneResult
	resp.decode(t, &res)
	assert.Equal(t, int64(4), res.Total)
	assert.Equal(t, int64(2), res.RemovedByLevel["info"])

	var left listBody
	httpGet(t, base+logsPath, bearerHeader(admin)).decode(t, &left)
	assert.Equal(t, []string{"g2", "a3"}, f.names(left.ids()), "only the security records remain")
}
