package harness

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func TestSummarizeSoak_ComparesTheLastSampleWithTheFirstAfterWarmUp(t *testing.T) {
	const mi = 1 << 20
	samples := []SoakSample{
		// The warm-up: the largest RSS, WAL and p99 of the run, which growth and drift must ignore
		// (but the maxima over the whole soak must not).
		{Elapsed: 1 * time.Hour, RSS: 300 * mi, FDs: 40, P99: 900 * time.Millisecond, WALBytes: 70 * mi, Acked: 1000, Stored: 0, IntervalRefused: 5},
		{Elapsed: 2 * time.Hour, RSS: 100 * mi, FDs: 20, P99: 20 * time.Millisecond, P50: 5 * time.Millisecond, WALBytes: 10 * mi, Acked: 2000, Stored: 1900},
		{Elapsed: 3 * time.Hour, RSS: 110 * mi, FDs: 21, P99: 45 * time.Millisecond, DLQBytes: 3 * mi, Acked: 3000, Stored: 2500, IntervalFailed: 7},
		{Elapsed: 4 * time.Hour, RSS: 120 * mi, FDs: 23, P99: 30 * time.Millisecond, Acked: 4000, Stored: 3700},
	}
	s, ok := SummarizeSoak(samples, 1)
	if !ok {
		t.Fatal("not ok with four samples")
	}
	if s.Samples != 3 || s.Base.Elapsed != 2*time.Hour || s.Last.Elapsed != 4*time.Hour {
		t.Fatalf("compared %s with %s over %d samples, want 2h with 4h over 3", s.Base.Elapsed, s.Last.Elapsed, s.Samples)
	}
	if s.RSSGrowth != 20*mi || math.Abs(s.RSSGrowthRatio-1.2) > 1e-9 {
		t.Errorf("RSS growth %d (%.3fx), want %d (1.2x)", s.RSSGrowth, s.RSSGrowthRatio, 20*mi)
	}
	// 100, 110, 120 MiB at 2, 3, 4 h: exactly 10 MiB per hour.
	if math.Abs(s.RSSSlopePerHour-10*mi) > 1 {
		t.Errorf("RSS slope %.1f bytes/h, want %d", s.RSSSlopePerHour, 10*mi)
	}
	if s.MaxRSS != 300*mi || s.MaxFDs != 40 || s.MaxWALBytes != 70*mi || s.MaxDLQBytes != 3*mi {
		t.Errorf("maxima rss %d fds %d wal %d dlq %d, want the warm-up's 300 MiB, 40, 70 MiB and 3 MiB", s.MaxRSS, s.MaxFDs, s.MaxWALBytes, s.MaxDLQBytes)
	}
	if s.FDGrowth != 3 {
		t.Errorf("fd growth %d, want 3", s.FDGrowth)
	}
	if math.Abs(s.P99Drift-1.5) > 1e-9 || s.MaxP99 != 45*time.Millisecond {
		t.Errorf("p99 drift %.3f, worst %s; want 1.5 (30ms / 20ms) and 45ms (the warm-up excluded)", s.P99Drift, s.MaxP99)
	}
	// Backlogs after the warm-up: 100, 500, 300.
	if s.Backlog != 300 || s.BacklogGrowth != 200 || s.MaxBacklog != 500 {
		t.Errorf("backlog %d, growth %d, max %d; want 300, 200, 500", s.Backlog, s.BacklogGrowth, s.MaxBacklog)
	}
	if s.Refused != 5 || s.Failed != 7 {
		t.Errorf("refused %d failed %d, want 5 and 7 over the whole soak", s.Refused, s.Failed)
	}
}

func TestSummarizeSoak_ShortensTheWarmUpToLeaveOneSample(t *testing.T) {
	if _, ok := SummarizeSoak(nil, 1); ok {
		t.Error("an empty soak was summarized")
	}
	one := []SoakSample{{Elapsed: time.Minute, RSS: 50 << 20, FDs: 12, P99: 0}}
	s, ok := SummarizeSoak(one, 3)
	if !ok || s.Samples != 1 || s.Base.RSS != 50<<20 || s.RSSGrowth != 0 || s.FDGrowth != 0 || s.RSSSlopePerHour != 0 {
		t.Errorf("one sample: %+v ok=%v; want it compared with itself, no growth", s, ok)
	}
	if s.P99Drift != 0 {
		t.Errorf("p99 drift %.2f with a zero base p99, want 0 (undefined)", s.P99Drift)
	}
}

func TestSlope_FitsALineThroughNoisyPoints(t *testing.T) {
	// y = 3x + 1 with residuals +1, -1, -1, +1 that cancel in the fit.
	xs := []float64{0, 1, 2, 3}
	ys := []float64{2, 3, 6, 11}
	if got := Slope(xs, ys); math.Abs(got-3) > 1e-9 {
		t.Errorf("slope %.6f, want 3", got)
	}
	if got := Slope([]float64{2, 2, 2}, []float64{1, 5, 9}); got != 0 {
		t.Errorf("slope over one x %.3f, want 0", got)
	}
	if got := Slope([]float64{1}, []float64{1}); got != 0 {
		t.Errorf("slope of one point %.3f, want 0", got)
	}
}

func TestDiskUsage_AddsRegularFilesAndToleratesAMissingPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, size := range map[string]int{"a": 1000, "sub/b": 24, "sub/c": 0} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if n, err := DiskUsage(dir); err != nil || n != 1024 {
		t.Errorf("dir: %d bytes (%v), want 1024 (the symlink not followed)", n, err)
	}
	if n, err := DiskUsage(filepath.Join(dir, "a")); err != nil || n != 1000 {
		t.Errorf("file: %d bytes (%v), want 1000", n, err)
	}
	if n, err := DiskUsage(filepath.Join(dir, "absent")); err != nil || n != 0 {
		t.Errorf("absent path: %d bytes (%v), want 0 and no error", n, err)
	}
}

func TestCountFDs_SeesFilesThisProcessOpens(t *testing.T) {
	// The first open may start the runtime's poller (its own descriptors): do it before counting.
	warm, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	warm.Close()
	before, err := CountFDs(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var files []*os.File
	for range 3 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	during, err := CountFDs(os.Getpid())
	for _, f := range files {
		f.Close()
	}
	if err != nil || during-before != 3 {
		t.Errorf("%d fds before, %d with three more files open (%v): want a difference of 3", before, during, err)
	}
	if _, err := CountFDs(1 << 30); err == nil {
		t.Error("no error for a pid that does not exist")
	}
}

func TestReadRSS_GrowsWithTouchedMemory(t *testing.T) {
	before, err := ReadRSS(os.Getpid())
	if err != nil || before <= 0 {
		t.Fatalf("rss %d (%v)", before, err)
	}
	buf := make([]byte, 64<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1 // touch every page so that it becomes resident
	}
	after, err := ReadRSS(os.Getpid())
	runtime.KeepAlive(buf)
	if err != nil || after-before < 60<<20 {
		t.Errorf("rss %d MiB before and %d MiB after touching 64 MiB (%v): want at least 60 MiB more", before>>20, after>>20, err)
	}
	peak, err := ReadProc(os.Getpid())
	if err != nil || peak.PeakRSS < after {
		t.Errorf("peak rss %d below current %d (%v)", peak.PeakRSS, after, err)
	}
}
