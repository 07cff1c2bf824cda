package storetest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// LoadgenLike makes records shaped as the testbed's load generator (testbed/loadgen) makes
// them after the exporter's mapping, for the stores' insert benchmarks: four tenants, 500
// users, eight events, 70% with a trace, 12 to 50 attributes of which eleven are lifted into
// columns and the rest stay in attributes, a secret in 5%, and content ids whose first 48 bits
// are the record's time in milliseconds. The testbed is a module of its own that depends on
// this one, so its generator is restated here; sqlitestore's growth benchmark has the same
// values. Time advances 100 µs a record. Not safe for concurrent use.
type LoadgenLike struct {
	rng *rand.Rand
	now time.Time
	seq uint64
}

// NewLoadgenLike returns a generator that is deterministic for seed, starting at start.
func NewLoadgenLike(seed uint64, start time.Time) *LoadgenLike {
	return &LoadgenLike{rng: rand.New(rand.NewPCG(seed, 0x5eed)), now: start}
}

var (
	lgTenants  = []string{"acme", "globex", "initech", "umbrella"}
	lgServices = []string{"billing", "identity", "documents", "admin-console"}
	lgScopes   = []string{"auth", "db", "server", "payments"}
	lgEvents   = []struct{ name, message, method, path, entity string }{
		{"user.login", "user signed in with password and second factor", "POST", "/api/v1/session", "session"},
		{"user.logout", "user signed out", "DELETE", "/api/v1/session", "session"},
		{"document.view", "document opened", "GET", "/api/v1/documents/7f9c", "document"},
		{"document.share", "document shared with an external recipient", "POST", "/api/v1/documents/7f9c/share", "document"},
		{"invoice.paid", "invoice paid by card", "POST", "/api/v1/invoices/pay", "invoice"},
		{"role.grant", "role administrator granted by owner", "PUT", "/api/v1/users/42/roles", "user"},
		{"export.run", "monthly export finished", "POST", "/api/v1/exports", "export"},
		{"api.call", "API token used from a new network location", "GET", "/api/v1/reports", "token"},
	}
	lgAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"okhttp/4.12.0",
		"python-requests/2.32.3",
	}
	lgFillers = []func(r *rand.Rand) any{
		func(r *rand.Rand) any { return fmt.Sprintf("s-%08x", r.Uint32()) },
		func(r *rand.Rand) any { return int64(r.IntN(100_000)) },
		func(r *rand.Rand) any { return r.IntN(2) == 0 },
		func(r *rand.Rand) any { return r.Float64() * 1000 },
		func(r *rand.Rand) any { return "/api/v1/documents/{id}/share" },
		func(r *rand.Rand) any { return "2025-06-01T12:00:00.123456Z" },
		func(r *rand.Rand) any {
			return fmt.Sprintf("feature-%d enabled for cohort %c", r.IntN(40), 'A'+rune(r.IntN(6)))
		},
		func(r *rand.Rand) any { return fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64()) },
	}
)

// Batch returns the next n records, all of tenant (a batch as the exporter hands one tenant's
// records to a store); tenant "" keeps the generator's spread over four tenants.
func (g *LoadgenLike) Batch(n int, tenant string) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = g.Next()
		if tenant != "" {
			out[i].TenantID = tenant
		}
	}
	return out
}

// Next returns the next record.
func (g *LoadgenLike) Next() record.Record {
	r := g.rng
	g.seq++
	g.now = g.now.Add(100 * time.Microsecond)
	ev := lgEvents[r.IntN(len(lgEvents))]
	tenant := lgTenants[r.IntN(len(lgTenants))]
	ts := g.now.Add(-time.Duration(r.IntN(1000)) * time.Microsecond)
	service := lgServices[int(g.seq/100)%len(lgServices)]
	rec := record.Record{
		Timestamp: ts, ObservedTimestamp: g.now,
		Level: record.LevelInfo, SeverityText: "INFO", SeverityNumber: 9,
		Event: ev.name, Message: ev.message, TenantID: tenant,
		Method: ev.method, Path: ev.path, EntityType: ev.entity,
		ServiceName: service, Scope: lgScopes[int(g.seq/100)%len(lgScopes)],
		Resource: map[string]any{"service.name": service, "service.version": "2.14.1", "host.name": fmt.Sprintf("web-%d", (g.seq/100)%8)},
	}
	switch x := r.IntN(100); {
	case x < 2:
		rec.Level, rec.SeverityText, rec.SeverityNumber = record.LevelError, "ERROR", 17
	case x < 10:
		rec.Level, rec.SeverityText, rec.SeverityNumber = record.LevelWarn, "WARN", 13
	}
	if r.IntN(10) < 7 {
		rec.TraceID = fmt.Sprintf("%016x%016x", r.Uint64()|1, r.Uint64())
		rec.SpanID = fmt.Sprintf("%016x", r.Uint64()|1)
	}
	want := 12 + r.IntN(50-12+1)
	user := r.IntN(500)
	rec.UserID = fmt.Sprintf("user-%03d", user)
	rec.ActorID = rec.UserID
	rec.Username = fmt.Sprintf("name of user %d", user)
	rec.IPAddress = fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(256), r.IntN(256))
	rec.UserAgent = lgAgents[r.IntN(len(lgAgents))]
	rec.StatusCode = []int{200, 200, 200, 201, 204, 403, 404, 500}[r.IntN(8)]
	rec.DurationMS = r.Float64() * 200
	rec.EntityID = fmt.Sprintf("%s-%d", ev.entity, r.IntN(10_000))
	attrs := make(map[string]any, want-11)
	have := 11
	if r.Float64() < 0.05 {
		attrs["db.password"] = fmt.Sprintf("hunter%d!", r.IntN(1000))
		have++
	}
	for k := 0; have < want; k++ {
		attrs[fmt.Sprintf("app.field_%02d", k)] = lgFillers[(k+int(g.seq))%len(lgFillers)](r)
		have++
	}
	rec.Attributes = attrs
	ms := uint64(ts.UnixMilli())
	rec.ID = fmt.Sprintf("%08x-%04x-8%03x-%04x-%012x", ms>>16, ms&0xffff, r.Uint32()&0xfff, 0x8000|r.Uint32()&0x3fff, r.Uint64()&0xffffffffffff)
	return rec
}
