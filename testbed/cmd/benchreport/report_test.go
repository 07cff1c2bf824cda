package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/testbed/harness"
	"github.com/otelcol-audit/otelcol-audit/testbed/loadgen"
)

func TestNum_GroupsThousands(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -25000: "-25,000"} {
		assert.Equal(t, want, num(in), "num(%v)", in)
	}
}

func TestMarkdownTable_StripsTheGoTestLogPrefix(t *testing.T) {
	out := "=== RUN   TestThroughputReport\n    bench_test.go:100: \n        | workload | ours rec/s |\n        |---|---:|\n        | attrs=10/secrets=false | 120000 |\n--- PASS: TestThroughputReport (90.1s)\nPASS\n"
	got := markdownTable(out)
	want := []string{"| workload | ours rec/s |", "|---|---:|", "| attrs=10/secrets=false | 120000 |"}
	require.Equal(t, strings.Join(want, "\n"), strings.Join(got, "\n"), "table rows %q, want %q", got, want)
}

func pipelineResult(name string, acked, delivered int64, elapsed time.Duration, cpu time.Duration, rss int64) harness.PipelineResult {
	h := &loadgen.Histogram{}
	h.Record(10 * time.Millisecond)
	return harness.PipelineResult{
		Name: name, Load: loadgen.Result{AckedRecords: acked, Elapsed: elapsed, Latency: h},
		DeliveredAtLoadEnd: delivered, Delivered: delivered, Drained: delivered >= acked,
		CPULoad: cpu, CPUTotal: cpu, PeakRSS: rss,
	}
}

func TestMarkdown_PutsEveryFigureBesideItsBaseline(t *testing.T) {
	r := &report{
		opts:    options{senders: 8, batch: 100, duration: 10 * time.Second, drainMax: time.Minute, oursQueue: 1000, stockQueue: 10, ceilingRecords: 5000},
		env:     env{cores: "2", loadStart: "1.00 / 1.00 / 1.00", loadEnd: "2.00 / 2.00 / 2.00", note: "others were compiling"},
		started: time.Now(), finished: time.Now(),
		pipelines: []harness.PipelineResult{
			pipelineResult("stock collector", 10_000, 10_000, 10*time.Second, 5*time.Second, 100<<20),
			pipelineResult("otelcol-audit durable", 40_000, 30_000, 10*time.Second, 10*time.Second, 200<<20),
		},
		wideCeiling: []wideCeiling{
			{false, "after", harness.StoreCeilingResult{Records: 5000, Elapsed: time.Second, FirstHalf: 5000, SecondHalf: 5000}},
			{true, "after", harness.StoreCeilingResult{Records: 5000, Elapsed: time.Second / 2, FirstHalf: 10000, SecondHalf: 10000}},
		},
		ceiling: benchRun{cmd: "go test", results: harness.ParseGoBench("BenchmarkStoreCeiling-2 1 1 ns/op 20000 records/s\nBenchmarkDurableIngest/senders=8-2 1 1 ns/op 1.5 ack-p50-ms 9.5 ack-p99-ms 10000 records/s\n")},
	}
	r.opts.skipMicro, r.opts.skipRedact = true, true
	md := r.markdown()
	for _, want := range []string{
		"| otelcol-audit durable | 4,000 | 4.00x |",                                          // acked/s and its ratio to stock
		"| stock collector | 1,000 | baseline |",                                             // the baseline row
		"**no**: 10,000 on disk (in the WAL) but not yet committed",                          // an incomplete drain is named
		"| 3,000 | 0.60x |",                                                                  // committed during load vs the 5,000 rec/s ceiling
		"| without the full-text index | after | 5,000 | 10,000 | 10,000 | 10,000 | 2.00x |", // the FTS cost
		"| DurableIngest/senders=8 | 10,000 | 0.50x | 1.50 | 9.50 |",
		"1.00 / 1.00 / 1.00", "2.00 / 2.00 / 2.00", "others were compiling",
	} {
		assert.Contains(t, md, want, "the report lacks %q", want)
	}
}

// targetsReport is a run with a store ceiling of 10,000 rec/s, the stock pipeline, the
// baseline build at 1.0 s of CPU per 1k acknowledged records, and the given durable result.
func targetsReport(stockDelivered int64, durable harness.PipelineResult) *report {
	r := &report{
		opts:    options{senders: 8, batch: 100, duration: 10 * time.Second, drainMax: time.Minute, oursQueue: 32 << 20, stockQueue: 10, ceilingRecords: 10_000, baselineRev: "80561b4", baselineQueue: 20_000, skipMicro: true, skipRedact: true},
		started: time.Now(), finished: time.Now(),
		pipelines: []harness.PipelineResult{
			pipelineResult("stock collector", stockDelivered, stockDelivered, 10*time.Second, 5*time.Second, 70<<20),
			pipelineResult("otelcol-audit baseline (80561b4)", 20_000, 10_000, 10*time.Second, 20*time.Second, 400<<20),
			durable,
			pipelineResult("otelcol-audit volatile", 50_000, 50_000, 10*time.Second, 10*time.Second, 100<<20),
		},
		wideCeiling: []wideCeiling{
			{false, "before", harness.StoreCeilingResult{Records: 10_000, Elapsed: time.Second, FirstHalf: 10_000, SecondHalf: 10_000}},
		},
		baselineName: "otelcol-audit baseline (80561b4)",
	}
	return r
}

func TestMarkdown_BaselineRowAndTargetsMetAtTheirBounds(t *testing.T) {
	// 9,500 rec/s delivered: 0.95x the ceiling and 9.5x stock; 0.35 s / 1k acked: exactly
	// 0.35x the baseline's; 150 MiB: exactly the RSS bound.
	md := targetsReport(10_000, pipelineResult("otelcol-audit durable", 95_000, 95_000, 10*time.Second, 33250*time.Millisecond, 150<<20)).markdown()
	for _, want := range []string{
		// The run order and the baseline row, which is its own CPU baseline.
		"| otelcol-audit baseline (80561b4) | 2,000 | 2.00x | 10.0 | 10.0 | 1,000 | 1.00x | 1.000 | 2.00x | baseline |",
		// Delivered and CPU of durable beside stock and beside the baseline.
		"| otelcol-audit durable | 9,500 | 9.50x | 10.0 | 10.0 | 9,500 | 9.50x | 0.350 | 0.70x | 0.35x |",
		"| otelcol-audit volatile | 5,000 | 5.00x | 10.0 | 10.0 | 5,000 | 5.00x | 0.200 | 0.40x | 0.20x |",
		"| stock collector | 1,000 | baseline | 10.0 | 10.0 | 1,000 | baseline | 0.500 | baseline |  |",
		// The baseline's backlog is where that version kept it.
		"**no**: 10,000 on disk (WAL, or DLQ files once the queue was full) but not yet committed",
		"| delivered rec/s ≥ 0.9x the store ceiling (section 2a) | 9,500 rec/s = 0.95x of 10,000 | yes |",
		"| delivered rec/s ≥ 3x the stock pipeline's | 9,500 rec/s = 9.50x of 1,000 | yes |",
		"| every acknowledged record committed within the drain window (1m0s) | 95,000 of 95,000 committed after a 0.0 s drain | yes |",
		"| CPU s / 1k acked (load) ≤ 0.35x the baseline's | 0.350 s = 0.35x of 1.000 s | yes |",
		"| peak RSS at max load ≤ 150 MiB | 150 MiB | yes |",
		// The Method names the baseline, its revision and its config shape.
		"*otelcol-audit baseline (80561b4)* (baseline): the distribution binary built from git revision\n    80561b4 (`-baseline-rev`",
		"max_queue_size 20,000 records, `on_queue_full: dlq`",
	} {
		assert.Contains(t, md, want, "the report lacks %q", want)
	}
	targets := md[strings.Index(md, "### Targets"):strings.Index(md, "### Acknowledged")]
	assert.NotContains(t, targets, "**no**", "a target missed:\n%s", targets)
	assert.Equal(t, 5, strings.Count(targets, "| yes |"), "five targets met:\n%s", targets)
	assert.NotContains(t, md, "asks for more than the store alone committed", "3x stock (3,000) is below the 10,000 ceiling")
	assert.Less(t, strings.Index(md, "| stock collector |"), strings.Index(md, "| otelcol-audit baseline (80561b4) |"), "stock runs first")
	assert.Less(t, strings.Index(md, "| otelcol-audit baseline (80561b4) | 2,000"), strings.Index(md, "| otelcol-audit durable | 9,500"), "the baseline precedes durable")
}

func TestMarkdown_TargetsMissedJustPastTheirBounds(t *testing.T) {
	// 8,500 of 9,500 delivered (0.85x the ceiling, 2.12x a 4,000 rec/s stock pipeline), CPU
	// 0.358 s / 1k, 151 MiB.
	durable := pipelineResult("otelcol-audit durable", 95_000, 85_000, 10*time.Second, 34*time.Second, 151<<20)
	md := targetsReport(40_000, durable).markdown()
	for _, want := range []string{
		"| delivered rec/s ≥ 0.9x the store ceiling (section 2a) | 8,500 rec/s = 0.85x of 10,000 | **no** |",
		"| delivered rec/s ≥ 3x the stock pipeline's | 8,500 rec/s = 2.12x of 4,000 | **no** |",
		"| every acknowledged record committed within the drain window (1m0s) | 85,000 of 95,000 committed after a 0.0 s drain | **no** |",
		"| CPU s / 1k acked (load) ≤ 0.35x the baseline's | 0.358 s = 0.36x of 1.000 s | **no** |",
		"| peak RSS at max load ≤ 150 MiB | 151 MiB | **no** |",
		// 3x stock is 12,000 rec/s, above the 10,000 rec/s the store alone committed.
		"3x the stock pipeline's delivered rate is 12,000 rec/s, 1.20x the store ceiling measured in this run",
	} {
		assert.Contains(t, md, want, "the report lacks %q", want)
	}
}

// A durable pipeline that pushed back is judged on its CPU until the first refusal, and the
// row says how much the store committed in that window, since that CPU counts it too.
func TestMarkdown_TheCPUTargetReadsTheWindowBeforeThePushBack(t *testing.T) {
	durable := pipelineResult("otelcol-audit durable", 95_000, 95_000, 10*time.Second, 60*time.Second, 140<<20)
	durable.PushBackAfter, durable.CPUBeforePushBack = 4*time.Second, 12*time.Second
	durable.AckedBeforePushBack, durable.DeliveredBeforePushBack = 40_000, 15_000
	md := targetsReport(10_000, durable).markdown()
	want := "| CPU s / 1k acked (load) ≤ 0.35x the baseline's | 0.300 s = 0.30x of 1.000 s, over the load's first 4.0 s, until the first push back (40,000 acknowledged; the CPU also counts the store committing 15,000 records meanwhile) | yes |"
	assert.Contains(t, md, want)
}

func TestMarkdown_AFailedBaselineBuildIsNamedAndItsTargetIsNotJudged(t *testing.T) {
	r := targetsReport(10_000, pipelineResult("otelcol-audit durable", 95_000, 95_000, 10*time.Second, 10*time.Second, 100<<20))
	r.pipelines = append(r.pipelines[:1], r.pipelines[2:]...)
	r.baselineName = ""
	r.baselineErr = errors.New("git: executable file not found in $PATH")
	r.fail("baseline build at 80561b4", r.baselineErr)
	md := r.markdown()
	for _, want := range []string{
		"*otelcol-audit baseline*: not in this run: building git revision 80561b4 failed",
		"There is no baseline row in this run: building git revision 80561b4 failed",
		"| otelcol-audit durable | 9,500 | 9.50x | 10.0 | 10.0 | 9,500 | 9.50x | 0.105 | 0.21x | n/a |",
		"| CPU s / 1k acked (load) ≤ 0.35x the baseline's | 0.105 s; n/a: no baseline in this run | n/a |",
		"| peak RSS at max load ≤ 150 MiB | 100 MiB | yes |",
		"- **baseline build at 80561b4**:",
		"executable file not found",
	} {
		assert.Contains(t, md, want, "the report lacks %q", want)
	}
	assert.NotContains(t, md, "| otelcol-audit baseline", "a baseline row without a baseline")
}

func TestSoak_ThirdsAndVerdicts(t *testing.T) {
	h := &loadgen.Histogram{}
	h.Record(5 * time.Millisecond)
	r := &soakRun{fraction: 0.8, rate: 1000, interval: 10 * time.Second, started: time.Now(), finished: time.Now(),
		ceiling: harness.StoreCeilingResult{Records: 60_000, Elapsed: 48 * time.Second, FirstHalf: 1300, SecondHalf: 1200},
		load:    loadgen.Result{AckedRecords: 90_000, Elapsed: 90 * time.Second, Latency: h}}
	// RSS flat at 100 MiB; the backlog grows by 5,000 a sample: the store falls behind.
	for i := range 9 {
		r.points = append(r.points, soakPoint{elapsed: time.Duration(i+1) * 10 * time.Second, rss: 100 << 20,
			acked: int64(i+1) * 10_000, committed: int64(i+1) * 5_000})
	}
	md := r.markdown()
	for _, want := range []string{
		soakHeading,
		"| RSS MiB | 100.0 | 100.0 | 1.00x | +0.00 MiB/min | yes |",
		"| backlog (acknowledged - committed) | 10,000 | 40,000 | 4.00x | +30,000 rec/min | **no** |",
		"| committed rec/s (within the third) | 500 | 500 | 1.00x | | |",
		"| 1m30s | 100.0 | 90,000 | 45,000 | 45,000 |",
	} {
		assert.Contains(t, md, want)
	}
}

func TestSoakSection_IsReplacedInPlaceAndKeptByARegularReport(t *testing.T) {
	bench := "# Benchmarks\n\n## 6. API\n\ntable\n\n"
	first := withSoakSection(bench, soakHeading+"\n\nrun one\n\n")
	require.Equal(t, bench+soakHeading+"\n\nrun one\n\n", first, "appended to a report without one")
	second := withSoakSection(first+"## Steps that failed in this run\n\nx\n", soakHeading+"\n\nrun two\n\n")
	require.Equal(t, bench+soakHeading+"\n\nrun two\n\n## Steps that failed in this run\n\nx\n", second, "replaced up to the next section")
	require.Equal(t, soakHeading+"\n\nrun two\n\n", soakSection(second))
	require.Empty(t, soakSection(bench), "a report without a soak section")
}
