package harness

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU_AddsUserAndSystemTicksAfterTheCommandName(t *testing.T) {
	// A command name with a space and a parenthesis must not shift the fields.
	stat := "4242 (otel col) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 130 0 0 20 0 12 0 100 0 0"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3800 * time.Millisecond; got != want {
		t.Fatalf("cpu = %s, want %s (250 + 130 ticks)", got, want)
	}
	if _, err := parseStatCPU("4242 (x) S 1 2"); err == nil {
		t.Fatal("a truncated stat line parsed")
	}
}

func TestParseStatusKB_FindsTheKeyAndRejectsOtherUnits(t *testing.T) {
	status := "Name:\tstockcol\nVmPeak:\t 2000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t 40000 kB\n"
	if n, err := parseStatusKB(status, "VmHWM"); err != nil || n != 51234 {
		t.Fatalf("VmHWM = %d, %v; want 51234", n, err)
	}
	if _, err := parseStatusKB(status, "VmSwap"); err == nil || !strings.Contains(err.Error(), "VmSwap") {
		t.Fatalf("a missing key gave %v", err)
	}
	if _, err := parseStatusKB("VmHWM: 12 MB\n", "VmHWM"); err == nil {
		t.Fatal("a value in MB parsed as kB")
	}
}

func TestReadProc_MeasuresThisProcess(t *testing.T) {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// A Go test binary has a resident set of a few MiB at least.
	if s.PeakRSS < 1<<20 {
		t.Errorf("peak rss %d bytes, want at least 1 MiB", s.PeakRSS)
	}
	spin := time.Now()
	for time.Since(spin) < 50*time.Millisecond {
	}
	s2, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s2.CPU <= s.CPU {
		t.Errorf("cpu did not grow over 50 ms of spinning: %s then %s", s.CPU, s2.CPU)
	}
}

const benchOutput = `goos: linux
goarch: amd64
pkg: github.com/otelcol-audit/otelcol-audit/internal/wal
cpu: AMD EPYC 7B13
BenchmarkAppend/sync=always/appenders=1-2         	    1312	   1650114 ns/op	   0.62 MB/s	       606.0 entries/s	         1.000 fsyncs/entry
BenchmarkAppend/sync=always/appenders=64-2        	   41061	     48790 ns/op	  20.99 MB/s	     20495 entries/s	         0.01737 fsyncs/entry
BenchmarkDurableIngest/senders=8-2   	       1	2361520143 ns/op	         1.702 ack-p50-ms	        13.98 ack-p99-ms	     16938 records/s
--- BENCH: BenchmarkSomething
    bench_test.go:12: a log line 1 x
PASS
ok  	github.com/otelcol-audit/otelcol-audit/internal/wal	12.3s
`

func TestParseGoBench_ReadsNamesIterationsAndEveryMetric(t *testing.T) {
	rs := ParseGoBench(benchOutput)
	if len(rs) != 3 {
		t.Fatalf("parsed %d results, want 3: %+v", len(rs), rs)
	}
	r, ok := FindBench(rs, "BenchmarkAppend/sync=always/appenders=64")
	if !ok {
		t.Fatalf("the -GOMAXPROCS suffix was not stripped: %+v", rs)
	}
	if r.Iterations != 41061 || r.Metrics["entries/s"] != 20495 || r.Metrics["fsyncs/entry"] != 0.01737 || r.Metrics["MB/s"] != 20.99 {
		t.Fatalf("appenders=64 parsed as %+v", r)
	}
	d, _ := FindBench(rs, "BenchmarkDurableIngest/senders=8")
	if d.Metrics["ack-p99-ms"] != 13.98 || d.Metrics["records/s"] != 16938 {
		t.Fatalf("durable ingest parsed as %+v", d)
	}
	if _, ok := FindBench(rs, "BenchmarkSomething"); ok {
		t.Fatal("a --- BENCH header was parsed as a result")
	}
}

func TestCountRows_NamesTheFileWhenItIsNotAStore(t *testing.T) {
	path := t.TempDir() + "/empty.db"
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := CountRows(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "empty.db") {
		t.Fatalf("err = %v, want one naming the file", err)
	}
}

func TestStockConfig_CarriesTheRedactbenchPatternsAndThePersistentQueue(t *testing.T) {
	cfg := StockConfig(StockOptions{OTLPPort: 1234, StorageDir: "/tmp/q", SinkURL: "http://127.0.0.1:9", QueueSize: 500})
	for _, want := range []string{"fsync: true", "storage: file_storage", "queue_size: 500", `"(?i)secret"`, "endpoint: 127.0.0.1:1234", "endpoint: http://127.0.0.1:9"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("stock config lacks %q:\n%s", want, cfg)
		}
	}
	ours := OursConfig(OursOptions{Mode: "durable", OTLPPort: 1, QueryPort: 2, DataDir: "/d", MaxQueueSize: 7})
	for _, want := range []string{"mode: durable", "sync: always", "max_size: 1000", "flush_interval: 1s", "max_queue_size: 7", "path: /d/audit.db"} {
		if !strings.Contains(ours, want) {
			t.Errorf("our config lacks %q:\n%s", want, ours)
		}
	}
}

func TestMeasureStoreCeiling_InsertsEveryRecordWithAndWithoutFullText(t *testing.T) {
	for _, noFTS := range []bool{false, true} {
		dir := t.TempDir()
		res, err := MeasureStoreCeiling(context.Background(), dir, 2500, 1000, noFTS)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := CountRows(context.Background(), dir+"/ceiling.db"); err != nil || n != 2500 {
			t.Fatalf("without fts=%v: %d rows in the file (err %v), want 2500", noFTS, n, err)
		}
		if res.Records != 2500 || res.Rate() <= 0 || res.FirstHalf <= 0 || res.SecondHalf <= 0 {
			t.Fatalf("without fts=%v: %+v, want 2500 records and positive rates", noFTS, res)
		}
	}
}
