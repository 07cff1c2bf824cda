package storetest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/loadshape"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// LoadgenLike makes records shaped as the testbed's load generator (testbed/loadgen) makes
// them after the exporter's mapping, for the stores' insert benchmarks: four tenants, 500
// users, eight events, 70% with a trace, 12 to 50 attributes of which eleven are lifted into
// columns and the rest stay in attributes, a secret in 5%, and content ids whose first 48 bits
// are the record's time in milliseconds. Both draw from internal/loadshape; the testbed builds
// OTLP requests, this builds the mapped records directly. Time advances 100 µs a record. Not
// safe for concurrent use.
type LoadgenLike struct {
	rng *rand.Rand
	now time.Time
	seq uint64
}

// NewLoadgenLike returns a generator that is deterministic for seed, starting at start.
func NewLoadgenLike(seed uint64, start time.Time) *LoadgenLike {
	return &LoadgenLike{rng: rand.New(rand.NewPCG(seed, 0x5eed)), now: start}
}

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
	ev := loadshape.Events[r.IntN(len(loadshape.Events))]
	tenant := loadshape.Tenants[r.IntN(len(loadshape.Tenants))]
	ts := g.now.Add(-time.Duration(r.IntN(1000)) * time.Microsecond)
	service := loadshape.Services[int(g.seq/100)%len(loadshape.Services)]
	rec := record.Record{
		Timestamp: ts, ObservedTimestamp: g.now,
		Level: record.LevelInfo, SeverityText: "INFO", SeverityNumber: 9,
		Event: ev.Name, Message: ev.Message, TenantID: tenant,
		Method: ev.Method, Path: ev.Path, EntityType: ev.Entity,
		ServiceName: service, Scope: loadshape.Scopes[int(g.seq/100)%len(loadshape.Scopes)],
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
	want := loadshape.MinAttributes + r.IntN(loadshape.MaxAttributes-loadshape.MinAttributes+1)
	user := r.IntN(500)
	rec.UserID = fmt.Sprintf("user-%03d", user)
	rec.ActorID = rec.UserID
	rec.Username = fmt.Sprintf("name of user %d", user)
	rec.IPAddress = fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(256), r.IntN(256))
	rec.UserAgent = loadshape.Agents[r.IntN(len(loadshape.Agents))]
	rec.StatusCode = []int{200, 200, 200, 201, 204, 403, 404, 500}[r.IntN(8)]
	rec.DurationMS = r.Float64() * 200
	rec.EntityID = fmt.Sprintf("%s-%d", ev.Entity, r.IntN(10_000))
	attrs := make(map[string]any, want-11)
	have := 11
	if r.Float64() < loadshape.SecretRatio {
		attrs["db.password"] = fmt.Sprintf("hunter%d!", r.IntN(1000))
		have++
	}
	for k := 0; have < want; k++ {
		attrs[fmt.Sprintf("app.field_%02d", k)] = loadshape.Fillers[(k+int(g.seq))%len(loadshape.Fillers)](r)
		have++
	}
	rec.Attributes = attrs
	ms := uint64(ts.UnixMilli())
	rec.ID = fmt.Sprintf("%08x-%04x-8%03x-%04x-%012x", ms>>16, ms&0xffff, r.Uint32()&0xfff, 0x8000|r.Uint32()&0x3fff, r.Uint64()&0xffffffffffff)
	return rec
}
