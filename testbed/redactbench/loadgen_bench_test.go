package redactbench

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-audit/otelcol-audit/testbed/loadgen"
)

// BenchmarkRedactLoadgen runs our processor, as the benchmarked pipeline does, over the load
// generator's requests: 128 distinct requests of 100 records (12 to 50 attributes, random ids,
// addresses and hex values among repeated agents, paths and users, 5% with a secret), sent in
// turn, with the processor kept across them as in a running collector. Unlike the fixed
// batches of BenchmarkRedaction, most of these values are not repeated, so this is the figure
// to read for the caches of the redact engine. ns/op is per request of 100 records.
func BenchmarkRedactLoadgen(b *testing.B) {
	const pool, perRequest = 128, 100
	builder := loadgen.NewBuilder(1)
	requests := make([]plog.Logs, pool)
	for i := range requests {
		requests[i], _ = builder.Build(perRequest)
	}
	p, err := NewLogs(Ours(), consumertest.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	// The thread's CPU time is counted besides the wall time: on a shared machine it is the
	// steadier figure (time spent waiting for a core is not in it).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu time.Duration
	ld := plog.NewLogs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		requests[i%pool].CopyTo(ld)
		b.StartTimer()
		before := threadCPU(b)
		if err := p.ConsumeLogs(ctx, ld); err != nil {
			b.Fatal(err)
		}
		cpu += threadCPU(b) - before
	}
	b.ReportMetric(float64(b.N*perRequest)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*perRequest), "cpu-ns/record")
}

// threadCPU is the CPU time the calling OS thread has used (user and system).
func threadCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
