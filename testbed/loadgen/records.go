// Package loadgen sends realistic audit records to any OTLP/HTTP logs endpoint from N
// concurrent senders, at a fixed rate or as fast as the endpoint answers, and measures what
// the endpoint acknowledged, what it refused and how long each acknowledgement took.
package loadgen

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-audit/otelcol-audit/internal/loadshape"
)

// Attribute counts of a generated record (inclusive): eleven request and audit fields, a
// possible secret, and filler up to a uniformly drawn width. Real audit records range from a
// handful of request fields to wide business events; the redactor's and the store's costs grow
// with the width. The vocabulary is internal/loadshape's, shared with the stores' benchmarks.
const (
	MinAttributes = loadshape.MinAttributes
	MaxAttributes = loadshape.MaxAttributes
)

// DefaultSecretRatio is the share of records that carry one secret for the redactor to find.
const DefaultSecretRatio = loadshape.SecretRatio

// DefaultTenants are the tenants records are spread over.
var DefaultTenants = loadshape.Tenants

var (
	services     = loadshape.Services
	scopes       = loadshape.Scopes
	events       = loadshape.Events
	agents       = loadshape.Agents
	fillerValues = loadshape.Fillers
)

// SecretKind names the kinds of secret a record may carry.
var SecretKinds = []string{"password-attribute", "password-in-message", "bearer-jwt", "card-number", "url-password"}

// fakeJWT is a syntactically valid, unsigned-looking token built at run time so that no real
// credential sits in the source.
var fakeJWT = func() string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc.EncodeToString([]byte(`{"sub":"user-1234","tenant":"acme","exp":1893456000}`)) + "." +
		enc.EncodeToString([]byte("loadgen-signature-not-a-real-one!"))
}()

// Stats describes what Build put into one request.
type Stats struct {
	Records     int
	WithSecret  int
	WithTraceID int
	// Attributes is the total number of log record attributes, Tenants the records per tenant.
	Attributes int
	Tenants    map[string]int
	// Observed is the ObservedTimestamp every record of the request carries; the sender
	// rewrites it per request (see body.stamp) so that no two sent records are identical.
	Observed time.Time
}

// Builder makes requests of audit records. It is deterministic for a seed and not safe for
// concurrent use: give each goroutine its own.
type Builder struct {
	rng         *rand.Rand
	tenants     []string
	secretRatio float64
	seq         uint64
}

// NewBuilder returns a Builder over DefaultTenants with DefaultSecretRatio.
func NewBuilder(seed uint64) *Builder {
	return &Builder{rng: rand.New(rand.NewPCG(seed, 0x5eed)), tenants: DefaultTenants, secretRatio: DefaultSecretRatio}
}

// WithTenants replaces the tenant list; it must not be empty.
func (b *Builder) WithTenants(tenants []string) *Builder {
	if len(tenants) > 0 {
		b.tenants = tenants
	}
	return b
}

// WithSecretRatio sets the share of records carrying a secret, clamped to [0, 1].
func (b *Builder) WithSecretRatio(r float64) *Builder {
	b.secretRatio = min(max(r, 0), 1)
	return b
}

// Build returns one OTLP request of n records: one resource (a service) and one scope, as an
// SDK batch from one process would be, with records of several tenants.
func (b *Builder) Build(n int) (plog.Logs, Stats) {
	st := Stats{Records: n, Tenants: map[string]int{}}
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	res := rl.Resource().Attributes()
	res.PutStr("service.name", services[b.rng.IntN(len(services))])
	res.PutStr("service.version", "2.14.1")
	res.PutStr("host.name", fmt.Sprintf("web-%d", b.rng.IntN(8)))
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(scopes[b.rng.IntN(len(scopes))])
	recs := sl.LogRecords()
	recs.EnsureCapacity(n)
	now := time.Now()
	st.Observed = now
	for i := 0; i < n; i++ {
		b.seq++
		lr := recs.AppendEmpty()
		b.fill(lr, now, &st)
	}
	return ld, st
}

func (b *Builder) fill(lr plog.LogRecord, now time.Time, st *Stats) {
	r := b.rng
	ev := events[r.IntN(len(events))]
	tenant := b.tenants[r.IntN(len(b.tenants))]
	st.Tenants[tenant]++
	lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Duration(r.IntN(1000)) * time.Microsecond)))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(now))
	switch x := r.IntN(100); {
	case x < 2:
		lr.SetSeverityNumber(plog.SeverityNumberError)
		lr.SetSeverityText("ERROR")
	case x < 10:
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
		lr.SetSeverityText("WARN")
	default:
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
	}
	lr.SetEventName(ev.Name)
	lr.Body().SetStr(ev.Message)
	// Most audit records come from instrumented requests and carry their trace.
	if r.IntN(10) < 7 {
		var tid pcommon.TraceID
		var sid pcommon.SpanID
		putUint64(tid[:8], r.Uint64()|1)
		putUint64(tid[8:], r.Uint64())
		putUint64(sid[:], r.Uint64()|1)
		lr.SetTraceID(tid)
		lr.SetSpanID(sid)
		st.WithTraceID++
	}

	a := lr.Attributes()
	want := MinAttributes + r.IntN(MaxAttributes-MinAttributes+1)
	a.EnsureCapacity(want)
	user := r.IntN(500)
	a.PutStr("tenant.id", tenant)
	a.PutStr("user.id", fmt.Sprintf("user-%03d", user))
	a.PutStr("user.name", fmt.Sprintf("name of user %d", user))
	a.PutStr("client.address", fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(256), r.IntN(256)))
	a.PutStr("user_agent.original", agents[r.IntN(len(agents))])
	a.PutStr("http.request.method", ev.Method)
	a.PutStr("url.path", ev.Path)
	a.PutInt("http.response.status_code", []int64{200, 200, 200, 201, 204, 403, 404, 500}[r.IntN(8)])
	a.PutDouble("audit.duration_ms", r.Float64()*200)
	a.PutStr("audit.entity_type", ev.Entity)
	// Eleven attributes so far; a secret, when drawn, takes one filler slot.
	a.PutStr("audit.entity_id", fmt.Sprintf("%s-%d", ev.Entity, r.IntN(10_000)))
	if r.Float64() < b.secretRatio {
		b.putSecret(a)
		st.WithSecret++
	}
	for k := 0; a.Len() < want; k++ {
		key := fmt.Sprintf("app.field_%02d", k)
		switch v := fillerValues[(k+int(b.seq))%len(fillerValues)](r).(type) {
		case string:
			a.PutStr(key, v)
		case int64:
			a.PutInt(key, v)
		case bool:
			a.PutBool(key, v)
		case float64:
			a.PutDouble(key, v)
		}
	}
	st.Attributes += a.Len()
}

func (b *Builder) putSecret(a pcommon.Map) {
	switch b.rng.IntN(len(SecretKinds)) {
	case 0:
		a.PutStr("db.password", fmt.Sprintf("hunter%d!", b.rng.IntN(1000)))
	case 1:
		a.PutStr("message", fmt.Sprintf("login failed password=hunter%d user=bob", b.rng.IntN(1000)))
	case 2:
		a.PutStr("http.request.header.authorization", "Bearer "+fakeJWT)
	case 3:
		// A test card number that passes the Luhn check, in prose.
		a.PutStr("payment.note", "charged 4111 1111 1111 1111 for the renewal")
	case 4:
		a.PutStr("db.connection_string", fmt.Sprintf("postgres://app:s3cr3t%d@db:5432/audit", b.rng.IntN(100)))
	}
}

func putUint64(dst []byte, v uint64) {
	for i := range 8 {
		dst[i] = byte(v >> (56 - 8*i))
	}
}
