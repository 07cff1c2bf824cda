package sqlitestore

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

var (
	growthRows = flag.Int("growth.rows", 1_000_000,
		"records BenchmarkInsertGrowth and BenchmarkInsertGrowthVariant insert into one file")
	growthBaselineRows = flag.Int("growth.baseline-rows", 300_000,
		"records BenchmarkInsertGrowth inserts into the baseline's file (it slows down as the file grows: 1M rows take about half an hour)")
	growthVariant       = flag.String("growth.variant", "-", "BenchmarkInsertGrowthVariant: the variant to run (growthVariants; \"\" is the current store)")
	growthPartitionRows = flag.Int64("growth.partition-rows", DefaultPartitionMaxRows,
		"BenchmarkInsertGrowthPartitioned: partition_max_rows of the partitioned store")
	growthBatch       = flag.Int("growth.batch", 1000, "BenchmarkInsertGrowthPartitioned: records per Insert")
	growthGroupRows   = flag.Int("growth.group-rows", groupMaxRows, "BenchmarkInsertGrowthPartitioned: the most records one group transaction takes (1: each Insert alone)")
	growthWriters     = flag.Int("growth.writers", 1, "BenchmarkInsertGrowthPartitioned: concurrent Insert calls (the exporter's batch.workers)")
	growthWriterCache = flag.Int("growth.writer-cache-kib", DefaultWriterCacheSizeKiB,
		"BenchmarkInsertGrowthPartitioned: writer_cache_size_kib of the active partition")
	growthCheckpointEvery = flag.Duration("growth.checkpoint-every", checkpointEvery,
		"BenchmarkInsertGrowthPartitioned: the background checkpoints' spacing (0: the writer makes every checkpoint itself)")
)

// The records are storetest.LoadgenLike's: shaped as the testbed's load generator makes them
// after the exporter's mapping (the testbed module depends on this one, so it cannot be
// imported here).

// growth is one run of insertGrowth: the time the inserts took, batch by batch.
type growth struct {
	rows    []int           // records stored after each batch
	elapsed []time.Duration // insert time up to the end of each batch
}

// insertGrowth inserts rows loadgen-like records into s in batches of batch records of one
// tenant (records are dealt to their tenant's pending batch as they are made, as the
// exporter's per-tenant batching does), timing the inserts alone.
func insertGrowth(b *testing.B, s store.Store, rows, batch int) growth {
	b.Helper()
	ctx := context.Background()
	gen := storetest.NewLoadgenLike(1, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	pending := map[string][]record.Record{}
	var g growth
	var elapsed time.Duration
	inserted := 0
	for inserted < rows {
		r := gen.Next()
		p := append(pending[r.TenantID], r)
		if len(p) < batch {
			pending[r.TenantID] = p
			continue
		}
		pending[r.TenantID] = make([]record.Record, 0, batch)
		began := time.Now()
		if _, err := s.Insert(ctx, r.TenantID, p); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(began)
		inserted += len(p)
		g.rows, g.elapsed = append(g.rows, inserted), append(g.elapsed, elapsed)
	}
	return g
}

// insertGrowthConcurrent is insertGrowth with writers concurrent Insert calls, as the
// exporter's flush workers make them; the time is the wall time since the first call.
func insertGrowthConcurrent(b *testing.B, s store.Store, rows, batch, writers int) growth {
	b.Helper()
	ctx := context.Background()
	gen := storetest.NewLoadgenLike(1, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	// The batches are made first, so that making records does not pace the writers.
	var all [][]record.Record
	pending := map[string][]record.Record{}
	for made := 0; made < rows; {
		r := gen.Next()
		p := append(pending[r.TenantID], r)
		if len(p) < batch {
			pending[r.TenantID] = p
			continue
		}
		pending[r.TenantID] = make([]record.Record, 0, batch)
		made += len(p)
		all = append(all, p)
	}
	batches := make(chan []record.Record, len(all))
	for _, p := range all {
		batches <- p
	}
	var g growth
	var mu sync.Mutex
	inserted := 0
	began := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range batches {
				if _, err := s.Insert(ctx, p[0].TenantID, p); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				inserted += len(p)
				g.rows, g.elapsed = append(g.rows, inserted), append(g.elapsed, time.Since(began))
				mu.Unlock()
			}
		}()
	}
	close(batches)
	wg.Wait()
	return g
}

// at returns the records stored and the insert time up to the first batch that ends at or
// after n records.
func (g growth) at(n int) (int, time.Duration) {
	if n <= 0 {
		return 0, 0
	}
	for i, r := range g.rows {
		if r >= n {
			return r, g.elapsed[i]
		}
	}
	return g.rows[len(g.rows)-1], g.elapsed[len(g.elapsed)-1]
}

// rate is records/s over the records from lo to hi.
func (g growth) rate(lo, hi int) float64 {
	r0, t0 := g.at(lo)
	r1, t1 := g.at(hi)
	return float64(r1-r0) / (t1 - t0).Seconds()
}

func (g growth) total() int { return g.rows[len(g.rows)-1] }

// report reports the rate over the whole run, each half and each tenth, the metrics' names
// prefixed by prefix.
func (g growth) report(b *testing.B, prefix string) {
	n := g.total()
	first, second := g.rate(0, n/2), g.rate(n/2, n)
	b.ReportMetric(g.rate(0, n), prefix+"rec/s")
	b.ReportMetric(first, prefix+"first-half-rec/s")
	b.ReportMetric(second, prefix+"second-half-rec/s")
	b.ReportMetric(second/first, prefix+"second/first")
	tenths := make([]string, 10)
	for i := range tenths {
		tenths[i] = fmt.Sprintf("%s %.0f", tenthLabel(n, i), g.rate(n*i/10, n*(i+1)/10))
	}
	b.Logf("%s%d records: %.0f records/s; first half %.0f, second half %.0f (%.2f); by tenth, ending at: %s",
		prefix, n, g.rate(0, n), first, second, second/first, strings.Join(tenths, ", "))
}

// tenthLabel names the i-th tenth of rows by where it ends, e.g. "0.2M".
func tenthLabel(rows, i int) string {
	end := float64(rows) * float64(i+1) / 10
	if end >= 1e6 {
		return fmt.Sprintf("%.1fM", end/1e6)
	}
	return fmt.Sprintf("%.0fk", end/1e3)
}

// openBaselineStore opens a store as it was before this benchmark was written: schema v5,
// whose trigger indexes each row in the full-text table as its INSERT runs, and a 16 MiB
// writer cache like the readers'. (The file is migrated to the current version, whose only
// change to the schema is dropping that trigger, which is then made again.)
func openBaselineStore(b *testing.B) *Store {
	b.Helper()
	cfg := DefaultConfig()
	cfg.Path = b.TempDir() + "/baseline.db"
	cfg.WriterCacheSizeKiB = 0 // the writer's cache is cache_size_kib, 16 MiB, as before
	s, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	if _, err := s.write.Exec(schemaV3Index[1]); err != nil { // the v3..v5 insert trigger
		b.Fatal(err)
	}
	s.skipFullTextInsert = true
	return s
}

// BenchmarkInsertGrowth measures whether the single writer keeps its speed as the file grows:
// it inserts -growth.rows (1M) of the load generator's records (storetest.LoadgenLike) into one new file
// in batches of 1,000 with today's schema and settings, and reports records/s over the whole
// run, each half and each tenth (in the log). The baseline, the store before this benchmark
// existed (openBaselineStore), runs after it in the same process on -growth.baseline-rows
// (300k: it slows down so much that 1M rows take it about half an hour); x-baseline is the
// current store's rate over those first records divided by the baseline's, file sizes equal.
//
// The two run one after the other, not batch by batch in turn: modernc's SQLite shares one
// page cache among all the connections of a process, so two files written in turn would
// share their caches. Run it with
//
//	go test -run '^$' -bench BenchmarkInsertGrowth$ -benchtime 1x -timeout 2h ./internal/store/sqlitestore/
//
// (about 10 minutes on 2 cores).
//
// The run is one experiment whatever b.N is (make bench passes -benchtime 3x to every insert
// benchmark): it is made on the first call and its figures reported again on the others.
func BenchmarkInsertGrowth(b *testing.B) {
	if testing.Short() {
		b.Skip("inserts 1.3M records")
	}
	growthOnce.Do(func() {
		// Each store is closed before the other runs, so that its pages leave the shared page
		// cache. The current one first: it is the quicker, and its figures are the point.
		cur := benchStore(b)
		growthCur = insertGrowth(b, cur, *growthRows, 1000)
		if err := cur.Close(); err != nil {
			b.Fatal(err)
		}
		growthBase = insertGrowth(b, openBaselineStore(b), *growthBaselineRows, 1000)
	})
	base, cur := growthBase, growthCur
	base.report(b, "baseline-")
	cur.report(b, "")
	n := base.total()
	b.ReportMetric(cur.rate(0, n)/base.rate(0, n), "x-baseline")
	b.Logf("over the first %d records: %.2fx the baseline's records/s; first half %.2fx, second half %.2fx",
		n, cur.rate(0, n)/base.rate(0, n), cur.rate(0, n/2)/base.rate(0, n/2), cur.rate(n/2, n)/base.rate(n/2, n))
}

// BenchmarkInsertGrowthPartitioned is BenchmarkInsertGrowth's current store with partitions
// of -growth.partition-rows rows (the default partition_max_rows) and no baseline: second/first is 1 when the writer
// keeps its speed as the data grows, and its records/s compare with BenchmarkInsertGrowth's.
//
//	go test -run '^$' -bench BenchmarkInsertGrowthPartitioned -benchtime 1x -timeout 2h ./internal/store/sqlitestore/
func BenchmarkInsertGrowthPartitioned(b *testing.B) {
	if testing.Short() {
		b.Skip("inserts 1M records")
	}
	partitionedOnce.Do(func() {
		cfg := DefaultConfig()
		cfg.Path = b.TempDir() + "/bench.db"
		cfg.PartitionMaxRows = *growthPartitionRows
		cfg.WriterCacheSizeKiB = *growthWriterCache
		s, err := OpenPartitioned(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		groupMaxRows = *growthGroupRows
		checkpointEvery = *growthCheckpointEvery
		if *growthWriters > 1 {
			growthPartitioned = insertGrowthConcurrent(b, s, *growthRows, *growthBatch, *growthWriters)
		} else {
			growthPartitioned = insertGrowth(b, s, *growthRows, *growthBatch)
		}
		b.Logf("%d partitions", s.partitionCount())
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	})
	growthPartitioned.report(b, "")
}

var (
	partitionedOnce   sync.Once
	growthPartitioned growth
)

var (
	growthOnce            sync.Once
	growthBase, growthCur growth
)

// growthVariants are changes to a new store, made to measure what each part of the schema or
// setting costs as the file grows. Exploration: BenchmarkInsertGrowthVariant runs one alone.
var growthVariants = map[string]func(b *testing.B, s *Store){
	"":                  func(*testing.B, *Store) {},
	"baseline":          nil, // openBaselineStore
	"without-fts":       func(b *testing.B, s *Store) { withoutFullText(b, s) },
	"writer-cache-16m":  execVariant(`PRAGMA cache_size = -16384`),
	"writer-cache-1g":   execVariant(`PRAGMA cache_size = -1048576`),
	"mmap-8g":           execVariant(`PRAGMA mmap_size = 8589934592`),
	"without-trace":     execVariant(`DROP INDEX audit_logs_trace`),
	"without-ip":        execVariant(`DROP INDEX audit_logs_ip`),
	"without-user":      execVariant(`DROP INDEX audit_logs_tenant_user_time`),
	"without-event":     execVariant(`DROP INDEX audit_logs_tenant_event_time`),
	"fts-automerge-8":   execVariant(`INSERT INTO audit_fts (audit_fts, rank) VALUES ('automerge', 8)`),
	"temp-store-memory": execVariant(`PRAGMA temp_store = MEMORY`),
}

func execVariant(stmts ...string) func(b *testing.B, s *Store) {
	return func(b *testing.B, s *Store) {
		for _, stmt := range stmts {
			if _, err := s.write.Exec(stmt); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkInsertGrowthVariant runs one of growthVariants (-growth.variant) alone, on
// -growth.rows records, for profiles and I/O counts:
//
//	go test -run '^$' -bench BenchmarkInsertGrowthVariant -benchtime 1x -growth.rows 300000 \
//	  -growth.variant without-fts -cpuprofile cpu.out ./internal/store/sqlitestore/
func BenchmarkInsertGrowthVariant(b *testing.B) {
	if *growthVariant == "-" {
		b.Skip("no -growth.variant")
	}
	variant, ok := growthVariants[*growthVariant]
	if !ok {
		b.Fatalf("no variant %q", *growthVariant)
	}
	for range b.N {
		var s *Store
		if variant == nil {
			s = openBaselineStore(b)
		} else {
			s = benchStore(b)
			variant(b, s)
		}
		insertGrowth(b, s, *growthRows, 1000).report(b, "")
	}
}
