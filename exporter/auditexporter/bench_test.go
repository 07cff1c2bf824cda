package auditexporter

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-audit/otelcol-audit/exporter/auditexporter/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// benchRecords is the workload of one benchmark iteration.
const (
	benchRecords    = 40000
	benchPerRequest = 100
)

// realisticLogs is one request of audit records: a dozen attributes, a trace id, three tenants.
func realisticLogs(seq, n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "billing")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("auth")
	now := pcommon.NewTimestampFromTime(time.Now())
	for i := 0; i < n; i++ {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(now)
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetEventName("invoice.paid")
		lr.Body().SetStr(fmt.Sprintf("user paid invoice %d-%d", seq, i))
		lr.SetTraceID(pcommon.TraceID{byte(seq), byte(seq >> 8), byte(i), 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
		a := lr.Attributes()
		a.PutStr("tenant.id", fmt.Sprintf("tenant-%d", (seq+i)%3))
		a.PutStr("user.id", fmt.Sprintf("user-%d", i%50))
		a.PutStr("client.address", "198.51.100.7")
		a.PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)")
		a.PutStr("http.request.method", "POST")
		a.PutStr("url.path", "/api/invoices/pay")
		a.PutInt("http.response.status_code", 200)
		a.PutDouble("audit.duration_ms", 12.5)
		a.PutStr("audit.entity_type", "invoice")
		a.PutStr("audit.entity_id", fmt.Sprintf("inv-%d", i))
		a.PutStr("invoice.currency", "EUR")
		a.PutInt("invoice.amount_cents", 129900)
	}
	return ld
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(float64(len(sorted)-1)*p)]
}

// BenchmarkStoreCeiling is the baseline: the same records straight into the store, 1,000 per
// transaction per tenant, no WAL, no queue. The durable path cannot beat it.
func BenchmarkStoreCeiling(b *testing.B) {
	m := record.DefaultMapping()
	var batches [][]record.Record
	for seq := 0; seq < benchRecords/benchPerRequest; seq++ {
		ld := realisticLogs(seq, benchPerRequest)
		record.EnsureIDs(ld)
		batches = append(batches, m.FromLogs(ld, "", time.Now()))
	}
	var total time.Duration
	for b.Loop() {
		cfg := sqlitestore.DefaultConfig()
		cfg.Path = filepath.Join(b.TempDir(), "audit.db")
		st, err := sqlitestore.Open(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		began := time.Now()
		pending := map[string][]record.Record{}
		for _, batch := range batches {
			for tenant, recs := range splitByTenant(batch) {
				pending[tenant] = append(pending[tenant], recs...)
				if len(pending[tenant]) >= 1000 {
					if _, err := st.Insert(context.Background(), tenant, pending[tenant]); err != nil {
						b.Fatal(err)
					}
					pending[tenant] = nil
				}
			}
		}
		for tenant, recs := range pending {
			if _, err := st.Insert(context.Background(), tenant, recs); err != nil {
				b.Fatal(err)
			}
		}
		total += time.Since(began)
		st.Close()
	}
	b.ReportMetric(float64(benchRecords*b.N)/total.Seconds(), "records/s")
}

// BenchmarkDurableIngest sends the workload through the exporter (WAL with fsync per group,
// batches of 1,000, SQLite) from N concurrent senders and measures until every record is
// committed: end-to-end records/s, the rate at which requests were acknowledged (the WAL
// absorbing the burst ahead of the store), and the acknowledgement latency of each request.
func BenchmarkDurableIngest(b *testing.B) {
	for _, senders := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			var total, ackedIn time.Duration
			var acks []time.Duration
			for b.Loop() {
				dir := b.TempDir()
				cfg := createDefaultConfig().(*Config)
				cfg.DataDir = dir
				cfg.Batch.MaxSize = 1000
				cfg.Batch.FlushInterval = 100 * time.Millisecond
				e := newAuditExporter(cfg, exportertest.NewNopSettings(metadata.Type))
				host, _ := storeHost(b, cfg, nil)
				if err := e.start(context.Background(), host); err != nil {
					b.Fatal(err)
				}
				requests := make(chan int, benchRecords/benchPerRequest)
				for seq := 0; seq < benchRecords/benchPerRequest; seq++ {
					requests <- seq
				}
				close(requests)
				var mu sync.Mutex
				var wg sync.WaitGroup
				began := time.Now()
				for s := 0; s < senders; s++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for seq := range requests {
							ld := realisticLogs(seq, benchPerRequest)
							t0 := time.Now()
							if err := e.consumeLogs(context.Background(), ld); err != nil {
								b.Error(err)
								return
							}
							d := time.Since(t0)
							mu.Lock()
							acks = append(acks, d)
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				ackedIn += time.Since(began)
				// The clock stops when every WAL entry is done: every record committed.
				for e.wal.Pending() > 0 {
					time.Sleep(time.Millisecond)
				}
				total += time.Since(began)
				if err := e.shutdown(context.Background()); err != nil {
					b.Fatal(err)
				}
				checkAllStored(b, storePath(cfg), benchRecords)
			}
			slices.Sort(acks)
			b.ReportMetric(float64(benchRecords*b.N)/total.Seconds(), "records/s")
			b.ReportMetric(float64(benchRecords*b.N)/ackedIn.Seconds(), "acked-records/s")
			b.ReportMetric(float64(percentile(acks, 0.50).Microseconds())/1000, "ack-p50-ms")
			b.ReportMetric(float64(percentile(acks, 0.99).Microseconds())/1000, "ack-p99-ms")
		})
	}
}

func checkAllStored(b *testing.B, path string, want int) {
	b.Helper()
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = path
	st, err := sqlitestore.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	n := 0
	page := store.Page{Limit: store.MaxLimit}
	for {
		res, err := st.Query(context.Background(), store.Filter{}, page)
		if err != nil {
			b.Fatal(err)
		}
		n += len(res.Records)
		if res.NextCursor == "" {
			break
		}
		page.Cursor = res.NextCursor
	}
	if n != want {
		b.Fatalf("stored %d records, want %d", n, want)
	}
}
