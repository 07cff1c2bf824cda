package redactprocessor

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
)

const benchBatch = 100

// benchLogs builds a batch of audit-like records with n attributes each; withSecrets puts one
// field-rule hit and four value-rule hits in every record.
func benchLogs(n int, withSecrets bool) plog.Logs {
	typical := [][2]string{
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
	secrets := [][2]string{
		{"db.password", "hunter2"},
		{"http.request.header.x-forwarded-authorization-copy", "Bearer " + jwt},
		{"message", "login failed for alice password=hunter2 from 203.0.113.7"},
		{"db.connection_string", "postgres://app:s3cr3t@db:5432/audit"},
		{"payment.note", "charged card 4111 1111 1111 1111 ok"},
	}
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "orders")
	sl := rl.ScopeLogs().AppendEmpty()
	for r := 0; r < benchBatch; r++ {
		lr := sl.LogRecords().AppendEmpty()
		lr.Body().SetStr("order item added")
		attrs := lr.Attributes()
		for i := 0; i < n; i++ {
			kv := typical[i%len(typical)]
			key := kv[0]
			if i >= len(typical) {
				key = fmt.Sprintf("%s.%d", key, i)
			}
			if withSecrets && i%2 == 0 && i/2 < len(secrets) {
				kv = secrets[i/2]
				key = kv[0]
			}
			attrs.PutStr(key, kv[1])
		}
	}
	return ld
}

// BenchmarkProcessLogs measures the processor's own work (walk + engine) on batches of 100
// records; copying the batch before each run is excluded from the timing.
func BenchmarkProcessLogs(b *testing.B) {
	p, err := newRedactProcessor(createDefaultConfig().(*Config), nil, zap.NewNop())
	require.NoError(b, err)
	for _, n := range []int{10, 50} {
		for _, withSecrets := range []bool{false, true} {
			template := benchLogs(n, withSecrets)
			b.Run(fmt.Sprintf("attrs=%d/secrets=%v", n, withSecrets), func(b *testing.B) {
				b.ReportAllocs()
				ld := plog.NewLogs()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					template.CopyTo(ld)
					b.StartTimer()
					// Plain check in the timed loop: require would call b.Helper on every run.
					if _, err := p.processLogs(context.Background(), ld); err != nil {
						b.Fatal(err)
					}
				}
				// ns/op, B/op and allocs/op are per batch of benchBatch records.
				b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}
