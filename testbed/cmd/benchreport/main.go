// Command benchreport runs every benchmark of otelcol-audit beside its baseline in one run
// and writes BENCHMARKS.md from scratch: the whole pipelines (the stock collector pipeline,
// otelcol-audit built at a baseline revision, ours durable and volatile) under the load
// generator, the store's own ceiling, the WAL, the SQLite insert path and the redaction
// comparison. `make bench` runs it from testbed/:
//
//	go run ./cmd/benchreport -root .. -out ../BENCHMARKS.md -duration 30s
//
// With -soak it runs the soak instead (soak.go; `make soak`) and rewrites only its section:
//
//	go run ./cmd/benchreport -root .. -out ../BENCHMARKS.md -soak 10m -soak-rate 0.8
//
// The machine is assumed shared and noisy: every figure is printed next to a baseline
// measured in the same run, and the report states the load average at its start and end.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/otelcol-audit/otelcol-audit/testbed/harness"
	"github.com/otelcol-audit/otelcol-audit/testbed/loadgen"
	"github.com/otelcol-audit/otelcol-audit/testbed/sink"
)

type options struct {
	root, out, note          string
	duration, drainMax       time.Duration
	senders, batch           int
	oursQueue, stockQueue    int
	walBenchtime, storeBench string
	skipMicro, skipRedact    bool
	ceilingRecords           int
	// baselineRev is the revision of the baseline build ("" skips it); baselineQueue its
	// max_queue_size in records.
	baselineRev   string
	baselineQueue int
	// soak, when above 0, runs the soak alone (soak.go) instead of the benchmarks, at soakRate
	// of the store ceiling, sampled every soakInterval.
	soak, soakInterval time.Duration
	soakRate           float64
}

func main() {
	var o options
	flag.StringVar(&o.root, "root", "..", "the repository root (the distribution's module)")
	flag.StringVar(&o.out, "out", "../BENCHMARKS.md", "the report to write")
	flag.StringVar(&o.note, "note", "", "a sentence about this run's conditions, added to the environment section")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "load duration of each pipeline scenario")
	flag.DurationVar(&o.drainMax, "drain-max", 3*time.Minute, "longest wait for a pipeline to deliver what it acknowledged")
	flag.IntVar(&o.senders, "senders", 8, "concurrent senders of the load generator")
	flag.IntVar(&o.batch, "batch", 100, "records per OTLP request")
	flag.IntVar(&o.oursQueue, "ours-queue-bytes", 0, "otelcol-audit max_queue_bytes; 0 is the distribution default (the mode's: 3 MiB durable, 16 MiB volatile)")
	flag.StringVar(&o.baselineRev, "baseline-rev", "80561b4", `git revision of the "otelcol-audit baseline" pipeline: the distribution as it was then, with that version's config shape (max_queue_size, on_queue_full: dlq); "" leaves the baseline out`)
	flag.IntVar(&o.baselineQueue, "baseline-queue", 20_000, "the baseline's max_queue_size (records); 20,000 was the distribution default before max_queue_bytes")
	flag.IntVar(&o.stockQueue, "stock-queue", 100_000, "stock pipeline persistent queue_size (requests)")
	flag.IntVar(&o.ceilingRecords, "ceiling-records", 60_000, "records of the in-process store ceiling with the load generator's records")
	flag.StringVar(&o.walBenchtime, "wal-benchtime", "2s", "-benchtime of the WAL benchmark")
	flag.StringVar(&o.storeBench, "store-benchtime", "3x", "-benchtime of the SQLite insert benchmarks")
	flag.BoolVar(&o.skipMicro, "skip-micro", false, "skip the Go micro-benchmarks (store ceiling excepted)")
	flag.BoolVar(&o.skipRedact, "skip-redact", false, "skip the redaction comparison (about 90 s)")
	flag.DurationVar(&o.soak, "soak", 0, "run the soak instead of the benchmarks for this long: the durable pipeline at -soak-rate of the store ceiling; it replaces the soak section of -out and leaves the rest of it")
	flag.Float64Var(&o.soakRate, "soak-rate", 0.8, "the soak's rate as a fraction of the store ceiling measured first (section 2a's measurement)")
	flag.DurationVar(&o.soakInterval, "soak-interval", 10*time.Second, "the soak's sampling interval")
	flag.Parse()

	if o.soak > 0 {
		if o.soakRate <= 0 || o.soakInterval <= 0 || o.soakInterval > o.soak {
			fmt.Fprintln(os.Stderr, "benchreport: -soak-rate must be above 0 and -soak-interval between 0 and -soak")
			os.Exit(2)
		}
		soaked, err := runSoak(context.Background(), o)
		if soaked != nil {
			old, _ := os.ReadFile(o.out) // a missing report gets the section alone
			writeReport(o.out, withSoakSection(string(old), soaked.markdown()), "the soak section of "+o.out)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchreport: soak:", err)
			os.Exit(1)
		}
		return
	}

	rep, err := run(context.Background(), o)
	if rep != nil {
		md := rep.markdown()
		// The soak section is written by -soak alone: keep the one the file has.
		if old, rerr := os.ReadFile(o.out); rerr == nil {
			if section := soakSection(string(old)); section != "" {
				md = withSoakSection(md, section)
			}
		}
		writeReport(o.out, md, o.out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	if len(rep.failures) > 0 {
		fmt.Fprintf(os.Stderr, "benchreport: %d step(s) failed; see the report\n", len(rep.failures))
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s benchreport: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, o options) (*report, error) {
	root, err := filepath.Abs(o.root)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", o.root, err)
	}
	testbed, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	rep := &report{opts: o, started: time.Now(), env: readEnv(ctx), argv: strings.Join(quoteArgs(os.Args[1:]), " ")}
	rep.env.note = o.note
	logf("load average at start: %s", rep.env.loadStart)

	tmp, err := os.MkdirTemp("", "benchreport-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	logf("building otelcol-audit and stockcol")
	ours, err := harness.Build(ctx, root, "./otelcol-audit", filepath.Join(tmp, "otelcol-audit"))
	if err != nil {
		return rep, err
	}
	stock, err := harness.Build(ctx, testbed, "./cmd/stockcol", filepath.Join(tmp, "stockcol"))
	if err != nil {
		return rep, err
	}
	// The baseline is today's store and pipeline as they were before the exporter's write path
	// was rebuilt, so that the ratios to it can be read in any later run. Without it the report
	// says why and goes on.
	var baseline string
	if o.baselineRev != "" {
		logf("building otelcol-audit at %s (baseline) in a temporary worktree", o.baselineRev)
		short, err := harness.BuildAtRevision(ctx, root, o.baselineRev, "./otelcol-audit", tmp, filepath.Join(tmp, "otelcol-audit-baseline"))
		if err != nil {
			rep.baselineErr = err
			rep.fail("baseline build at "+o.baselineRev, err)
		} else {
			baseline = filepath.Join(tmp, "otelcol-audit-baseline")
			rep.baselineName = baselinePrefix + " (" + short + ")"
		}
	}

	if err := rep.measureCeiling(ctx, tmp, "before the pipelines"); err != nil {
		return rep, err
	}

	load := loadgen.Config{Senders: o.senders, BatchSize: o.batch, Duration: o.duration, Timeout: 30 * time.Second, Pool: 128, Seed: 1}
	drain := harness.DrainOptions{Max: o.drainMax, Stall: 60 * time.Second, StopTimeout: 15 * time.Second}
	// The stock pipeline runs first, then the baseline build: they are what the others are
	// read against.
	for _, sc := range []string{"stock", "baseline", "durable", "volatile"} {
		if sc == "baseline" && baseline == "" {
			continue
		}
		dir := filepath.Join(tmp, sc)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return rep, err
		}
		var p harness.Pipeline
		var s *sink.Sink
		if sc == "stock" {
			if s, err = sink.Start("127.0.0.1:0"); err != nil {
				return rep, err
			}
			p, err = harness.StockPipeline(stock, dir, s.URL(), o.stockQueue, s.Records)
		} else if sc == "baseline" {
			p, err = harness.OursPipelineWith(rep.baselineName, baseline, dir,
				harness.OursOptions{Mode: "durable", LegacyQueueRecords: o.baselineQueue})
		} else {
			p, err = harness.OursPipeline(ours, dir, sc, o.oursQueue)
		}
		if err != nil {
			return rep, err
		}
		logf("pipeline %s: %d senders, max rate, %s", p.Name, o.senders, o.duration)
		res, err := harness.RunPipeline(ctx, p, load, drain)
		if s != nil {
			_ = s.Close()
		}
		if err != nil {
			rep.fail("pipeline "+p.Name, err)
			continue
		}
		logf("  %s; delivered %d (%d at load end) after a %s drain; cpu %s; peak rss %d MiB",
			res.Load, res.Delivered, res.DeliveredAtLoadEnd, res.Drain.Round(time.Millisecond), res.CPUTotal, res.PeakRSS>>20)
		rep.pipelines = append(rep.pipelines, res)
		_ = os.RemoveAll(dir)
	}

	if err := rep.measureCeiling(ctx, tmp, "after the pipelines"); err != nil {
		return rep, err
	}
	rep.ceiling = rep.goBench(ctx, root, "store ceiling", "go", "test", "-run", "^$", "-bench", "StoreCeiling|DurableIngest", "-benchtime", "1x", "./exporter/auditexporter/")
	if !o.skipMicro {
		rep.wal = rep.goBench(ctx, root, "WAL append", "go", "test", "-run", "^$", "-bench", "BenchmarkAppend", "-benchtime", o.walBenchtime, "./internal/wal/")
		rep.insert = rep.goBench(ctx, root, "SQLite insert", "go", "test", "-run", "^$", "-bench", "^BenchmarkInsert(NaiveBaseline|SchemaCost|WideAttributes)?$", "-benchtime", o.storeBench, "./internal/store/sqlitestore/")
	}
	if !o.skipMicro {
		// The chDB benchmarks load the engine's library from where install-chdb.sh puts it.
		if os.Getenv("CHDB_LIB_PATH") == "" {
			if lib := filepath.Join(root, "chdb", "node_modules", "@chdb", "lib-linux-x64-gnu", "libchdb.so"); fileExists(lib) {
				os.Setenv("CHDB_LIB_PATH", lib)
			}
		}
		for _, b := range []struct{ title, baseline, pkg, bench, benchtime, tags string }{
			{"Audit receiver vs OTLP/HTTP", "the real otlpreceiver on the same records, into the same kind of sink", "./receiver/auditreceiver/", "BenchmarkReceiverVsOTLPHTTP", "3s", ""},
			{"Live tail latency", "none (latency from Publish to delivery; the issue's target is p99 < 100 ms)", "./extension/auditqueryextension/", "BenchmarkLiveTail$|BenchmarkLiveTailEndToEnd", "100x", ""},
			{"Query API on 1M rows", "the same queries straight on the store", "./extension/auditqueryextension/", "BenchmarkQueryAPI1M", "2000x", ""},
			{"SQLite queries on 1M rows", "none (latency of one query, first page of 100); BenchmarkQuery1MPartitioned: the same records in the default partitions, against one file", "./internal/store/sqlitestore/", "BenchmarkQuery1M", "200x", ""},
			{"Tamper evidence on SQLite: chain cost and verify speed", "inserts with the chain off, and plain paged reads of the same records", "./internal/store/sqlitestore/", "BenchmarkChain", "3x", ""},
			{"Tamper evidence: full and incremental verify as the API runs it", "plain paged reads of the same 196,610 rows", "./internal/sharedstore/", "BenchmarkVerifyChain", "3x", ""},
			{"SQLite insert as the file grows", "the store before schema v7 (full-text insert trigger, 16 MiB writer cache), in the same process on the first 300k records; one file and partitions of partition_max_rows (BenchmarkInsertGrowthPartitioned); target: second half within 10% of the first over 1M records", "./internal/store/sqlitestore/", "BenchmarkInsertGrowth(Partitioned)?$", "1x", ""},
			{"Tamper evidence on ClickHouse: chain cost", "inserts with the chain off (needs CLICKHOUSE_ADDR; skipped without)", "./internal/store/clickhousestore/", "BenchmarkInsert_ChainCost", "10x", ""},
			{"ClickHouse insert vs the native client (18.16 server)", "clickhouse-client inserting the same rows, exported from our table as Native (and RowBinary), into an identical empty table, 20,000 rows an INSERT in blocks of the batch size (at batch 20,000 both sides write one part per 20,000 rows; below it the client writes one where we write one per batch); native_rows/s is net of the client's start (a `SELECT 1` run timed just before), native_with_start_rows/s is not; ours/native (all rounds) is the target, >= 0.8, at the batch size the clickhousestore README recommends (20,000); the median and extremes of the rounds' own ratios show the machine's spread (needs CLICKHOUSE_ADDR; skipped without)", "./internal/store/clickhousestore/", "BenchmarkInsert_VsNative", "3x", ""},
			{"ClickHouse insert vs the native client (chDB, current engine)", "the engine's own INSERT ... FROM INFILE of the same rows in Native (and RowBinary), into an identical empty table; ours goes through the chdb seam (the driver's blocks as Native files, INSERT FROM INFILE); needs CHDB_LIB_PATH, set from chdb/node_modules when present", "./internal/store/clickhousestore/", "BenchmarkCHDB_InsertVsNative", "3x", "chdb"},
		} {
			argv := []string{"go", "test"}
			if b.tags != "" {
				argv = append(argv, "-tags", b.tags)
			}
			argv = append(argv, "-run", "^$", "-bench", b.bench, "-benchtime", b.benchtime, "-timeout", "2h", b.pkg)
			rep.apiBenches = append(rep.apiBenches, apiBench{title: b.title, baseline: b.baseline,
				run: rep.goBench(ctx, root, b.title, argv...)})
		}
		// The 10M-row datasets take over an hour to build on 2 cores: the report includes their
		// queries when a previous run built them (see BENCHMARKS.md), and never builds them
		// itself: -query.cached-only makes each benchmark skip a dataset that is absent. The
		// benchmarks alone know the datasets' file names (they carry a digest of the schema).
		title := "SQLite queries on 10M rows"
		argv := []string{"go", "test", "-run", "^$", "-bench", "BenchmarkQuery1M", "-benchtime", "200x", "-timeout", "2h", "./internal/store/sqlitestore/", "-query.cached-only"}
		logf("%s: AUDIT_BENCH_ROWS=10000000 %s", title, strings.Join(argv, " "))
		out, err := command(ctx, root, []string{"AUDIT_BENCH_ROWS=10000000"}, argv...)
		if err != nil {
			rep.fail(title, fmt.Errorf("%w\n%s", err, tail(out, 2000)))
		}
		if results := harness.ParseGoBench(out); len(results) > 0 {
			rep.apiBenches = append(rep.apiBenches, apiBench{title: title,
				baseline: "none (latency of one query, first page of 100); BenchmarkQuery1MPartitioned: the same records in the default partitions; targets: stats-24h-admin p99 <= 100 ms, indexed filters p99 < 50 ms, full-text p99 < 200 ms",
				run:      benchRun{cmd: "AUDIT_BENCH_ROWS=10000000 " + strings.Join(quoteArgs(argv), " "), results: results}})
		}
	}
	if !o.skipRedact {
		logf("redaction comparison (about 90 s)")
		out, err := command(ctx, testbed, []string{"REDACTBENCH_REPORT=1"}, "go", "test", "-count=1", "-run", "TestThroughputReport", "-v", "./redactbench")
		rep.redactCmd = "cd testbed && REDACTBENCH_REPORT=1 go test -run TestThroughputReport -v ./redactbench"
		rep.redact = markdownTable(out)
		if err != nil {
			// The test fails when ours is below its 3x target; the table is still the measurement.
			rep.fail("redaction comparison", fmt.Errorf("%w\n%s", err, tail(out, 2000)))
		}
	}
	rep.env.loadEnd = harness.LoadAverage()
	rep.finished = time.Now()
	logf("load average at end: %s", rep.env.loadEnd)
	return rep, nil
}

// measureCeiling runs the store alone on the load generator's records, with and without the
// full-text triggers. It runs before and after the pipelines, so that the report shows how
// much the baseline itself moved while the pipelines ran.
func (r *report) measureCeiling(ctx context.Context, tmp, when string) error {
	o := r.opts
	for _, noFTS := range []bool{false, true} {
		logf("store ceiling with the load generator's records, %s (%d, without FTS: %v)", when, o.ceilingRecords, noFTS)
		dir := filepath.Join(tmp, fmt.Sprintf("ceiling-%v", noFTS))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		res, err := harness.MeasureStoreCeiling(ctx, dir, o.ceilingRecords, 1000, noFTS)
		if err != nil {
			r.fail("store ceiling (load generator records)", err)
			continue
		}
		logf("  %.0f rec/s (first half %.0f, second half %.0f)", res.Rate(), res.FirstHalf, res.SecondHalf)
		r.wideCeiling = append(r.wideCeiling, wideCeiling{withoutFTS: noFTS, when: when, res: res})
		_ = os.RemoveAll(dir)
	}
	return nil
}

// goBench runs one `go test -bench` command in dir and parses its results.
func (r *report) goBench(ctx context.Context, dir, what string, argv ...string) benchRun {
	logf("%s: %s", what, strings.Join(argv, " "))
	out, err := command(ctx, dir, nil, argv...)
	br := benchRun{cmd: strings.Join(quoteArgs(argv), " "), results: harness.ParseGoBench(out)}
	if err != nil {
		r.fail(what, fmt.Errorf("%w\n%s", err, tail(out, 2000)))
	}
	return br
}

func command(ctx context.Context, dir string, env []string, argv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return string(out), nil
}

func quoteArgs(argv []string) []string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if strings.ContainsAny(a, "^$|*? ") {
			a = "'" + a + "'"
		}
		q[i] = a
	}
	return q
}

// markdownTable returns the lines of out that form a markdown table, without the prefix
// `go test -v` puts before logged lines.
func markdownTable(out string) []string {
	var rows []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if i := strings.Index(line, "| "); i > 0 && strings.HasSuffix(line, "|") && strings.Contains(line[:i], ".go:") {
			line = line[i:]
		}
		if strings.HasPrefix(line, "|") && strings.HasSuffix(line, "|") {
			rows = append(rows, line)
		}
	}
	return rows
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

type env struct {
	cores, cpuModel, goVersion, kernel, loadStart, loadEnd, note string
}

// readEnv is the machine and, at the start, its load; the load at the end is read when the
// report is written.
func readEnv(ctx context.Context) env {
	m := harness.ReadEnvironment(ctx)
	return env{cores: m.Cores, cpuModel: m.CPUModel, goVersion: m.GoVersion, kernel: m.Kernel, loadStart: harness.LoadAverage()}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// writeReport writes the report's markdown to path, or exits: a benchmark run whose report
// cannot be written has nothing to show. what names it in the message.
func writeReport(path, md, what string) {
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: write %s: %v\n", path, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "benchreport: wrote %s\n", what)
}
