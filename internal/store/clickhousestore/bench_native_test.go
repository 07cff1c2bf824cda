package clickhousestore

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

var (
	benchBlockRows     = flag.Int("insert.block-rows", 0, "BenchmarkInsert_VsNative: rows of one native block of the store's insert (0: insertBlockRows)")
	benchFinishWorkers = flag.Int("insert.finish-workers", 0, "BenchmarkInsert_VsNative: goroutines finishing an insert's rows (0: the default)")
	benchCompression   = flag.String("insert.compression", "", "BenchmarkInsert_VsNative: the store's compression (none, lz4, zstd; \"\": the default)")
)

// nativeRoundRows is how many records one round of insertVsNative writes each way: ours in
// Insert calls of the batch size, the native client in one INSERT of the round's blocks.
const nativeRoundRows = 20_000

// nativeClient is the baseline's side of insertVsNative: ClickHouse's own client taking rows
// from a file into a table.
type nativeClient interface {
	// export appends the result of query, in format, to file.
	export(query, format, file string) error
	// insert loads file into table (columns) and returns the time the insert took, without the
	// cost of starting the client (see clickhouseClient).
	insert(table, columns, format, file string) (net, wall time.Duration, err error)
}

// insertVsNative writes the same loadgen-like records through the store (open's, into table A)
// and through the native client (into an identical empty table B, a second store's), round by
// round alternated so that both see the same background load. Each round: ours inserts
// nativeRoundRows records in batches of size, one tenant a batch as the exporter hands them;
// those rows are exported from A per batch (one Native block each, concatenated) and the
// client inserts the file into B in one INSERT, and the same rows as RowBinary into a third
// table. It reports rows/s of each and ours/native.
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
	var oursTime, nativeTime, nativeWall, rbTime time.Duration
	rows := 0
	b.ResetTimer()
	for round := 0; round < b.N; round++ {
		var versions []uint64
		for n := 0; n < nativeRoundRows; n += size {
			b.StopTimer()
			batch := gen.Batch(size, tenants[(n/size)%len(tenants)])
			b.StartTimer()
			began := time.Now()
			stored, err := ours.Insert(ctx, "", batch)
			oursTime += time.Since(began)
			require.NoError(b, err)
			require.Equal(b, size, stored)
			rows += size
			b.StopTimer()
			var v uint64
			require.NoError(b, ours.conn.QueryRow(ctx, "SELECT min(insert_version) FROM "+d.logs()).Scan(&v))
			versions = append(versions, v)
			b.StartTimer()
		}
		b.StopTimer()
		nativeFile := filepath.Join(dir, fmt.Sprintf("round-%d.native", round))
		rbFile := filepath.Join(dir, fmt.Sprintf("round-%d.rowbinary", round))
		for _, v := range versions {
			q := fmt.Sprintf("SELECT %s FROM %s WHERE insert_version = %d", cols, d.logs(), v)
			require.NoError(b, client.export(q, "Native", nativeFile))
			require.NoError(b, client.export(q, "RowBinary", rbFile))
		}
		net, wall, err := client.insert(nd.logs(), cols, "Native", nativeFile)
		require.NoError(b, err)
		nativeTime += net
		nativeWall += wall
		net, _, err = client.insert(rd.logs(), cols, "RowBinary", rbFile)
		require.NoError(b, err)
		rbTime += net
		_ = os.Remove(nativeFile)
		_ = os.Remove(rbFile)
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

func (c clickhouseClient) insert(table, columns, format, file string) (time.Duration, time.Duration, error) {
	began := time.Now()
	if out, err := exec.Command("clickhouse-client", c.args("SELECT 1")...).CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("clickhouse-client: %w: %s", err, out)
	}
	start := time.Since(began)
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	cmd := exec.Command("clickhouse-client", c.args(fmt.Sprintf("INSERT INTO %s (%s) FORMAT %s", table, columns, format))...)
	cmd.Stdin = f
	began = time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(began)
	if err != nil {
		return 0, 0, fmt.Errorf("clickhouse-client insert: %w: %s", err, out)
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
	for _, size := range []int{1000, 10000} {
		for _, chain := range []bool{false, true} {
			b.Run(fmt.Sprintf("batch=%d/chain=%v", size, chain), func(b *testing.B) {
				insertVsNative(b, size, open, chain, clickhouseClient{host: host, port: port})
			})
		}
	}
}
