package sqlitestore

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// The query benchmarks run on one file of queryBenchRows records spread over queryBenchSpan,
// built on the first run (about ten minutes for 1M rows on 2 cores) and cached in the
// system temp directory under a name that carries the dataset's version, so later runs, and
// every benchmark of a run, reuse it. Benchmarks run only with -bench, and -short skips them,
// so `go test ./...` never builds it. Delete the file to rebuild it.
const queryBenchBatch = 1000

// queryBenchSpan is 30 days by default; AUDIT_BENCH_DAYS=3 with AUDIT_BENCH_ROWS=1000000 packs
// the records as densely as 10M rows over 30 days, to measure per-day costs (stats) at that
// density without building the 10M-row file.
var queryBenchSpan = func() time.Duration {
	if n, err := strconv.Atoi(os.Getenv("AUDIT_BENCH_DAYS")); err == nil && n > 0 {
		return time.Duration(n) * 24 * time.Hour
	}
	return 30 * 24 * time.Hour
}()

// queryBenchRows is 1M by default; AUDIT_BENCH_ROWS=10000000 runs the same benchmarks on 10M
// rows (a separate cached file: about 13 GB; see BENCHMARKS.md for the build time).
var queryBenchRows = func() int {
	if n, err := strconv.Atoi(os.Getenv("AUDIT_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}()

// queryBenchEnd is the dataset's newest timestamp: fixed, so the cached file and the queries
// agree whatever day the benchmark runs.
var queryBenchEnd = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// queryBenchDataset names the dataset's layout: bump it when a migration changes what the
// benchmarks read (v3 moved full-text search to search_text).
const queryBenchDataset = 3

// queryBenchPath also names the schema, by a digest of every migration's statements: a file
// is opened only by code with the same migrations, so no run migrates a cached file that a
// checkout with other migrations (another branch, whose v6 may differ from this one's) uses;
// such a file would refuse that checkout as too new, or skip its own v6.
func queryBenchPath() string {
	days := ""
	if queryBenchSpan != 30*24*time.Hour {
		days = fmt.Sprintf("-%dd", queryBenchSpan/(24*time.Hour))
	}
	h := sha256.New()
	for _, m := range migrations {
		fmt.Fprintf(h, "%d\x00%s\x00%s\x00", m.version, strings.Join(m.steps, "\x00"), strings.Join(m.then, "\x00"))
	}
	return filepath.Join(os.TempDir(), "otelcol-audit-bench", fmt.Sprintf("query-%dk%s-schema%d-%x.db", queryBenchRows/1000, days, queryBenchDataset, h.Sum(nil)[:4]))
}

// queryBenchStore opens the cached 1M-row file, building it first when absent.
func queryBenchStore(b *testing.B) *Store {
	b.Helper()
	if testing.Short() {
		b.Skip("the query benchmarks need a 1M-row file; not in -short")
	}
	path := queryBenchPath()
	if _, err := os.Stat(path); os.IsNotExist(err) {
		if *queryCachedOnly {
			b.Skipf("no cached dataset at %s (-query.cached-only)", path)
		}
		buildQueryBenchFile(b, path)
	}
	cfg := DefaultConfig()
	cfg.Path = path
	s, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// buildQueryBenchFile writes the dataset to a temporary name and renames it when complete, so
// an interrupted build is never mistaken for the dataset.
func buildQueryBenchFile(b *testing.B, path string) {
	b.Helper()
	tmp := path + ".building"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(tmp + suffix)
	}
	cfg := DefaultConfig()
	cfg.Path = tmp
	// Building is not what is measured: a page cache large enough to hold the indexes keeps
	// 10M random-key index inserts from going to disk, and a crash only means rebuilding.
	cfg.CacheSizeKiB, cfg.WriterCacheSizeKiB = 4<<20, 4<<20
	cfg.Synchronous = "OFF"
	s, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	started := time.Now()
	deferred := dropForBulkLoad(b, s)
	s.skipFullTextInsert = true // dropForBulkLoad's statements rebuild it after the load
	made := queryBenchBatches()
	inserted := 0
	for tb := range made {
		if _, err := s.Insert(context.Background(), tb.tenant, tb.batch); err != nil {
			b.Fatal(err)
		}
		if inserted += len(tb.batch); inserted%1_000_000 < len(tb.batch) {
			b.Logf("%d records after %s", inserted, time.Since(started).Round(time.Second))
		}
	}
	loaded := time.Since(started)
	for _, stmt := range deferred {
		if _, err := s.write.Exec(stmt); err != nil {
			b.Fatalf("%s: %v", stmt, err)
		}
	}
	b.Logf("loaded %d records in %s, indexes and full-text index built in %s", inserted,
		loaded.Round(time.Second), (time.Since(started) - loaded).Round(time.Second))
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d records in %s at %s", queryBenchRows, time.Since(started).Round(time.Second), path)
}

// queryBenchBatch is one tenant's batch of the dataset.
type queryBenchBatchOf struct {
	tenant string
	batch  []record.Record
}

// queryBenchBatches makes the dataset, the same records on every call, on another goroutine
// so that the second core generates while the first writes.
func queryBenchBatches() <-chan queryBenchBatchOf {
	made := make(chan queryBenchBatchOf, 8)
	go func() {
		defer close(made)
		rng := rand.New(rand.NewPCG(2025, 6))
		step := queryBenchSpan / time.Duration(queryBenchRows)
		ts := queryBenchEnd.Add(-queryBenchSpan)
		for done := 0; done < queryBenchRows; {
			// benchBatches makes the realistic records; the timestamps are spread over the span.
			batches, tenants := benchBatches(rng, queryBenchBatch, ts)
			for i, batch := range batches {
				for j := range batch {
					ts = ts.Add(step/2 + time.Duration(rng.Int64N(int64(step))))
					batch[j].Timestamp, batch[j].ObservedTimestamp = ts, ts.Add(3*time.Millisecond)
				}
				made <- queryBenchBatchOf{tenants[i], batch}
				done += len(batch)
			}
		}
	}()
	return made
}

// dropForBulkLoad removes the secondary indexes of audit_logs and the full-text triggers, and
// returns the statements that rebuild them after the load: building an index by sorting 10M
// rows once is far faster than 10M random insertions into it, which on 2 cores made the 10M
// build take hours. The benchmarks query the rebuilt file, whose indexes are as compact as a
// freshly built (or VACUUMed) database's rather than an organically grown one's.
func dropForBulkLoad(b *testing.B, s *Store) []string {
	b.Helper()
	rows, err := s.write.Query(`SELECT type, name, sql FROM sqlite_master
		WHERE tbl_name = 'audit_logs' AND sql IS NOT NULL AND type IN ('index', 'trigger')`)
	if err != nil {
		b.Fatal(err)
	}
	var drop, rebuild []string
	for rows.Next() {
		var typ, name, ddl string
		if err := rows.Scan(&typ, &name, &ddl); err != nil {
			b.Fatal(err)
		}
		drop = append(drop, "DROP "+strings.ToUpper(typ)+" "+name)
		rebuild = append(rebuild, ddl)
	}
	if err := rows.Close(); err != nil {
		b.Fatal(err)
	}
	for _, stmt := range drop {
		if _, err := s.write.Exec(stmt); err != nil {
			b.Fatalf("%s: %v", stmt, err)
		}
	}
	return append(rebuild, `INSERT INTO audit_fts (audit_fts) VALUES ('rebuild')`)
}

// sampleStrings returns up to n distinct values of a column, spread over the file.
func sampleStrings(b *testing.B, s *Store, query string, n int) []string {
	b.Helper()
	rows, err := s.read.Query(query, n)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			b.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// runLatency runs op b.N times and reports the median and 99th percentile latency.
func runLatency(b *testing.B, op func(i int) error) {
	b.Helper()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkQuery1M measures the API's reads on a 1M-row file (4 tenants, 500 users, 8 events,
// half the records in a trace, 30 days): the first page (100 records) of each kind of query,
// and stats over one day (hourly buckets, and the automatic 15 minutes) and a week. Run with
//
//	go test -run '^$' -bench BenchmarkQuery1M -benchtime 200x ./internal/store/sqlitestore/
func BenchmarkQuery1M(b *testing.B) {
	s := queryBenchStore(b)
	runQueryBench(b, s, []*Store{s})
	// The file's size per record: the database file with its indexes, full-text index and
	// chain (its -wal is checkpointed at Close and is not counted).
	b.Run("size", func(b *testing.B) {
		var rows int64
		if err := s.read.QueryRow(`SELECT count(*) FROM audit_logs`).Scan(&rows); err != nil || rows == 0 {
			b.Fatalf("count rows: %d, %v", rows, err)
		}
		st, err := os.Stat(queryBenchPath())
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < b.N; i++ {
		}
		b.ReportMetric(float64(st.Size())/float64(rows), "bytes/record")
		b.ReportMetric(float64(rows), "records")
	})
}

// BenchmarkQuery1MPartitioned runs BenchmarkQuery1M's reads on the same records in a
// partitioned store (the default partition_max_rows), grown through Insert as a collector
// grows it, and cached beside the one-file dataset:
//
//	go test -run '^$' -bench BenchmarkQuery1MPartitioned -benchtime 200x ./internal/store/sqlitestore/
func BenchmarkQuery1MPartitioned(b *testing.B) {
	p := queryBenchPartitioned(b)
	parts, release, err := p.snapshot(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer release()
	var files []*Store
	for _, v := range parts {
		if !v.empty() {
			files = append(files, v.st)
		}
	}
	b.Logf("%d partitions of at most %d rows", len(parts)-1, *queryPartitionRows)
	runQueryBench(b, p, files)
}

// queryCachedOnly lets a caller that must not spend an hour building (make bench, for the 10M-row
// datasets) run the benchmarks whose dataset a previous run left, without knowing its file name.
var queryCachedOnly = flag.Bool("query.cached-only", false,
	"the query benchmarks skip, rather than build, a dataset that is not cached")

var queryMmapSize = flag.Int64("query.mmap-size", 0,
	"BenchmarkQuery1MPartitioned: the store's mmap_size while it is queried (0, the default, is off)")

var querySealedMmapSize = flag.Int64("query.sealed-mmap-size", DefaultSealedMmapSize,
	"BenchmarkQuery1MPartitioned: the store's sealed_mmap_size while it is queried")

var queryTraceFilters = flag.Bool("query.trace-filters", true,
	"BenchmarkQuery1MPartitioned: trace lookups skip the partitions whose trace filter rules the trace out (false: every lookup asks every partition, as before the filters)")

var queryPartitionRows = flag.Int64("query.partition-rows", DefaultPartitionMaxRows,
	"BenchmarkQuery1MPartitioned: partition_max_rows of the partitioned dataset (each size is cached apart)")

// queryBenchPartitioned opens the cached partitioned dataset, building it first when absent:
// in a directory of its own, renamed into place when complete.
func queryBenchPartitioned(b *testing.B) *Partitioned {
	b.Helper()
	if testing.Short() {
		b.Skip("the query benchmarks need a 1M-row store; not in -short")
	}
	// The partition size is in the name: a dataset cut at another size is another dataset.
	dir := fmt.Sprintf("%s-partitioned-%dk", strings.TrimSuffix(queryBenchPath(), ".db"), *queryPartitionRows/1000)
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(dir, "audit.db")
	cfg.PartitionMaxRows = *queryPartitionRows
	cfg.MmapSize = *queryMmapSize
	cfg.SealedMmapSize = *querySealedMmapSize
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		if *queryCachedOnly {
			b.Skipf("no cached dataset at %s (-query.cached-only)", dir)
		}
		building := dir + ".building"
		_ = os.RemoveAll(building)
		bcfg := cfg
		bcfg.Path = filepath.Join(building, "audit.db")
		bcfg.Synchronous = "OFF" // building is not what is measured; a crash means rebuilding
		w, err := OpenPartitioned(context.Background(), bcfg)
		if err != nil {
			b.Fatal(err)
		}
		started, inserted := time.Now(), 0
		for tb := range queryBenchBatches() {
			if _, err := w.Insert(context.Background(), tb.tenant, tb.batch); err != nil {
				b.Fatal(err)
			}
			if inserted += len(tb.batch); inserted%1_000_000 < len(tb.batch) {
				b.Logf("%d records after %s", inserted, time.Since(started).Round(time.Second))
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(building, dir); err != nil {
			b.Fatal(err)
		}
		b.Logf("built %d records in %s at %s", inserted, time.Since(started).Round(time.Second), dir)
	}
	p, err := OpenPartitioned(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	waitTraceFilters(p) // loaded (or, for a dataset built before them, built) before timing
	if !*queryTraceFilters {
		p.mu.Lock()
		for _, pt := range p.parts {
			pt.traces.Store(nil)
		}
		p.mu.Unlock()
	}
	return p
}

// runQueryBench measures s's reads; the trace ids and session ids it looks up are sampled
// from files, the files that make up s.
func runQueryBench(b *testing.B, s store.Store, files []*Store) {
	ctx := context.Background()
	var traces, sessions []string
	for _, f := range files {
		traces = append(traces, sampleStrings(b, f, `SELECT trace_id FROM audit_logs WHERE trace_id <> '' AND seq % 997 = 0 LIMIT ?`, 500/len(files)+1)...)
		sessions = append(sessions, sampleStrings(b, f, `SELECT json_extract(attributes, '$."session.id"') FROM audit_logs WHERE seq % 1009 = 0 LIMIT ?`, 500/len(files)+1)...)
	}
	// Over all files: a small partition (a few thousand rows) may have no row the sample takes.
	if len(traces) == 0 || len(sessions) == 0 {
		b.Fatalf("no samples: %d trace ids, %d session ids", len(traces), len(sessions))
	}
	rng := rand.New(rand.NewPCG(7, 8))
	tenant := func() string { return fmt.Sprintf("tenant-%d", rng.IntN(4)) }
	day := func() (time.Time, time.Time) {
		start := queryBenchEnd.Add(-queryBenchSpan).Add(time.Duration(rng.Int64N(int64(queryBenchSpan - 24*time.Hour))))
		return start, start.Add(24 * time.Hour)
	}
	query := func(f store.Filter) error {
		_, err := s.Query(ctx, f, store.Page{Limit: 100})
		return err
	}
	cases := []struct {
		name string
		op   func(i int) error
	}{
		{"trace", func(i int) error {
			_, err := s.Trace(ctx, "", traces[i%len(traces)])
			return err
		}},
		{"user+range", func(int) error {
			start, end := day()
			return query(store.Filter{TenantID: tenant(), UserID: fmt.Sprintf("user-%03d", rng.IntN(500)), Start: start, End: end})
		}},
		{"event", func(int) error {
			return query(store.Filter{TenantID: tenant(), Event: benchEvents[rng.IntN(len(benchEvents))]})
		}},
		{"fts-common-words", func(int) error {
			return query(store.Filter{TenantID: tenant(), Text: "external recipient"})
		}},
		{"fts-rare-word", func(i int) error {
			return query(store.Filter{Text: sessions[i%len(sessions)]})
		}},
		{"stats-24h-tenant", func(int) error {
			start, end := day()
			_, err := s.Stats(ctx, store.StatsQuery{TenantID: tenant(), Start: start, End: end, Interval: time.Hour})
			return err
		}},
		{"stats-24h-admin", func(int) error {
			start, end := day()
			_, err := s.Stats(ctx, store.StatsQuery{Start: start, End: end, Interval: time.Hour})
			return err
		}},
		// The viewer's default: no interval, so 15-minute buckets over a day.
		{"stats-24h-admin-auto", func(int) error {
			start, end := day()
			_, err := s.Stats(ctx, store.StatsQuery{Start: start, End: end})
			return err
		}},
		{"stats-7d-admin-auto", func(int) error {
			if queryBenchSpan < 8*24*time.Hour {
				return nil // the span holds no week
			}
			start := queryBenchEnd.Add(-queryBenchSpan).Add(time.Duration(rng.Int64N(int64(queryBenchSpan - 7*24*time.Hour))))
			_, err := s.Stats(ctx, store.StatsQuery{Start: start, End: start.Add(7 * 24 * time.Hour)})
			return err
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { runLatency(b, c.op) })
	}
}
