package main

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-audit/otelcol-audit/testbed/harness"
	"github.com/otelcol-audit/otelcol-audit/testbed/loadgen"
)

func TestMarkdown_SummarizesGrowthDriftAndTheUncommittedBacklog(t *testing.T) {
	const mi = 1 << 20
	probe := &harness.PipelineResult{Load: loadgen.Result{AckedRecords: 100_000, Elapsed: 10 * time.Second, Latency: &loadgen.Histogram{}}}
	r := &report{
		opts:  options{duration: 3 * time.Minute, interval: time.Minute, probe: 10 * time.Second, fraction: 0.5, basis: "committed", senders: 8, batch: 100, queue: 20_000, warmup: 1, drainMax: time.Minute},
		probe: probe, probeCommitted: 3000, rate: 1500,
		samples: []harness.SoakSample{
			{Elapsed: time.Minute, RSS: 80 * mi, FDs: 17, P99: 90 * time.Millisecond, Acked: 90_000, Stored: 89_000, IntervalAcked: 90_000, IntervalLoad: time.Minute, CPU: 30 * time.Second},
			{Elapsed: 2 * time.Minute, RSS: 100 * mi, FDs: 18, P99: 40 * time.Millisecond, Acked: 180_000, Stored: 179_000, IntervalAcked: 90_000, IntervalLoad: time.Minute, CPU: 60 * time.Second},
			{Elapsed: 3 * time.Minute, RSS: 110 * mi, FDs: 18, P99: 50 * time.Millisecond, Acked: 270_000, Stored: 266_000, IntervalAcked: 90_000, IntervalLoad: time.Minute, CPU: 90 * time.Second, IntervalFailed: 100},
		},
		acked: 270_000, drain: 5 * time.Second, drainedStored: 269_000,
		stopErr: errors.New("pid 7 did not exit"),
	}
	md := r.markdown()
	for _, want := range []string{
		"| RSS MiB | 100.0 | 110.0 | +10.0 MiB (1.10x)",
		"| open fds | 18 | 18 | 0; max 18 |",
		"drift 1.25x; worst interval 50.0 ms",
		"| backlog (acked - stored) | 1,000 | 4,000 | +3,000; max 4,000 |",
		"0.50 of the committed rate",
		"270,000 records acknowledged, 0 refused, 100 failed",
		"**1,000 not yet committed**",
		"SIGTERM: pid 7 did not exit.",
		"| 1m0s (warm-up) | 1,500 |",
		"| 150 |", // CPU %: 90 s over the last minute
	} {
		assert.Contains(t, md, want, "report lacks %q", want)
	}

	empty := (&report{opts: r.opts}).markdown()
	assert.Contains(t, empty, "No interval completed", "a report without samples does not say so")
}

func TestShellQuote_QuotesWhatAShellWouldSplitOrExpand(t *testing.T) {
	got := shellQuote([]string{"-duration", "3m", "-note", "a busy machine's run", "-out", "$HOME/x.md", ""})
	want := `-duration 3m -note 'a busy machine'\''s run' -out '$HOME/x.md' ''`
	assert.Equal(t, want, got)
}
