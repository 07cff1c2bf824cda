package redact

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

type benchAttr struct{ key, value string }

// typicalAttrs are the attributes an audit record usually carries; none holds a secret, and
// several pass a cheap prefilter (":" in times, "=" in queries, long digit runs) so the
// benchmark pays for the scanners, not just the filters.
var typicalAttrs = []benchAttr{
	{"user.id", "u-12345"},
	{"user.name", "alice@example.com"},
	{"client.address", "203.0.113.7"},
	{"user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"},
	{"http.request.method", "POST"},
	{"url.path", "/api/v1/orders/550e8400-e29b-41d4-a716-446655440000/items"},
	{"url.query", "limit=100&cursor=eyIxIjoy&sort=desc"},
	{"event.name", "order.item.added"},
	{"audit.entity_id", "4bf92f3577b34da6a3ce929d0e0e4736"},
	{"audit.occurred_at", "2024-01-02T03:04:05.123456789Z"},
}

// secretAttrs replace some of the typical ones in the "with secrets" runs: one field-rule hit and
// four value-rule hits per record.
var secretAttrs = []benchAttr{
	{"db.password", "hunter2"},
	{"http.request.header.authorization", "Bearer " + testJWT},
	{"message", "login failed for alice password=hunter2 from 203.0.113.7"},
	{"db.connection_string", "postgres://app:s3cr3t@db:5432/audit"},
	{"payment.note", "charged card 4111 1111 1111 1111 ok"},
}

func benchRecord(n int, withSecrets bool) []benchAttr {
	rec := make([]benchAttr, 0, n)
	for i := 0; len(rec) < n; i++ {
		a := typicalAttrs[i%len(typicalAttrs)]
		if i >= len(typicalAttrs) {
			a.key = fmt.Sprintf("%s.%d", a.key, i)
		}
		rec = append(rec, a)
	}
	if withSecrets {
		for i, s := range secretAttrs {
			rec[i*2] = s
		}
	}
	return rec
}

// redactRecord is what the processor does per record, without pdata.
func redactRecord(r *Redactor, rec []benchAttr, rep *Report) {
	for _, a := range rec {
		switch verdict, rule := r.ClassifyKey(a.key); verdict {
		case KeySecret:
			rep.AddField(rule)
		case KeyPlain:
			_ = r.RedactString(a.value, rep)
		}
	}
}

func BenchmarkRedactRecord(b *testing.B) {
	r := newTestRedactor(b, Options{})
	for _, n := range []int{10, 50} {
		for _, withSecrets := range []bool{false, true} {
			name := fmt.Sprintf("attrs=%d/secrets=%v", n, withSecrets)
			rec := benchRecord(n, withSecrets)
			b.Run(name, func(b *testing.B) {
				var rep Report
				b.ReportAllocs()
				for b.Loop() {
					rep.Reset()
					redactRecord(r, rec, &rep)
				}
				if withSecrets {
					require.Equal(b, len(secretAttrs), rep.Count, "redacted values (%q)", rep.Rules)
				} else {
					require.Zero(b, rep.Count, "redacted values in a record without secrets (%q)", rep.Rules)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

func BenchmarkRedactString(b *testing.B) {
	r := newTestRedactor(b, Options{})
	for _, tc := range []struct{ name, s string }{
		{"plain", "user alice added item 42 to order 7"},
		{"timestamp", "2024-01-02T03:04:05.123456789Z"},
		{"user_agent", typicalAttrs[3].value},
		{"key_value_secret", "login failed password=hunter2 user=bob"},
		{"jwt", "Bearer " + testJWT},
		{"card", "card 4111 1111 1111 1111"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.s)))
			for b.Loop() {
				_ = r.RedactString(tc.s, nil)
			}
		})
	}
}
