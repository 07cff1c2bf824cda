package harness

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/otelcol-audit/otelcol-audit/testbed/loadgen"
)

// Pipeline is one system under test: a binary, its configuration, where it listens and how
// to count the records that reached its end.
type Pipeline struct {
	Name   string
	Binary string
	Config string
	// Dir is the process's working directory; the config is written there.
	Dir string
	// Endpoint is the OTLP/HTTP logs URL the load goes to.
	Endpoint string
	// Delivered counts the records that reached the end of the pipeline: rows in the store,
	// or records received by the sink.
	Delivered func(ctx context.Context) (int64, error)
}

// DrainOptions bound the wait for the pipeline to deliver what it acknowledged.
type DrainOptions struct {
	// Max is the longest wait after the load ends; Stall ends it earlier when the delivered
	// count has not moved for that long.
	Max, Stall time.Duration
	// Poll is the interval between counts.
	Poll time.Duration
	// StopTimeout is how long the process may take to exit on SIGTERM before it is killed
	// (default 60s). A collector stopped with a backlog flushes it first; a benchmark that has
	// already measured the drain need not wait for that.
	StopTimeout time.Duration
}

// PipelineResult is what one run measured.
type PipelineResult struct {
	Name string
	Load loadgen.Result
	// DeliveredAtLoadEnd and Delivered are the records at the end of the pipeline when the
	// load stopped and after the drain; Drain is how long the drain took (until Delivered
	// reached the acknowledged count, stalled or timed out).
	DeliveredAtLoadEnd, Delivered int64
	Drain                         time.Duration
	Drained                       bool
	// CPULoad is the process's CPU time during the load, CPUTotal during load and drain.
	CPULoad, CPUTotal time.Duration
	// When the pipeline pushed back during the load (a refusal), PushBackAfter is how long into
	// the load the first came, and CPUBeforePushBack and AckedBeforePushBack the process's CPU
	// and the acknowledged records until then: the intake's cost at full speed, before the
	// refusals cut the acknowledged records while the store kept committing.
	// DeliveredBeforePushBack is what the store committed meanwhile, whose work that CPU
	// counts too. Zero without a refusal.
	PushBackAfter           time.Duration
	CPUBeforePushBack       time.Duration
	AckedBeforePushBack     int64
	DeliveredBeforePushBack int64
	// PeakRSS is VmHWM at the end of the drain, in bytes.
	PeakRSS int64
	// StopErr is set when the process did not exit cleanly on SIGTERM.
	StopErr error
	Output  string
}

// DeliveredPerSecond is the records delivered per second of load plus drain: the rate the
// pipeline sustains end to end.
func (r PipelineResult) DeliveredPerSecond() float64 {
	d := r.Load.Elapsed + r.Drain
	if d <= 0 {
		return 0
	}
	return float64(r.Delivered) / d.Seconds()
}

// CPUPer1k is CPU seconds per 1,000 acknowledged records, counting the drain: the work those
// records cost the process.
func (r PipelineResult) CPUPer1k() float64 {
	if r.Load.AckedRecords == 0 {
		return 0
	}
	return r.CPUTotal.Seconds() * 1000 / float64(r.Load.AckedRecords)
}

// pushBackPoll is how often watchPushBack looks for the first refusal: at 40,000 records/s a
// poll's worth is a few percent of what a WAL takes before it fills.
const pushBackPoll = 50 * time.Millisecond

// watchPushBack records, at the first refused record of the load, how long the load had run
// and the process's CPU (since cpuBefore), acknowledged and delivered records until then, into
// res.
func watchPushBack(ctx context.Context, pid int, cpuBefore time.Duration, start time.Time, load loadgen.Config, delivered func(context.Context) (int64, error), done <-chan struct{}, res *PipelineResult) {
	tick := time.NewTicker(pushBackPoll)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		if load.Refused.Load() == 0 {
			continue
		}
		acked := load.Acked.Load()
		if now, err := ReadProc(pid); err == nil {
			res.PushBackAfter = time.Since(start)
			res.CPUBeforePushBack = now.CPU - cpuBefore
			res.AckedBeforePushBack = acked
			// Counted after the CPU, so it may include a few records committed since: the
			// store's share it shows errs on the large side.
			if n, err := delivered(ctx); err == nil {
				res.DeliveredBeforePushBack = n
			}
		}
		return
	}
}

// RunPipeline starts p, waits until it accepts requests, runs load against it, waits for the
// drain, reads /proc and stops the process with SIGTERM. The process is gone when it returns.
func RunPipeline(ctx context.Context, p Pipeline, load loadgen.Config, drain DrainOptions) (PipelineResult, error) {
	res := PipelineResult{Name: p.Name}
	proc, err := Start(p.Binary, p.Config, p.Dir)
	if err != nil {
		return res, fmt.Errorf("%s: %w", p.Name, err)
	}
	defer proc.Kill()
	if err := proc.WaitOTLP(p.Endpoint, 90*time.Second); err != nil {
		return res, fmt.Errorf("%s: %w", p.Name, err)
	}
	before, err := ReadProc(proc.Pid())
	if err != nil {
		return res, fmt.Errorf("%s: %w", p.Name, err)
	}
	load.Endpoint = p.Endpoint
	if load.Acked == nil {
		load.Acked = new(atomic.Int64)
	}
	if load.Refused == nil {
		load.Refused = new(atomic.Int64)
	}
	loadStart := time.Now()
	loadDone := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watchPushBack(ctx, proc.Pid(), before.CPU, loadStart, load, p.Delivered, loadDone, &res)
	}()
	res.Load, err = loadgen.Run(ctx, load)
	close(loadDone)
	<-watched
	if err != nil {
		return res, fmt.Errorf("%s: load: %w", p.Name, err)
	}
	afterLoad, err := ReadProc(proc.Pid())
	if err != nil {
		return res, fmt.Errorf("%s: %w", p.Name, err)
	}
	res.CPULoad = afterLoad.CPU - before.CPU
	if res.DeliveredAtLoadEnd, err = p.Delivered(ctx); err != nil {
		return res, fmt.Errorf("%s: count delivered records: %w", p.Name, err)
	}

	if drain.Poll <= 0 {
		drain.Poll = 250 * time.Millisecond
	}
	drainStart := time.Now()
	last, lastMove := res.DeliveredAtLoadEnd, drainStart
	res.Delivered = last
	for res.Delivered < res.Load.AckedRecords {
		if time.Since(drainStart) > drain.Max || time.Since(lastMove) > drain.Stall || proc.Exited() {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(drain.Poll):
		}
		n, err := p.Delivered(ctx)
		if err != nil {
			return res, fmt.Errorf("%s: count delivered records: %w", p.Name, err)
		}
		if n != last {
			last, lastMove = n, time.Now()
		}
		res.Delivered = n
	}
	res.Drain = time.Since(drainStart)
	res.Drained = res.Delivered >= res.Load.AckedRecords
	if proc.Exited() {
		return res, fmt.Errorf("%s: the collector exited during the run\n%s", p.Name, proc.Output())
	}
	end, err := ReadProc(proc.Pid())
	if err != nil {
		return res, fmt.Errorf("%s: %w", p.Name, err)
	}
	res.CPUTotal = end.CPU - before.CPU
	res.PeakRSS = end.PeakRSS
	if drain.StopTimeout <= 0 {
		drain.StopTimeout = 60 * time.Second
	}
	res.StopErr = proc.Stop(drain.StopTimeout)
	res.Output = proc.Output()
	return res, nil
}

// OursPipeline is otelcol-audit (bin) in mode ("durable" or "volatile") with its data in dir,
// on free loopback ports; delivered records are the rows of its SQLite file.
func OursPipeline(bin, dir, mode string, maxQueueBytes int) (Pipeline, error) {
	return OursPipelineWith("otelcol-audit "+mode, bin, dir, OursOptions{Mode: mode, MaxQueueBytes: maxQueueBytes})
}

// OursPipelineWith is OursPipeline with any OursOptions (a legacy queue, say) and a name of
// its own; the ports and the data directory of o are set here.
func OursPipelineWith(name, bin, dir string, o OursOptions) (Pipeline, error) {
	otlp, err := FreePort()
	if err != nil {
		return Pipeline{}, err
	}
	query, err := FreePort()
	if err != nil {
		return Pipeline{}, err
	}
	o.OTLPPort, o.QueryPort, o.DataDir = otlp, query, dir
	db := o.DBPath()
	return Pipeline{
		Name:     name,
		Binary:   bin,
		Config:   OursConfig(o),
		Dir:      dir,
		Endpoint: fmt.Sprintf("http://127.0.0.1:%d/v1/logs", otlp),
		Delivered: func(ctx context.Context) (int64, error) {
			return CountRows(ctx, db)
		},
	}, nil
}

// StockPipeline is stockcol (bin) with its queue files in dir, forwarding to sinkURL;
// delivered records are those the sink counts (delivered).
func StockPipeline(bin, dir, sinkURL string, queueSize int, delivered func() int64) (Pipeline, error) {
	otlp, err := FreePort()
	if err != nil {
		return Pipeline{}, err
	}
	return Pipeline{
		Name:     "stock collector",
		Binary:   bin,
		Config:   StockConfig(StockOptions{OTLPPort: otlp, StorageDir: filepath.Join(dir, "queue"), SinkURL: sinkURL, QueueSize: queueSize}),
		Dir:      dir,
		Endpoint: fmt.Sprintf("http://127.0.0.1:%d/v1/logs", otlp),
		Delivered: func(context.Context) (int64, error) {
			return delivered(), nil
		},
	}, nil
}
