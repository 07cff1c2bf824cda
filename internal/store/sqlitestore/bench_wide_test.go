package sqlitestore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/loadshape"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// wideBatches is benchBatches with the attributes of realistic audit records: 12 to 50 per
// record, request ids and high-cardinality values among them (the fillers are the load
// generator's, internal/loadshape), as the testbed's store ceiling
// (testbed/harness.MeasureStoreCeiling) sends. The attribute text is what the full-text index
// pays for, so this is the benchmark that shows what the index sees.
func wideBatches(rng *rand.Rand, size int, start time.Time) ([][]record.Record, []string) {
	batches, tenants := benchBatches(rng, size, start)
	seq := 0
	for _, batch := range batches {
		for i := range batch {
			seq++
			a := batch[i].Attributes
			a["request.id"] = fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Uint64()&(1<<48-1))
			a["user.name"] = "name of " + batch[i].UserID
			a["url.path"] = fmt.Sprintf("/api/v1/documents/doc-%d/share", rng.IntN(10_000))
			a["http.request.method"] = "POST"
			a["audit.entity_type"] = "document"
			a["client.address"] = batch[i].IPAddress
			a["user_agent.original"] = batch[i].UserAgent
			want := 12 + rng.IntN(39)
			for k := 0; len(a) < want; k++ {
				a[fmt.Sprintf("app.field_%02d", k)] = loadshape.Fillers[(k+seq)%len(loadshape.Fillers)](rng)
			}
		}
	}
	return batches, tenants
}

// BenchmarkInsertWideAttributes measures Store.Insert (1000 records per batch) with realistic
// attributes, with the full schema and without the full-text index (withoutFullText): the ratio is what
// full-text indexing costs the single writer.
func BenchmarkInsertWideAttributes(b *testing.B) {
	for _, v := range []struct {
		name  string
		noFTS bool
	}{
		{"full", false},
		{"without-fts", true},
	} {
		b.Run(v.name, func(b *testing.B) {
			s := benchStore(b)
			if v.noFTS {
				withoutFullText(b, s)
			}
			rng := rand.New(rand.NewPCG(7, 42))
			start := time.Now()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				batches, tenants := wideBatches(rng, 1000, start.Add(time.Duration(i)*time.Hour))
				b.StartTimer()
				for j, batch := range batches {
					if _, err := s.Insert(context.Background(), tenants[j], batch); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*recordsPerIteration)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
