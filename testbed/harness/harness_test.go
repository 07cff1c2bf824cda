package harness

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
	"github.com/otelcol-audit/otelcol-audit/testbed/loadgen"
)

func TestParseStatCPU_AddsUserAndSystemTicksAfterTheCommandName(t *testing.T) {
	// A command name with a space and a parenthesis must not shift the fields.
	stat := "4242 (otel col) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 130 0 0 20 0 12 0 100 0 0"
	got, err := parseStatCPU(stat)
	require.NoError(t, err)
	require.Equal(t, 3800*time.Millisecond, got, "cpu, want 250 + 130 ticks")
	_, err = parseStatCPU("4242 (x) S 1 2")
	require.Error(t, err, "a truncated stat line parsed")
}

func TestParseStatusKB_FindsTheKeyAndRejectsOtherUnits(t *testing.T) {
	status := "Name:\tstockcol\nVmPeak:\t 2000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t 40000 kB\n"
	n, err := parseStatusKB(status, "VmHWM")
	require.NoError(t, err, "VmHWM")
	require.EqualValues(t, 51234, n, "VmHWM")
	_, err = parseStatusKB(status, "VmSwap")
	require.ErrorContains(t, err, "VmSwap", "a missing key")
	_, err = parseStatusKB("VmHWM: 12 MB\n", "VmHWM")
	require.Error(t, err, "a value in MB parsed as kB")
}

func TestReadProc_MeasuresThisProcess(t *testing.T) {
	s, err := ReadProc(os.Getpid())
	require.NoError(t, err)
	// A Go test binary has a resident set of a few MiB at least.
	assert.GreaterOrEqual(t, s.PeakRSS, int64(1<<20), "peak rss bytes, want at least 1 MiB")
	spin := time.Now()
	for time.Since(spin) < 50*time.Millisecond {
	}
	s2, err := ReadProc(os.Getpid())
	require.NoError(t, err)
	assert.Greater(t, s2.CPU, s.CPU, "cpu did not grow over 50 ms of spinning: %s then %s", s.CPU, s2.CPU)
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
	require.Len(t, rs, 3, "parsed results: %+v", rs)
	r, ok := FindBench(rs, "BenchmarkAppend/sync=always/appenders=64")
	require.True(t, ok, "the -GOMAXPROCS suffix was not stripped: %+v", rs)
	require.EqualValues(t, 41061, r.Iterations, "appenders=64 parsed as %+v", r)
	require.Equal(t, 20495.0, r.Metrics["entries/s"], "appenders=64 parsed as %+v", r)
	require.Equal(t, 0.01737, r.Metrics["fsyncs/entry"], "appenders=64 parsed as %+v", r)
	require.Equal(t, 20.99, r.Metrics["MB/s"], "appenders=64 parsed as %+v", r)
	d, _ := FindBench(rs, "BenchmarkDurableIngest/senders=8")
	require.Equal(t, 13.98, d.Metrics["ack-p99-ms"], "durable ingest parsed as %+v", d)
	require.Equal(t, 16938.0, d.Metrics["records/s"], "durable ingest parsed as %+v", d)
	_, ok = FindBench(rs, "BenchmarkSomething")
	require.False(t, ok, "a --- BENCH header was parsed as a result")
}

func TestCountRows_NamesTheFileWhenItIsNotAStore(t *testing.T) {
	path := t.TempDir() + "/empty.db"
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	_, err := CountRows(context.Background(), path)
	require.ErrorContains(t, err, "empty.db", "want an error naming the file")
}

func TestStockConfig_CarriesTheRedactbenchPatternsAndThePersistentQueue(t *testing.T) {
	cfg := StockConfig(StockOptions{OTLPPort: 1234, StorageDir: "/tmp/q", SinkURL: "http://127.0.0.1:9", QueueSize: 500})
	for _, want := range []string{"fsync: true", "storage: file_storage", "queue_size: 500", `"(?i)secret"`, "endpoint: 127.0.0.1:1234", "endpoint: http://127.0.0.1:9"} {
		assert.Contains(t, cfg, want, "stock config lacks %q", want)
	}
	ours := OursConfig(OursOptions{Mode: "durable", OTLPPort: 1, QueryPort: 2, DataDir: "/d", MaxQueueBytes: 7})
	for _, want := range []string{"mode: durable", "sync: always", "max_size: 1000", "flush_interval: 1s", "max_queue_bytes: 7", "path: /d/audit.db"} {
		assert.Contains(t, ours, want, "our config lacks %q", want)
	}
	assert.NotContains(t, ours, "max_queue_size", "the current shape carries the key current versions refuse")
}

func TestOursConfig_LegacyShapeHasTheRecordQueueAndNoByteBound(t *testing.T) {
	cfg := OursConfig(OursOptions{Mode: "durable", OTLPPort: 1, QueryPort: 2, DataDir: "/d", MaxQueueBytes: 7, LegacyQueueRecords: 20_000})
	for _, want := range []string{"mode: durable", "sync: always", "max_size: 1000", "flush_interval: 1s", "max_queue_size: 20000", "on_queue_full: dlq", "scan_interval: 2s", "path: /d/audit.db"} {
		assert.Contains(t, cfg, want, "legacy config lacks %q", want)
	}
	// Versions before 729837b fail at start on an unknown key.
	assert.NotContains(t, cfg, "max_queue_bytes", "legacy config carries the key old versions refuse")
}

// TestBuildAtRevision_BuildsTheOldTreeAndLeavesNoWorktree builds a two-commit module at its
// first commit and checks that the binary is the old one and that git no longer lists the
// temporary worktree.
func TestBuildAtRevision_BuildsTheOldTreeAndLeavesNoWorktree(t *testing.T) {
	_, err := exec.LookPath("git")
	require.NoError(t, err, "git builds the bench's baseline; it must be installed")
	repo := t.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"}, args...)...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
		return strings.TrimSpace(string(out))
	}
	write := func(msg string) {
		require.NoError(t, os.MkdirAll(filepath.Join(repo, "cmd"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module example.com/rev\n\ngo 1.21\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(repo, "cmd", "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(\""+msg+"\") }\n"), 0o644))
	}
	git("init", "-q")
	write("old")
	git("add", ".")
	git("commit", "-q", "-m", "old")
	first := git("rev-parse", "--short", "HEAD")
	write("new")
	git("commit", "-q", "-am", "new")

	tmp := t.TempDir()
	bin := filepath.Join(tmp, "old-bin")
	short, err := BuildAtRevision(context.Background(), repo, "HEAD~1", "./cmd", tmp, bin)
	require.NoError(t, err)
	assert.Equal(t, first, short, "the short id of HEAD~1")
	out, err := exec.Command(bin).Output()
	require.NoError(t, err)
	assert.Equal(t, "old", string(out), "the binary built at HEAD~1")
	assert.NotContains(t, git("worktree", "list"), tmp, "the temporary worktree is still registered")
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the binary stays in tmp: %v", entries)

	_, err = BuildAtRevision(context.Background(), repo, "no-such-revision", "./cmd", tmp, filepath.Join(tmp, "x"))
	require.ErrorContains(t, err, "no-such-revision", "an unknown revision is named in the error")
}

func TestMeasureStoreCeiling_InsertsEveryRecordWithAndWithoutFullText(t *testing.T) {
	for _, noFTS := range []bool{false, true} {
		dir := t.TempDir()
		res, err := MeasureStoreCeiling(context.Background(), dir, 2500, 1000, noFTS)
		require.NoError(t, err)
		n, err := CountRows(context.Background(), dir+"/ceiling.db")
		require.NoError(t, err, "without fts=%v: rows in the file", noFTS)
		require.EqualValues(t, 2500, n, "without fts=%v: rows in the file", noFTS)
		require.Equal(t, 2500, res.Records, "without fts=%v: %+v, want 2500 records and positive rates", noFTS, res)
		require.Positive(t, res.Rate(), "without fts=%v: %+v, want 2500 records and positive rates", noFTS, res)
		require.Positive(t, res.FirstHalf, "without fts=%v: %+v, want 2500 records and positive rates", noFTS, res)
		require.Positive(t, res.SecondHalf, "without fts=%v: %+v, want 2500 records and positive rates", noFTS, res)
	}
}

func TestCountRows_CountsEveryPartitionOfAPartitionedStore(t *testing.T) {
	ctx := context.Background()
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "audit.db")
	cfg.PartitionMaxRows = 100
	st, err := sqlitestore.OpenPartitioned(ctx, cfg)
	require.NoError(t, err)
	b := loadgen.NewBuilder(1)
	for range 5 {
		ld, _ := b.Build(100)
		record.EnsureIDs(ld)
		byTenant := map[string][]record.Record{}
		for _, r := range record.DefaultMapping().FromLogs(ld, "", time.Now()) {
			byTenant[r.TenantID] = append(byTenant[r.TenantID], r)
		}
		for tenant, recs := range byTenant {
			_, err := st.Insert(ctx, tenant, recs)
			require.NoError(t, err)
		}
	}
	require.NoError(t, st.Close())
	parts, err := filepath.Glob(filepath.Join(filepath.Dir(cfg.Path), "audit-partitions", "p*.db"))
	require.NoError(t, err)
	require.Greater(t, len(parts), 1, "the store rolled over no partition: the test proves nothing")

	n, err := CountRows(ctx, cfg.Path)
	require.NoError(t, err)
	require.EqualValues(t, 500, n, "records counted over the base file and %d partitions", len(parts))
}

// countedDelivered is a pipeline's delivered count that the test sets.
func countedDelivered(n *atomic.Int64) func(context.Context) (int64, error) {
	return func(context.Context) (int64, error) { return n.Load(), nil }
}

// The first refusal of a load fixes the push-back figures: how far into the load it came and
// what was acknowledged and delivered until then; later records do not move them.
func TestWatchPushBack_RecordsTheLoadUpToTheFirstRefusal(t *testing.T) {
	load := loadgen.Config{Acked: new(atomic.Int64), Refused: new(atomic.Int64)}
	delivered := new(atomic.Int64)
	done := make(chan struct{})
	var res PipelineResult
	start := time.Now()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watchPushBack(context.Background(), os.Getpid(), 0, start, load, countedDelivered(delivered), done, &res)
	}()
	load.Acked.Add(1000)
	delivered.Add(300)
	for spin := time.Now(); time.Since(spin) < 200*time.Millisecond; { // CPU to count
	}
	load.Refused.Add(100)
	time.Sleep(4 * pushBackPoll)
	load.Acked.Add(5000)
	delivered.Add(4000)
	close(done)
	<-watched
	require.Equal(t, int64(1000), res.AckedBeforePushBack)
	require.Equal(t, int64(300), res.DeliveredBeforePushBack)
	require.GreaterOrEqual(t, res.PushBackAfter, 200*time.Millisecond)
	require.Positive(t, res.CPUBeforePushBack, "this process's CPU since it started")
}

// Without a refusal nothing is recorded.
func TestWatchPushBack_NoRefusalRecordsNothing(t *testing.T) {
	load := loadgen.Config{Acked: new(atomic.Int64), Refused: new(atomic.Int64)}
	done := make(chan struct{})
	var res PipelineResult
	load.Acked.Add(1000)
	time.AfterFunc(3*pushBackPoll, func() { close(done) })
	watchPushBack(context.Background(), os.Getpid(), 0, time.Now(), load, countedDelivered(new(atomic.Int64)), done, &res)
	require.Zero(t, res.AckedBeforePushBack)
	require.Zero(t, res.PushBackAfter)
}

// A report names the default queue bound instead of printing the option's 0 as "0 MiB" (the
// soak report did until 2026-12-06).
func TestQueueBound_NamesTheDefaultAndPrintsSetBoundsInMiB(t *testing.T) {
	assert.Equal(t, "max_queue_bytes at its default (3 MiB durable, 16 MiB volatile)", QueueBound(0))
	assert.Equal(t, "max_queue_bytes 16 MiB", QueueBound(16<<20))
	assert.Equal(t, "max_queue_bytes 1.5 MiB", QueueBound(3<<19))
	assert.Equal(t, "max_queue_bytes 1024 MiB", QueueBound(1<<30))
}
