package redactbench

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/plog"
)

// BatchRecords is the number of log records in one benchmark batch.
const BatchRecords = 100

// JWT is a well-known example token (jwt.io's), used as the bearer token of the secret records.
const JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
	"eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." +
	"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

// typicalAttrs are what an audit record usually carries; none is a secret. Several pass cheap
// prefilters (':' in times, '=' in queries, long hex ids) so that both processors pay for their
// scanners, not just their filters. They are the attributes of the processor's own benchmark.
var typicalAttrs = [][2]string{
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

// secretAttrs replace every other typical attribute in the records with secrets: one a key
// rule catches, four that value rules must find inside strings. Both processors catch all five
// with the configurations of Ours and Contrib.
var secretAttrs = [][2]string{
	{"db.password", "hunter2"},
	{"http.request.header.x-forwarded-authorization-copy", "Bearer " + JWT},
	{"message", "login failed for alice password=hunter2 from 203.0.113.7"},
	{"db.connection_string", "postgres://app:s3cr3t@db:5432/audit"},
	{"payment.note", "charged card 4111 1111 1111 1111 ok"},
}

// SecretsPerRecord is the number of secrets in a record built with withSecrets.
const SecretsPerRecord = 5

// Batch returns BatchRecords log records with attrs attributes each and a short string body;
// withSecrets puts SecretsPerRecord secrets in each record.
func Batch(attrs int, withSecrets bool) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "orders")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("audit")
	for range BatchRecords {
		lr := sl.LogRecords().AppendEmpty()
		lr.Body().SetStr("order item added")
		m := lr.Attributes()
		m.EnsureCapacity(attrs)
		for i := 0; i < attrs; i++ {
			kv := typicalAttrs[i%len(typicalAttrs)]
			key := kv[0]
			if i >= len(typicalAttrs) {
				key = fmt.Sprintf("%s.%d", key, i)
			}
			if withSecrets && i%2 == 0 && i/2 < len(secretAttrs) {
				kv = secretAttrs[i/2]
				key = kv[0]
			}
			m.PutStr(key, kv[1])
		}
	}
	return ld
}
