package harness

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"
)

// ReadRSS returns the current resident set (VmRSS) of pid in bytes. ReadProc gives the peak
// (VmHWM); a soak needs the present value to see whether memory comes back after a spike.
func ReadRSS(pid int) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read /proc/%d/status: %w", pid, err)
	}
	kb, err := parseStatusKB(string(status), "VmRSS")
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return kb * 1024, nil
}

// CountFDs returns the number of open file descriptors of pid: the entries of /proc/<pid>/fd.
func CountFDs(pid int) (int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("count fds of %d: %w", pid, err)
	}
	return len(entries), nil
}

// DiskUsage returns the bytes of the regular files under path (path itself may be a file). A
// path that does not exist is 0: the collector creates its directories lazily, and files come
// and go while it runs, so a file removed during the walk is skipped.
func DiskUsage(path string) (int64, error) {
	var total int64
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		total += info.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("disk usage of %s: %w", path, err)
	}
	return total, nil
}

// SoakSample is the state of a soaked collector at the end of one interval.
type SoakSample struct {
	// Elapsed is the time since the soak's load began, at the end of the interval.
	Elapsed time.Duration
	// RSS is VmRSS and PeakRSS VmHWM, in bytes; FDs the open file descriptors.
	RSS, PeakRSS int64
	FDs          int
	// CPU is the collector's CPU time during the interval.
	CPU time.Duration
	// WALBytes, DLQBytes and DBBytes are the sizes on disk of the WAL and DLQ directories and
	// of the SQLite file with its -wal and -shm files.
	WALBytes, DLQBytes, DBBytes int64
	// Acked is the records acknowledged since the soak began, Stored the rows in the store.
	Acked, Stored int64
	// IntervalAcked, IntervalRefused and IntervalFailed are this interval's records;
	// IntervalLoad its load duration.
	IntervalAcked, IntervalRefused, IntervalFailed int64
	IntervalLoad                                   time.Duration
	// P50 and P99 are this interval's acknowledgement latency quantiles.
	P50, P99 time.Duration
}

// Backlog is the records acknowledged but not yet in the store at the sample.
func (s SoakSample) Backlog() int64 { return s.Acked - s.Stored }

// AckedPerSecond is this interval's acknowledged records per second of load.
func (s SoakSample) AckedPerSecond() float64 {
	if s.IntervalLoad <= 0 {
		return 0
	}
	return float64(s.IntervalAcked) / s.IntervalLoad.Seconds()
}

// SoakSummary compares the end of a soak with its start after the warm-up.
type SoakSummary struct {
	// Base is the first sample after the warm-up, Last the final one; Samples counts those from
	// Base to Last inclusive.
	Base, Last SoakSample
	Samples    int
	// RSSGrowth is Last.RSS - Base.RSS, RSSGrowthRatio Last.RSS / Base.RSS, and RSSSlopePerHour
	// the least-squares slope of RSS over the samples from Base on, in bytes per hour: growth
	// that a single noisy sample cannot fake. MaxRSS is the largest RSS sampled (any sample).
	RSSGrowth       int64
	RSSGrowthRatio  float64
	RSSSlopePerHour float64
	MaxRSS          int64
	// FDGrowth is Last.FDs - Base.FDs; MaxFDs the largest count sampled.
	FDGrowth int
	MaxFDs   int
	// P99Drift is Last.P99 / Base.P99 (0 when Base.P99 is 0); MaxP99 the worst interval p99
	// after the warm-up.
	P99Drift float64
	MaxP99   time.Duration
	// Backlog is Last.Backlog(); BacklogGrowth Last.Backlog() - Base.Backlog(); MaxBacklog the
	// largest backlog sampled after the warm-up.
	Backlog, BacklogGrowth, MaxBacklog int64
	// MaxWALBytes and MaxDLQBytes are the largest sizes sampled (any sample).
	MaxWALBytes, MaxDLQBytes int64
	// Refused and Failed are the records not acknowledged over the whole soak.
	Refused, Failed int64
}

// SummarizeSoak summarizes samples, ignoring the first warmup of them for the growth and drift
// figures (the heap, caches and connection pools fill during the first minutes). With no more
// samples than warmup, the warm-up is shortened to leave one. It returns false when there is no
// sample at all.
func SummarizeSoak(samples []SoakSample, warmup int) (SoakSummary, bool) {
	if len(samples) == 0 {
		return SoakSummary{}, false
	}
	warmup = min(max(warmup, 0), len(samples)-1)
	steady := samples[warmup:]
	s := SoakSummary{Base: steady[0], Last: steady[len(steady)-1], Samples: len(steady)}
	s.RSSGrowth = s.Last.RSS - s.Base.RSS
	if s.Base.RSS > 0 {
		s.RSSGrowthRatio = float64(s.Last.RSS) / float64(s.Base.RSS)
	}
	xs := make([]float64, len(steady))
	ys := make([]float64, len(steady))
	for i, x := range steady {
		xs[i] = x.Elapsed.Hours()
		ys[i] = float64(x.RSS)
	}
	s.RSSSlopePerHour = Slope(xs, ys)
	s.FDGrowth = s.Last.FDs - s.Base.FDs
	if s.Base.P99 > 0 {
		s.P99Drift = float64(s.Last.P99) / float64(s.Base.P99)
	}
	s.Backlog = s.Last.Backlog()
	s.BacklogGrowth = s.Last.Backlog() - s.Base.Backlog()
	for _, x := range steady {
		s.MaxP99 = max(s.MaxP99, x.P99)
		s.MaxBacklog = max(s.MaxBacklog, x.Backlog())
	}
	for _, x := range samples {
		s.MaxRSS = max(s.MaxRSS, x.RSS)
		s.MaxFDs = max(s.MaxFDs, x.FDs)
		s.MaxWALBytes = max(s.MaxWALBytes, x.WALBytes)
		s.MaxDLQBytes = max(s.MaxDLQBytes, x.DLQBytes)
		s.Refused += x.IntervalRefused
		s.Failed += x.IntervalFailed
	}
	return s, true
}

// Slope is the least-squares slope of ys over xs (0 with fewer than two distinct xs).
func Slope(xs, ys []float64) float64 {
	n := min(len(xs), len(ys))
	if n < 2 {
		return 0
	}
	var mx, my float64
	for i := range n {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var num, den float64
	for i := range n {
		dx := xs[i] - mx
		num += dx * (ys[i] - my)
		den += dx * dx
	}
	if den == 0 || math.IsNaN(den) {
		return 0
	}
	return num / den
}
