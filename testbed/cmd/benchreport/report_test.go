package main

import (
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
		"| otelcol-audit durable | 4,000 | 4.00x |",                                                // acked/s and its ratio to stock
		"| stock collector | 1,000 | baseline |",                                                   // the baseline row
		"**no**: 10,000 on disk (WAL, or DLQ files once the queue was full) but not yet committed", // an incomplete drain is named
		"| 3,000 | 0.60x |", // committed during load vs the 5,000 rec/s ceiling
		"| FTS5 triggers dropped | after | 5,000 | 10,000 | 10,000 | 10,000 | 2.00x |", // the FTS cost
		"| DurableIngest/senders=8 | 10,000 | 0.50x | 1.50 | 9.50 |",
		"1.00 / 1.00 / 1.00", "2.00 / 2.00 / 2.00", "others were compiling",
	} {
		assert.Contains(t, md, want, "the report lacks %q", want)
	}
}
