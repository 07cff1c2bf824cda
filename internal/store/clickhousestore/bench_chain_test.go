package clickhousestore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// BenchmarkInsert_ChainCost inserts the same batches of full records into two stores on the
// same server, one with the chain and one without, alternating batch by batch so that both
// see the same background load, and reports each one's rows/s and the ratio chain on / off.
//
//	eval "$(scripts/clickhouse/start.sh)"
//	go test -run '^$' -bench Insert_ChainCost -benchtime 20x ./internal/store/clickhousestore/
func BenchmarkInsert_ChainCost(b *testing.B) {
	for _, size := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			off := openTestStore(b, func(c *Config) { c.Chain = false })
			on := openTestStore(b, nil)
			ctx := context.Background()
			start := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
			var offTime, onTime time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				batch := make([]record.Record, size)
				for j := range batch {
					n := i*size + j
					batch[j] = storetest.FullRecord(fmt.Sprintf("0195b4a0-0000-7000-8000-%012d", n), "acme", start.Add(time.Duration(n)*time.Millisecond))
				}
				for _, s := range []*Store{off, on} {
					began := time.Now()
					if _, err := s.Insert(ctx, "acme", batch); err != nil {
						b.Fatal(err)
					}
					if s == on {
						onTime += time.Since(began)
					} else {
						offTime += time.Since(began)
					}
				}
			}
			rows := float64(b.N * size)
			b.ReportMetric(rows/offTime.Seconds(), "off_rows/s")
			b.ReportMetric(rows/onTime.Seconds(), "on_rows/s")
			b.ReportMetric(offTime.Seconds()/onTime.Seconds(), "on/off")
		})
	}
}
