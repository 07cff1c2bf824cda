package retention

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// recordingPrune is a PruneFunc that remembers its calls and can be held until released.
type recordingPrune struct {
	mu      sync.Mutex
	calls   []time.Time
	started chan time.Time
	release chan struct{} // nil: return at once
}

func newRecordingPrune(hold bool) *recordingPrune {
	p := &recordingPrune{started: make(chan time.Time, 10)}
	if hold {
		p.release = make(chan struct{})
	}
	return p
}

func (p *recordingPrune) prune(ctx context.Context, policy store.RetentionPolicy, now time.Time) (store.PruneResult, error) {
	p.mu.Lock()
	p.calls = append(p.calls, now)
	p.mu.Unlock()
	p.started <- now
	if p.release != nil {
		select {
		case <-p.release:
		case <-ctx.Done():
			return store.PruneResult{}, ctx.Err()
		}
	}
	res := store.PruneResult{RemovedByLevel: store.LevelCounts()}
	res.RemovedByLevel["debug"], res.RemovedByLevel["security"] = 7, 1
	res.Total = 8
	if policy.For(record.LevelDebug) <= 0 {
		return res, errors.New("the debug period did not reach the prune function")
	}
	return res, nil
}

func (p *recordingPrune) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

func (p *recordingPrune) waitStart(t *testing.T) time.Time {
	t.Helper()
	select {
	case at := <-p.started:
		return at
	case <-time.After(5 * time.Second):
		t.Fatal("no prune started within 5s")
	}
	return time.Time{}
}

func newTestScheduler(t *testing.T, cfg Config, prune PruneFunc, clock Clock) (*Scheduler, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	s, err := NewScheduler(cfg, prune, zap.New(core), WithClock(clock))
	if err != nil {
		t.Fatalf("NewScheduler: %v", err)
	}
	t.Cleanup(s.Stop)
	return s, logs
}

var startOfTest = time.Date(2025, 6, 1, 22, 15, 0, 0, time.UTC)

func TestScheduler_RunsAtTheScheduledTimeInUTC(t *testing.T) {
	clock := newFakeClock(startOfTest)
	p := newRecordingPrune(false)
	s, logs := newTestScheduler(t, DefaultConfig(), p.prune, clock)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.waitTimer(t)

	clock.AdvanceTo(time.Date(2025, 6, 1, 23, 59, 59, 0, time.UTC))
	if n := p.count(); n != 0 {
		t.Fatalf("prune ran %d times before midnight", n)
	}
	midnight := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	clock.AdvanceTo(midnight)
	if at := p.waitStart(t); !at.Equal(midnight) {
		t.Errorf("prune ran with now = %s, want %s", at, midnight)
	}
	clock.waitTimer(t) // armed for the next midnight

	// The result is logged with every level's count.
	deadline := time.Now().Add(5 * time.Second)
	for logs.FilterMessage("Retention run finished").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no run logged; logs: %v", logs.All())
		}
		time.Sleep(5 * time.Millisecond)
	}
	entry := logs.FilterMessage("Retention run finished").All()[0]
	fields := entry.ContextMap()
	byLevel, _ := fields["removed_by_level"].(map[string]any)
	if fields["removed"] != int64(8) || byLevel["debug"] != int64(7) || byLevel["security"] != int64(1) || byLevel["info"] != int64(0) {
		t.Errorf("logged fields = %v, want removed 8 with every level listed", fields)
	}

	clock.AdvanceTo(midnight.Add(24*time.Hour - time.Second))
	if n := p.count(); n != 1 {
		t.Errorf("prune ran %d times within one day, want 1", n)
	}
	clock.AdvanceTo(midnight.Add(24 * time.Hour))
	p.waitStart(t)
}

func TestScheduler_SkipsARunDueWhileThePreviousOneIsGoing(t *testing.T) {
	clock := newFakeClock(startOfTest)
	p := newRecordingPrune(true)
	cfg := DefaultConfig()
	cfg.Schedule = "*/5 * * * *"
	s, logs := newTestScheduler(t, cfg, p.prune, clock)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.waitTimer(t)
	clock.Advance(5 * time.Minute) // 22:20: the first run starts and is held
	p.waitStart(t)
	clock.waitTimer(t)
	clock.Advance(5 * time.Minute) // 22:25: due while the first still runs
	clock.waitTimer(t)             // the loop went round: the due run was decided upon

	if n := p.count(); n != 1 {
		t.Fatalf("prune ran %d times, want 1: the second run overlapped", n)
	}
	if logs.FilterMessage("Retention run skipped: the previous run is still going").Len() != 1 {
		t.Errorf("the skipped run was not logged; logs: %v", logs.All())
	}
	if _, err := s.RunNow(context.Background()); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("RunNow during a run = %v, want ErrAlreadyRunning", err)
	}

	close(p.release)
	// Once the first run ends, the next due time runs again.
	deadline := time.Now().Add(5 * time.Second)
	for logs.FilterMessage("Retention run finished").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the held run never finished")
		}
		time.Sleep(5 * time.Millisecond)
	}
	clock.Advance(5 * time.Minute)
	p.waitStart(t)
}

func TestScheduler_RunNowPrunesWithThePolicyAtTheClocksTime(t *testing.T) {
	clock := newFakeClock(startOfTest)
	var got store.RetentionPolicy
	var gotNow time.Time
	prune := func(_ context.Context, policy store.RetentionPolicy, now time.Time) (store.PruneResult, error) {
		got, gotNow = policy, now
		return store.PruneResult{RemovedByLevel: store.LevelCounts(), Total: 0}, nil
	}
	cfg := DefaultConfig()
	cfg.Enabled = false
	s, _ := newTestScheduler(t, cfg, prune, clock)
	if _, err := s.RunNow(context.Background()); err != nil {
		t.Fatalf("RunNow before Start: %v", err)
	}
	if !gotNow.Equal(startOfTest) {
		t.Errorf("prune got now = %s, want the clock's %s", gotNow, startOfTest)
	}
	// 1 June minus one month is 1 May: 31 days.
	if d := got.For(record.LevelDebug); d != 31*24*time.Hour {
		t.Errorf("debug period = %s, want 744h", d)
	}
	if d := got.For(record.LevelSecurity); d != 365*24*time.Hour {
		t.Errorf("security period = %s, want 8760h", d)
	}
}

func TestScheduler_ReportsAFailedRun(t *testing.T) {
	clock := newFakeClock(startOfTest)
	boom := errors.New("disk I/O error")
	prune := func(context.Context, store.RetentionPolicy, time.Time) (store.PruneResult, error) {
		return store.PruneResult{RemovedByLevel: store.LevelCounts(), Total: 3}, boom
	}
	s, logs := newTestScheduler(t, DefaultConfig(), prune, clock)
	res, err := s.RunNow(context.Background())
	if !errors.Is(err, boom) || res.Total != 3 {
		t.Errorf("RunNow = %+v, %v; want the partial result and the error", res, err)
	}
	if logs.FilterMessage("Retention run failed").Len() != 1 {
		t.Errorf("the failure was not logged: %v", logs.All())
	}
}

func TestScheduler_DisabledScheduleNeverRuns(t *testing.T) {
	clock := newFakeClock(startOfTest)
	p := newRecordingPrune(false)
	cfg := DefaultConfig()
	cfg.Enabled = false
	s, _ := newTestScheduler(t, cfg, p.prune, clock)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(72 * time.Hour)
	time.Sleep(20 * time.Millisecond)
	if n := p.count(); n != 0 {
		t.Errorf("a disabled schedule ran prune %d times", n)
	}
}

func TestScheduler_StopCancelsARunAndIsSafeTwiceAndBeforeStart(t *testing.T) {
	clock := newFakeClock(startOfTest)
	p := newRecordingPrune(true)
	s, _ := newTestScheduler(t, DefaultConfig(), p.prune, clock)
	s.Stop() // before Start
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil {
		t.Error("a second Start succeeded")
	}
	clock.waitTimer(t)
	clock.AdvanceTo(time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC))
	p.waitStart(t)

	stopped := make(chan struct{})
	go func() {
		s.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not cancel the held run")
	}
	s.Stop()
}

func TestNewScheduler_RefusesAnInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Schedule = "at dawn"
	if _, err := NewScheduler(cfg, newRecordingPrune(false).prune, nil); err == nil {
		t.Error("NewScheduler accepted a bad schedule")
	}
	if _, err := NewScheduler(DefaultConfig(), nil, nil); err == nil {
		t.Error("NewScheduler accepted a nil prune function")
	}
}

// The wall clock drives a short schedule: "@every 1s" is the shortest robfig/cron allows.
func TestScheduler_RunsOnTheWallClock(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the wall clock; skipped with -short")
	}
	var runs atomic.Int64
	prune := func(context.Context, store.RetentionPolicy, time.Time) (store.PruneResult, error) {
		runs.Add(1)
		return store.PruneResult{RemovedByLevel: store.LevelCounts()}, nil
	}
	cfg := DefaultConfig()
	cfg.Schedule = "@every 1s"
	s, err := NewScheduler(cfg, prune, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for runs.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d runs in 5s on a one-second schedule, want at least 2", runs.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
