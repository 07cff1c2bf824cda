package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/otelcol-audit/otelcol-audit/testbed/harness"
	"github.com/otelcol-audit/otelcol-audit/testbed/loadgen"
)

// The soak (-soak): the durable pipeline driven at a fixed fraction of the store's ceiling,
// measured first in the same run, sampled at a fixed interval. It answers whether memory and
// the backlog stay flat at a rate the store can take, which a max-rate run cannot show. Its
// section of BENCHMARKS.md is written by `make soak` alone and carried over by `make bench`.

// soakHeading starts the soak's section; a report written without -soak keeps the section
// of the file it replaces from this heading on.
const soakHeading = "## 7. Soak: otelcol-audit durable at a fixed fraction of the store ceiling"

// soakPoint is one sample of the soaked collector.
type soakPoint struct {
	elapsed time.Duration
	// rss is VmRSS in bytes; acked the records acknowledged since the load began; committed
	// the rows in the store.
	rss, acked, committed int64
}

func (p soakPoint) backlog() int64 { return p.acked - p.committed }

type soakRun struct {
	argv              string
	env               env
	started, finished time.Time
	fraction, rate    float64
	interval          time.Duration
	ceiling           harness.StoreCeilingResult
	points            []soakPoint
	load              loadgen.Result
	peakRSS           int64
	stopErr           error
	// err is why the soak ended early, if it did.
	err error
}

// runSoak measures the store ceiling, then runs the durable pipeline at fraction of it for
// o.soak, sampling every o.soakInterval.
func runSoak(ctx context.Context, o options) (*soakRun, error) {
	root, err := filepath.Abs(o.root)
	if err != nil {
		return nil, err
	}
	r := &soakRun{argv: strings.Join(quoteArgs(os.Args[1:]), " "), env: readEnv(ctx), started: time.Now(),
		fraction: o.soakRate, interval: o.soakInterval}
	r.env.note = o.note
	tmp, err := os.MkdirTemp("", "benchreport-soak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	logf("soak: building otelcol-audit")
	bin, err := harness.Build(ctx, root, "./otelcol-audit", filepath.Join(tmp, "otelcol-audit"))
	if err != nil {
		return nil, err
	}

	logf("soak: store ceiling with the load generator's records (%d)", o.ceilingRecords)
	cdir := filepath.Join(tmp, "ceiling")
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		return nil, err
	}
	if r.ceiling, err = harness.MeasureStoreCeiling(ctx, cdir, o.ceilingRecords, 1000, false); err != nil {
		return nil, err
	}
	_ = os.RemoveAll(cdir)
	r.rate = o.soakRate * r.ceiling.Rate()
	logf("soak: ceiling %.0f rec/s; soak at %.0f rec/s (%.2f of it) for %s, a sample every %s",
		r.ceiling.Rate(), r.rate, o.soakRate, o.soak, o.soakInterval)

	dir := filepath.Join(tmp, "soak")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p, err := harness.OursPipeline(bin, dir, "durable", o.oursQueue)
	if err != nil {
		return nil, err
	}
	proc, err := harness.Start(p.Binary, p.Config, p.Dir)
	if err != nil {
		return nil, err
	}
	defer proc.Kill()
	if err := proc.WaitOTLP(p.Endpoint, 90*time.Second); err != nil {
		return nil, err
	}
	pid := proc.Pid()

	var acked atomic.Int64
	type ran struct {
		res loadgen.Result
		err error
	}
	done := make(chan ran, 1)
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	start := time.Now()
	go func() {
		res, err := loadgen.Run(loadCtx, loadgen.Config{Endpoint: p.Endpoint, Senders: o.senders, BatchSize: o.batch,
			Rate: r.rate, Duration: o.soak, Timeout: 30 * time.Second, Pool: 128, Seed: 1, Acked: &acked})
		done <- ran{res, err}
	}()

	tick := time.NewTicker(o.soakInterval)
	defer tick.Stop()
	for loading := true; loading; {
		select {
		case d := <-done:
			loading = false
			r.load = d.res
			if d.err != nil {
				r.err = d.err
			}
		case <-tick.C:
			if proc.Exited() {
				stopLoad()
				r.err = fmt.Errorf("the collector exited during the soak\n%s", proc.Output())
				continue
			}
			pt, err := samplePoint(ctx, pid, p, &acked, time.Since(start))
			if err != nil {
				stopLoad()
				r.err = err
				continue
			}
			r.points = append(r.points, pt)
			logf("soak: t=%s rss=%d MiB acked=%d committed=%d backlog=%d", pt.elapsed.Round(time.Second),
				pt.rss>>20, pt.acked, pt.committed, pt.backlog())
		}
	}
	if st, err := harness.ReadProc(pid); err == nil {
		r.peakRSS = st.PeakRSS
	}
	r.stopErr = proc.Stop(15 * time.Second)
	r.finished = time.Now()
	r.env.loadEnd = harness.LoadAverage()
	return r, r.err
}

func samplePoint(ctx context.Context, pid int, p harness.Pipeline, acked *atomic.Int64, elapsed time.Duration) (soakPoint, error) {
	pt := soakPoint{elapsed: elapsed, acked: acked.Load()}
	var err error
	if pt.rss, err = harness.ReadRSS(pid); err != nil {
		return pt, err
	}
	if pt.committed, err = p.Delivered(ctx); err != nil {
		return pt, fmt.Errorf("count committed records: %w", err)
	}
	return pt, nil
}

// thirds returns the mean of f over the first and the last third of the points.
func thirds(points []soakPoint, f func(soakPoint) float64) (first, last float64) {
	n := len(points) / 3
	if n == 0 {
		return 0, 0
	}
	for i := range n {
		first += f(points[i])
		last += f(points[len(points)-n+i])
	}
	return first / float64(n), last / float64(n)
}

// slopePerMinute is the least-squares slope of f over the points, per minute.
func slopePerMinute(points []soakPoint, f func(soakPoint) float64) float64 {
	xs := make([]float64, len(points))
	ys := make([]float64, len(points))
	for i, p := range points {
		xs[i], ys[i] = p.elapsed.Minutes(), f(p)
	}
	return harness.Slope(xs, ys)
}

// The soak's verdicts: RSS is flat when the last third's mean is within rssFlatRatio of the
// first third's; the backlog does not grow when the last third's mean exceeds the first
// third's by less than what the load offers in one interval (the batching and flush interval
// keep up to about that much in flight at any rate the store sustains).
const rssFlatRatio = 1.10

func rssMiB(p soakPoint) float64    { return float64(p.rss) / (1 << 20) }
func backlogOf(p soakPoint) float64 { return float64(p.backlog()) }

// signedNum is num with a sign on positive values too.
func signedNum(v float64) string {
	if v > 0 {
		return "+" + num(v)
	}
	return num(v)
}

func (r *soakRun) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("%s\n\n", soakHeading)
	w("Written by `make soak` on %s (`go run ./cmd/benchreport %s` in testbed/), not by `make bench`,\n",
		r.started.UTC().Format("2006-01-02 15:04 MST"), r.argv)
	w("which carries this section over unchanged. Run %s to %s (%s); load average at start %s, at end %s.",
		r.started.UTC().Format("15:04:05"), r.finished.UTC().Format("15:04:05 MST"), r.finished.Sub(r.started).Round(time.Second),
		r.env.loadStart, r.env.loadEnd)
	if r.env.note != "" {
		w(" Note: %s", r.env.note)
	}
	w("\n\n")
	w("Method: the store ceiling is measured first, as in section 2a (%s records, full schema): %s rec/s\n",
		num(float64(r.ceiling.Records)), num(r.ceiling.Rate()))
	w("(first half %s, second half %s). Then the *otelcol-audit durable* pipeline of section 1, started\n",
		num(r.ceiling.FirstHalf), num(r.ceiling.SecondHalf))
	w("fresh, gets the load generator's records at a fixed %s rec/s (%.2f of the ceiling; 8 senders,\n", num(r.rate), r.fraction)
	w("requests of 100, paced) for %s, and every %s benchreport samples VmRSS (/proc/<pid>/status),\n",
		r.load.Elapsed.Round(time.Second), r.interval)
	w("the records acknowledged so far, the rows committed in SQLite and the backlog (acknowledged -\n")
	w("committed, waiting in the WAL). *Flat* compares the mean of the last third of the samples with\n")
	w("the first third's: RSS within %.0f%%, the backlog grown by less than one interval's offered records.\n\n", (rssFlatRatio-1)*100)

	if len(r.points) < 3 {
		w("Too few samples (%d) to compare thirds", len(r.points))
		if r.err != nil {
			w(": %s", strings.TrimSpace(r.err.Error()))
		}
		w(".\n\n")
		return b.String()
	}
	rf, rl := thirds(r.points, rssMiB)
	bf, bl := thirds(r.points, backlogOf)
	perInterval := r.rate * r.interval.Seconds()
	n := len(r.points)
	span := func(i, j int) float64 { return (r.points[j].elapsed - r.points[i].elapsed).Seconds() }
	firstRate := float64(r.points[n/3-1].committed-r.points[0].committed) / span(0, n/3-1)
	lastRate := float64(r.points[n-1].committed-r.points[n-n/3].committed) / span(n-n/3, n-1)
	w("| | first third (mean) | last third (mean) | last / first | slope (least squares) | flat |\n|---|---:|---:|---:|---:|---|\n")
	w("| RSS MiB | %.1f | %.1f | %s | %+.2f MiB/min | %s |\n", rf, rl, ratio(rl, rf), slopePerMinute(r.points, rssMiB), yesNoBold(rl <= rf*rssFlatRatio))
	w("| backlog (acknowledged - committed) | %s | %s | %s | %s rec/min | %s |\n", num(bf), num(bl), ratio(bl, bf),
		signedNum(slopePerMinute(r.points, backlogOf)), yesNoBold(bl-bf < perInterval))
	w("| committed rec/s (within the third) | %s | %s | %s | | |\n\n", num(firstRate), num(lastRate), ratio(lastRate, firstRate))
	w("Acknowledged %s records (%s rec/s over %s; ack p50 %s ms, p99 %s ms; refused %s, failed %s); peak RSS (VmHWM) %.0f MiB.",
		num(float64(r.load.AckedRecords)), num(r.load.AckedPerSecond()), r.load.Elapsed.Round(time.Second),
		ms(r.load.Latency.Quantile(0.5)), ms(r.load.Latency.Quantile(0.99)), num(float64(r.load.RefusedRecords)), num(float64(r.load.FailedRecords)),
		float64(r.peakRSS)/(1<<20))
	if r.stopErr != nil {
		w(" SIGTERM: %s.", r.stopErr)
	}
	if r.err != nil {
		w(" The soak ended early: %s.", strings.TrimSpace(r.err.Error()))
	}
	w("\n\n| t | RSS MiB | acknowledged | committed | backlog |\n|---:|---:|---:|---:|---:|\n")
	for _, p := range r.points {
		w("| %s | %.1f | %s | %s | %s |\n", p.elapsed.Round(time.Second), rssMiB(p), num(float64(p.acked)), num(float64(p.committed)), num(float64(p.backlog())))
	}
	w("\n")
	return b.String()
}

func yesNoBold(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

// soakSection returns the soak section of a report (from soakHeading to the next "## "
// heading or the end), or "" when it has none.
func soakSection(md string) string {
	i := strings.Index(md, soakHeading)
	if i < 0 {
		return ""
	}
	rest := md[i+len(soakHeading):]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j+1]
	}
	return md[i:i+len(soakHeading)] + rest
}

// withSoakSection returns md with its soak section replaced by section, or section appended.
func withSoakSection(md, section string) string {
	if old := soakSection(md); old != "" {
		return strings.Replace(md, old, section, 1)
	}
	if md != "" && !strings.HasSuffix(md, "\n\n") {
		md = strings.TrimRight(md, "\n") + "\n\n"
	}
	return md + section
}
