package sqlitestore

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// BenchmarkHeapPerSealedPartition is the Go heap a sealed partition keeps for the process's life
// (its Store, statements and trace filter): the heap after two collections, before and after 60
// more rollovers of 1,000-row partitions of load-generator-shaped records, divided by 60. Run it
// with -benchtime 1x: each iteration inserts 80,000 records.
func BenchmarkHeapPerSealedPartition(b *testing.B) {
	const partitionRows, before, after = 1000, 20, 80
	ctx := context.Background()
	heap := func() int64 {
		// Past sealedWriterIdleTime, so that the sealed writers' connections have closed.
		time.Sleep(2 * sealedWriterIdleTime)
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	var total int64
	for range b.N {
		p := openPartitioned(b, b.TempDir(), partitionRows)
		g := storetest.NewLoadgenLike(1, time.Now().Add(-time.Hour))
		var base int64
		for i := range after {
			if _, err := p.Insert(ctx, "acme", g.Batch(partitionRows, "acme")); err != nil {
				b.Fatal(err)
			}
			if i == before-1 {
				base = heap()
			}
		}
		total += (heap() - base) / (after - before)
		if n := p.partitionCount(); n < after {
			b.Fatalf("%d partitions, want at least %d", n, after)
		}
	}
	b.ReportMetric(float64(total)/float64(b.N), "heap_B/sealed_partition")
}
