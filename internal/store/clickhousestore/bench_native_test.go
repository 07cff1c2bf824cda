package clickhousestore

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

var (
	benchBlockRows     = flag.Int("insert.block-rows", 0, "BenchmarkInsert_VsNative: rows of one native block of the store's insert (0: insertBlockRows)")
	benchFinishWorkers = flag.Int("insert.finish-workers", 0, "BenchmarkInsert_VsNative: goroutines finishing an insert's rows (0: the default)")
	benchCompression   = flag.String("insert.compression", "", "BenchmarkInsert_VsNative: the store's compression (none, lz4, zstd; \"\": the default)")
	benchBatchSizes    = flag.String("insert.batch-sizes", "1000,10000,20000", "BenchmarkInsert_VsNative: the batch sizes to run, comma-separated (each a divisor or a multiple of 20,000)")
	benchWriters       = flag.Int("insert.writers", 1, "BenchmarkInsert_VsNative: concurrent inserts on each side (the exporter's batch.workers; the native client runs as many)")
)

// nativeRoundRows is how many records one round of insertVsNative writes each way: ours in
// Insert calls of the batch size, the native client in one INSERT of the round's blocks.
const nativeRoundRows = 20_000

// nativeClient is the baseline's side of insertVsNative: ClickHouse's own client taking rows
// from a file into a table.
type nativeClient interface {
	// export appends the result of query, in format, to file.
	export(query, format, file string) error
	// insert loads each of files into table (columns), all at once, one client or statement
	// each, and returns the time the inserts took, without the cost of starting the client
	// (see clickhouseClient).
	insert(table, columns, format string, files []string) (net, wall time.Duration, err error)
}

// insertVsNative writes the same loadgen-like records through the store (open's, into table A)
// and through the native client (into an identical empty table B, a second store's), round by
// round alternated so that both see the same background load. Each round: ours inserts
// roundRows(size) records in batches of size, one tenant a batch as the exporter hands them;
// those rows are exported from A per batch (one Native block each, concatenated) and the
// client inserts the file into B in one INSERT, and the same rows as RowBinary into a third
// table. So below 20,000 the client writes one part where ours writes one per batch; from
// 20,000 up both write one part per batch. With -insert.writers n both sides run n at once
// (ours n goroutines taking the next batch, the client n processes of every n-th block). It
// reports rows/s of each, ours/native over all rounds, and the rounds' median and extremes.
func insertVsNative(b *testing.B, size int, open func(b *testing.B, chain bool) *Store, chain bool, client nativeClient) {
	ours := open(b, chain)
	ours.blockRows = *benchBlockRows
	ours.finishWorkers = *benchFinishWorkers
	native := open(b, false)
	rowBinary := open(b, false)
	ctx := context.Background()
	d, err := ours.dialect(ctx)
	require.NoError(b, err)
	cols := strings.Join(d.insertColumns(), ", ")
	nd, err := native.dialect(ctx)
	require.NoError(b, err)
	rd, err := rowBinary.dialect(ctx)
	require.NoError(b, err)
	dir := b.TempDir()
	gen := storetest.NewLoadgenLike(uint64(size), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	tenants := []string{"acme", "globex", "initech", "umbrella"}
	writers := max(1, *benchWriters)
	var oursTime, nativeTime, nativeWall, rbTime time.Duration
	rows := 0
	seen := map[uint64]bool{}
	var roundRatios []float64
	b.ResetTimer()
	for round := 0; round < b.N; round++ {
		b.StopTimer()
		var batches [][]record.Record
		for n := 0; n < roundRows(size); n += size {
			batches = append(batches, gen.Batch(size, tenants[(n/size)%len(tenants)]))
		}
		b.StartTimer()
		took, err := insertConcurrently(ctx, ours, batches, writers)
		oursTime += took
		require.NoError(b, err)
		rows += roundRows(size)
		b.StopTimer()
		// Each Insert's rows share one insert_version: one Native block per batch, in the
		// files of writers clients (batch i to client i % writers).
		versions := newVersions(b, ours, d, seen)
		require.Len(b, versions, len(batches), "one insert_version per batch")
		var nativeFiles, rbFiles []string
		for w := 0; w < min(writers, len(versions)); w++ {
			nativeFiles = append(nativeFiles, filepath.Join(dir, fmt.Sprintf("round-%d-%d.native", round, w)))
			rbFiles = append(rbFiles, filepath.Join(dir, fmt.Sprintf("round-%d-%d.rowbinary", round, w)))
		}
		for i, v := range versions {
			q := fmt.Sprintf("SELECT %s FROM %s WHERE insert_version = %d", cols, d.logs(), v)
			require.NoError(b, client.export(q, "Native", nativeFiles[i%len(nativeFiles)]))
			require.NoError(b, client.export(q, "RowBinary", rbFiles[i%len(rbFiles)]))
		}
		net, wall, err := client.insert(nd.logs(), cols, "Native", nativeFiles)
		require.NoError(b, err)
		nativeTime += net
		nativeWall += wall
		roundRatios = append(roundRatios, net.Seconds()/took.Seconds())
		net, _, err = client.insert(rd.logs(), cols, "RowBinary", rbFiles)
		require.NoError(b, err)
		rbTime += net
		for _, f := range append(nativeFiles, rbFiles...) {
			_ = os.Remove(f)
		}
		b.StartTimer()
	}
	b.StopTimer()
	for _, s := range []*Store{native, rowBinary} {
		var n uint64
		dd, _ := s.dialect(ctx)
		require.NoError(b, s.conn.QueryRow(ctx, "SELECT count() FROM "+dd.logs()).Scan(&n))
		require.Equal(b, uint64(rows), n, "the native client stored every row")
	}

	b.ReportMetric(float64(rows)/oursTime.Seconds(), "ours_rows/s")
	b.ReportMetric(float64(rows)/nativeTime.Seconds(), "native_rows/s")
	b.ReportMetric(float64(rows)/nativeWall.Seconds(), "native_with_start_rows/s")
	b.ReportMetric(float64(rows)/rbTime.Seconds(), "rowbinary_rows/s")
	b.ReportMetric(nativeTime.Seconds()/oursTime.Seconds(), "ours/native")
	// The rounds' own ratios: on shared cores the native client's rate moves by a third from
	// one round to the next, so the median says more than the total when one round is slow.
	slices.Sort(roundRatios)
	b.ReportMetric(roundRatios[len(roundRatios)/2], "median-round-ours/native")
	b.ReportMetric(roundRatios[0], "min-round-ours/native")
	b.ReportMetric(roundRatios[len(roundRatios)-1], "max-round-ours/native")
}

// insertConcurrently inserts batches through s on writers goroutines, each taking the next
// batch as it finishes one, as the exporter's workers do, and returns the wall time of all.
func insertConcurrently(ctx context.Context, s *Store, batches [][]record.Record, writers int) (time.Duration, error) {
	var next atomic.Int64
	errs := make(chan error, writers)
	began := time.Now()
	for w := 0; w < writers; w++ {
		go func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batches) {
					errs <- nil
					return
				}
				stored, err := s.Insert(ctx, "", batches[i])
				if err == nil && stored != len(batches[i]) {
					err = fmt.Errorf("stored %d of %d", stored, len(batches[i]))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var first error
	for w := 0; w < writers; w++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return time.Since(began), first
}

// newVersions returns the insert_versions in s's table not in seen, oldest write first, and
// adds them to seen.
func newVersions(b *testing.B, s *Store, d dialect, seen map[uint64]bool) []uint64 {
	rows, err := s.conn.Query(context.Background(), "SELECT DISTINCT insert_version FROM "+d.logs()+" ORDER BY insert_version DESC")
	require.NoError(b, err)
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var v uint64
		require.NoError(b, rows.Scan(&v))
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	require.NoError(b, rows.Err())
	return out
}

// clickhouseClient is clickhouse-client against the test server. Its start (about 0.1 s here)
// is not the server's insert rate, so each insert is timed together with a `SELECT 1` run just
// before it, and net is the difference.
type clickhouseClient struct{ host, port string }

func (c clickhouseClient) args(query string) []string {
	return []string{"--host", c.host, "--port", c.port, "--query", query}
}

func (c clickhouseClient) export(query, format, file string) error {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command("clickhouse-client", c.args(query+" FORMAT "+format)...)
	cmd.Stdout = f
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("clickhouse-client export: %w: %s", err, stderr.String())
	}
	return f.Close()
}

func (c clickhouseClient) insert(table, columns, format string, files []string) (time.Duration, time.Duration, error) {
	began := time.Now()
	if out, err := exec.Command("clickhouse-client", c.args("SELECT 1")...).CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("clickhouse-client: %w: %s", err, out)
	}
	start := time.Since(began)
	cmds := make([]*exec.Cmd, len(files))
	outs := make([]strings.Builder, len(files))
	for i, file := range files {
		f, err := os.Open(file)
		if err != nil {
			return 0, 0, err
		}
		defer f.Close()
		cmds[i] = exec.Command("clickhouse-client", c.args(fmt.Sprintf("INSERT INTO %s (%s) FORMAT %s", table, columns, format))...)
		cmds[i].Stdin = f
		cmds[i].Stdout = &outs[i]
		cmds[i].Stderr = &outs[i]
	}
	began = time.Now()
	for _, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			return 0, 0, fmt.Errorf("clickhouse-client insert: %w", err)
		}
	}
	var first error
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil && first == nil {
			first = fmt.Errorf("clickhouse-client insert: %w: %s", err, outs[i].String())
		}
	}
	wall := time.Since(began)
	if first != nil {
		return 0, 0, first
	}
	return max(wall-start, time.Millisecond), wall, nil
}

// BenchmarkInsert_VsNative is insertVsNative on the test server (18.16 in CI), batches of 1,000
// and 10,000, chain off and on:
//
//	eval "$(scripts/clickhouse/start.sh)"
//	go test -run '^$' -bench Insert_VsNative -benchtime 3x ./internal/store/clickhousestore/
func BenchmarkInsert_VsNative(b *testing.B) {
	addr := serverAddr(b)
	host, port, ok := strings.Cut(addr, ":")
	require.True(b, ok, "CLICKHOUSE_ADDR %q is host:port", addr)
	if _, err := exec.LookPath("clickhouse-client"); err != nil {
		require.FailNow(b, "clickhouse-client is the baseline and is not installed (scripts/clickhouse/start.sh installs it)")
	}
	open := func(b *testing.B, chain bool) *Store {
		return openTestStore(b, func(c *Config) {
			c.Chain = chain
			if *benchCompression != "" {
				c.Compression = *benchCompression
			}
		})
	}
	for _, size := range batchSizes(b) {
		for _, chain := range []bool{false, true} {
			b.Run(fmt.Sprintf("batch=%d/chain=%v", size, chain), func(b *testing.B) {
				insertVsNative(b, size, open, chain, clickhouseClient{host: host, port: port})
			})
		}
	}
}

// roundRows is how many records one round writes each way for batches of size: at least
// nativeRoundRows, and a whole number of batches.
func roundRows(size int) int { return max(nativeRoundRows, size) }

// batchSizes is -insert.batch-sizes, each a divisor or a multiple of nativeRoundRows.
func batchSizes(b *testing.B) []int {
	var sizes []int
	for _, f := range strings.Split(*benchBatchSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		require.NoError(b, err, "-insert.batch-sizes")
		require.True(b, n > 0 && roundRows(n)%n == 0 && roundRows(n)%nativeRoundRows == 0, "-insert.batch-sizes: %d neither divides %d nor is a multiple of it", n, nativeRoundRows)
		sizes = append(sizes, n)
	}
	return sizes
}
