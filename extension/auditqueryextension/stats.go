package auditqueryextension

import (
	"context"
	"net/http"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/httpjson"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

const (
	paramInterval = "interval"

	defaultStatsRange = 24 * time.Hour
	// targetBuckets is what the default interval aims for: enough bars for a chart, few enough
	// for one screen.
	targetBuckets = 60
)

// niceIntervals are the widths a default interval is rounded up to, so that buckets start on
// whole minutes and hours.
var niceIntervals = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
}

// defaultInterval is the narrowest nice width that gives at most targetBuckets buckets.
func defaultInterval(span time.Duration) time.Duration {
	for _, d := range niceIntervals {
		if span <= d*targetBuckets {
			return d
		}
	}
	return niceIntervals[len(niceIntervals)-1]
}

type statsResponse struct {
	Tenant          string    `json:"tenant,omitempty"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	IntervalSeconds int64     `json:"interval_seconds"`
	store.Stats
}

func (a *api) stats(w http.ResponseWriter, r *http.Request) *apiError {
	caller, e := principalFromRequest(r, a.authConfigured)
	if e != nil {
		return e
	}
	p := newParams(r.URL.Query(), []string{paramTenant, paramStart, paramEnd, paramInterval}, a.authParams)
	requested := p.tenant()
	start, end := p.time(paramStart), p.time(paramEnd)
	interval := p.duration(paramInterval)
	if p.err != nil {
		return p.err
	}
	if end.IsZero() {
		end = a.now().UTC()
	}
	if start.IsZero() {
		start = end.Add(-defaultStatsRange)
	}
	if !end.After(start) {
		return badParam(paramEnd, "must be after start (start is inclusive, end exclusive)")
	}
	if interval == 0 {
		interval = defaultInterval(end.Sub(start))
	}
	tenant, e := caller.scope(requested)
	if e != nil {
		return e
	}

	// Normalized here as well as in the store to refuse a bad range before reading anything.
	q, err := store.StatsQuery{TenantID: tenant, Start: start, End: end, Interval: interval}.Normalize()
	if err != nil {
		return a.storeError("stats", err)
	}
	var st store.Stats
	if e := a.withStore(r, "stats", func(ctx context.Context, b Backend) (err error) {
		st, err = b.Store.Stats(ctx, q)
		return err
	}); e != nil {
		return e
	}
	httpjson.Write(w, http.StatusOK, statsResponse{Tenant: tenant, Start: start, End: end, IntervalSeconds: int64(q.Interval / time.Second), Stats: st})
	return nil
}

// duration reads a Go duration ("90s", "5m", "1h") of at least a second, in whole seconds.
func (p *params) duration(name string) time.Duration {
	s := p.single(name)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second || d%time.Second != 0 {
		p.fail(badParam(name, "expected a duration of whole seconds such as 30s, 5m or 1h, got %s", quote(s)))
		return 0
	}
	return d
}

// runRetention applies the store's retention policy now. Admin only: it deletes records.
func (a *api) runRetention(w http.ResponseWriter, r *http.Request) *apiError {
	caller, e := principalFromRequest(r, a.authConfigured)
	if e != nil {
		return e
	}
	p := newParams(r.URL.Query(), a.authParams)
	if p.err != nil {
		return p.err
	}
	if !caller.isAdmin() {
		return forbidden("only an admin may run retention")
	}
	var res store.PruneResult
	readOnly := false
	if e := a.withStore(r, "retention", func(ctx context.Context, b Backend) (err error) {
		if readOnly = b.Retention == nil; readOnly {
			return nil
		}
		res, err = b.Retention.RunRetention(ctx)
		return err
	}); e != nil {
		return e
	}
	if readOnly {
		return &apiError{Status: http.StatusNotImplemented, Code: codeNotImplemented, Message: "the store is read-only here (read_only: true): retention runs in the collector that writes it"}
	}
	httpjson.Write(w, http.StatusOK, res)
	return nil
}
