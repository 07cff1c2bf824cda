package harness

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.True(t, ok, "not ok with four samples")
	require.EqualValues(t, 3, s.Samples, "compared %s with %s over %d samples, want 2h with 4h over 3", s.Base.Elapsed, s.Last.Elapsed, s.Samples)
	require.Equal(t, 2*time.Hour, s.Base.Elapsed, "compared %s with %s over %d samples, want 2h with 4h over 3", s.Base.Elapsed, s.Last.Elapsed, s.Samples)
	require.Equal(t, 4*time.Hour, s.Last.Elapsed, "compared %s with %s over %d samples, want 2h with 4h over 3", s.Base.Elapsed, s.Last.Elapsed, s.Samples)
	assert.EqualValues(t, 20*mi, s.RSSGrowth, "RSS growth")
	assert.InDelta(t, 1.2, s.RSSGrowthRatio, 1e-9, "RSS growth ratio")
	// 100, 110, 120 MiB at 2, 3, 4 h: exactly 10 MiB per hour.
	assert.InDelta(t, 10*mi, s.RSSSlopePerHour, 1, "RSS slope bytes/h")
	maxima := "maxima rss %d fds %d wal %d dlq %d, want the warm-up's 300 MiB, 40, 70 MiB and 3 MiB"
	assert.EqualValues(t, 300*mi, s.MaxRSS, maxima, s.MaxRSS, s.MaxFDs, s.MaxWALBytes, s.MaxDLQBytes)
	assert.EqualValues(t, 40, s.MaxFDs, maxima, s.MaxRSS, s.MaxFDs, s.MaxWALBytes, s.MaxDLQBytes)
	assert.EqualValues(t, 70*mi, s.MaxWALBytes, maxima, s.MaxRSS, s.MaxFDs, s.MaxWALBytes, s.MaxDLQBytes)
	assert.EqualValues(t, 3*mi, s.MaxDLQBytes, maxima, s.MaxRSS, s.MaxFDs, s.MaxWALBytes, s.MaxDLQBytes)
	assert.EqualValues(t, 3, s.FDGrowth, "fd growth")
	assert.InDelta(t, 1.5, s.P99Drift, 1e-9, "p99 drift, want 1.5 (30ms / 20ms)")
	assert.Equal(t, 45*time.Millisecond, s.MaxP99, "worst p99, want 45ms (the warm-up excluded)")
	// Backlogs after the warm-up: 100, 500, 300.
	assert.EqualValues(t, 300, s.Backlog, "backlog")
	assert.EqualValues(t, 200, s.BacklogGrowth, "backlog growth")
	assert.EqualValues(t, 500, s.MaxBacklog, "max backlog")
	assert.EqualValues(t, 5, s.Refused, "refused over the whole soak")
	assert.EqualValues(t, 7, s.Failed, "failed over the whole soak")
}

func TestSummarizeSoak_ShortensTheWarmUpToLeaveOneSample(t *testing.T) {
	_, ok := SummarizeSoak(nil, 1)
	assert.False(t, ok, "an empty soak was summarized")
	one := []SoakSample{{Elapsed: time.Minute, RSS: 50 << 20, FDs: 12, P99: 0}}
	s, ok := SummarizeSoak(one, 3)
	msg := "one sample: %+v ok=%v; want it compared with itself, no growth"
	assert.True(t, ok, msg, s, ok)
	assert.EqualValues(t, 1, s.Samples, msg, s, ok)
	assert.EqualValues(t, 50<<20, s.Base.RSS, msg, s, ok)
	assert.Zero(t, s.RSSGrowth, msg, s, ok)
	assert.Zero(t, s.FDGrowth, msg, s, ok)
	assert.Zero(t, s.RSSSlopePerHour, msg, s, ok)
	assert.Zero(t, s.P99Drift, "p99 drift with a zero base p99, want 0 (undefined)")
}

func TestSlope_FitsALineThroughNoisyPoints(t *testing.T) {
	// y = 3x + 1 with residuals +1, -1, -1, +1 that cancel in the fit.
	xs := []float64{0, 1, 2, 3}
	ys := []float64{2, 3, 6, 11}
	assert.InDelta(t, 3, Slope(xs, ys), 1e-9, "slope")
	assert.Zero(t, Slope([]float64{2, 2, 2}, []float64{1, 5, 9}), "slope over one x")
	assert.Zero(t, Slope([]float64{1}, []float64{1}), "slope of one point")
}

func TestDiskUsage_AddsRegularFilesAndToleratesAMissingPath(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	for name, size := range map[string]int{"a": 1000, "sub/b": 24, "sub/c": 0} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644))
	}
	require.NoError(t, os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "link")))
	n, err := DiskUsage(dir)
	assert.NoError(t, err, "dir")
	assert.EqualValues(t, 1024, n, "dir bytes, want 1024 (the symlink not followed)")
	n, err = DiskUsage(filepath.Join(dir, "a"))
	assert.NoError(t, err, "file")
	assert.EqualValues(t, 1000, n, "file bytes")
	n, err = DiskUsage(filepath.Join(dir, "absent"))
	assert.NoError(t, err, "absent path, want no error")
	assert.Zero(t, n, "absent path bytes")
}

func TestCountFDs_SeesFilesThisProcessOpens(t *testing.T) {
	// The first open may start the runtime's poller (its own descriptors): do it before counting.
	warm, err := os.Open(os.DevNull)
	require.NoError(t, err)
	warm.Close()
	before, err := CountFDs(os.Getpid())
	require.NoError(t, err)
	var files []*os.File
	for range 3 {
		f, err := os.Open(os.DevNull)
		require.NoError(t, err)
		files = append(files, f)
	}
	during, err := CountFDs(os.Getpid())
	for _, f := range files {
		f.Close()
	}
	if assert.NoError(t, err, "CountFDs with three more files open") {
		assert.Equal(t, 3, during-before, "%d fds before, %d with three more files open: want a difference of 3", before, during)
	}
	_, err = CountFDs(1 << 30)
	assert.Error(t, err, "no error for a pid that does not exist")
}

func TestReadRSS_GrowsWithTouchedMemory(t *testing.T) {
	// Fresh anonymous pages straight from the kernel, not the Go heap: a heap allocation may
	// reuse pages an earlier test of the package already made resident (seen in CI), and then
	// touching them moves nothing.
	buf, err := syscall.Mmap(-1, 0, 64<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	require.NoError(t, err, "mmap 64 MiB")
	defer func() { _ = syscall.Munmap(buf) }()
	before, err := ReadRSS(os.Getpid())
	require.NoError(t, err, "rss")
	require.Positive(t, before, "rss")
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1 // touch every page so that it becomes resident
	}
	after, err := ReadRSS(os.Getpid())
	if assert.NoError(t, err, "rss after touching 64 MiB") {
		assert.GreaterOrEqual(t, after-before, int64(60<<20), "rss %d MiB before and %d MiB after touching 64 MiB: want at least 60 MiB more", before>>20, after>>20)
	}
	peak, err := ReadProc(os.Getpid())
	if assert.NoError(t, err, "ReadProc") {
		assert.GreaterOrEqual(t, peak.PeakRSS, after, "peak rss below current")
	}
}
