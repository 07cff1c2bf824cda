package retention

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// The scheduler tests run in a testing/synctest bubble: its clock starts at bubbleStart and
// moves only when every goroutine in the bubble is blocked, so time.Sleep(d) in a test is
// "advance the clock by d", and synctest.Wait() returns once the scheduler has done all it
// can at the current time, after which a test can assert that something did not happen.

// bubbleStart is where a synctest bubble's clock starts.
var bubbleStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// sleepUntil advances the bubble's clock to at.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

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

// waitStart waits until the bubble is idle and returns the time of the prune that started,
// failing if none did.
func (p *recordingPrune) waitStart(t *testing.T) time.Time {
	t.Helper()
	synctest.Wait()
	select {
	case at := <-p.started:
		return at
	default:
		require.FailNow(t, "no prune started", "clock at %s", time.Now().UTC())
		return time.Time{}
	}
}

func newTestScheduler(t *testing.T, cfg Config, prune PruneFunc) (*Scheduler, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	s, err := NewScheduler(cfg, prune, zap.New(core))
	require.NoError(t, err, "NewScheduler")
	t.Cleanup(s.Stop)
	return s, logs
}

func TestScheduler_RunsAtTheScheduledTimeInUTC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sleepUntil(bubbleStart.Add(22*time.Hour + 15*time.Minute)) // 22:15, as a long-running collector
		p := newRecordingPrune(false)
		s, logs := newTestScheduler(t, DefaultConfig(), p.prune)
		require.NoError(t, s.Start(context.Background()))

		sleepUntil(time.Date(2000, 1, 1, 23, 59, 59, 0, time.UTC))
		synctest.Wait()
		require.Zero(t, p.count(), "prune ran before midnight")
		midnight := time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC)
		sleepUntil(midnight)
		assert.True(t, p.waitStart(t).Equal(midnight), "prune ran at the wrong time, want %s", midnight)

		// The result is logged with every level's count.
		finished := logs.FilterMessage("Retention run finished").All()
		require.Len(t, finished, 1, "no run logged; logs: %v", logs.All())
		fields := finished[0].ContextMap()
		assert.Equal(t, int64(8), fields["removed"], "logged fields = %v", fields)
		assert.Equal(t, map[string]any{
			"debug": int64(7), "info": int64(0), "warn": int64(0), "error": int64(0), "security": int64(1),
		}, fields["removed_by_level"], "every level is listed")
		assert.Equal(t, "schedule", fields["trigger"])

		sleepUntil(midnight.Add(24*time.Hour - time.Second))
		synctest.Wait()
		assert.Equal(t, 1, p.count(), "prune runs once within one day")
		sleepUntil(midnight.Add(24 * time.Hour))
		assert.True(t, p.waitStart(t).Equal(midnight.Add(24*time.Hour)), "the next run is the next midnight")
	})
}

func TestScheduler_SkipsARunDueWhileThePreviousOneIsGoing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newRecordingPrune(true)
		cfg := DefaultConfig()
		cfg.Schedule = "*/5 * * * *"
		s, logs := newTestScheduler(t, cfg, p.prune)
		require.NoError(t, s.Start(context.Background()))
		time.Sleep(5 * time.Minute) // 00:05: the first run starts and is held
		p.waitStart(t)
		time.Sleep(5 * time.Minute) // 00:10: due while the first still runs
		synctest.Wait()             // the loop has decided on the due run

		require.Equal(t, 1, p.count(), "the second run overlapped")
		assert.Equal(t, 1, logs.FilterMessage("Retention run skipped: the previous run is still going").Len(),
			"the skipped run was not logged; logs: %v", logs.All())
		_, err := s.RunNow(context.Background())
		require.ErrorIs(t, err, ErrAlreadyRunning, "RunNow during a run")

		close(p.release)
		synctest.Wait()
		require.Equal(t, 1, logs.FilterMessage("Retention run finished").Len(), "the held run never finished")
		// Once the first run ends, the next due time runs again.
		time.Sleep(5 * time.Minute)
		p.waitStart(t)
		assert.Equal(t, 2, p.count())
	})
}

func TestScheduler_RunNowPrunesWithThePolicyAtTheClocksTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The bubble's date makes the months below calendar months of known lengths.
		require.True(t, time.Now().Equal(bubbleStart), "the bubble starts at %s", time.Now())
		var got store.RetentionPolicy
		var gotNow time.Time
		prune := func(_ context.Context, policy store.RetentionPolicy, now time.Time) (store.PruneResult, error) {
			got, gotNow = policy, now
			return store.PruneResult{RemovedByLevel: store.LevelCounts(), Total: 0}, nil
		}
		cfg := DefaultConfig()
		cfg.Enabled = false
		s, _ := newTestScheduler(t, cfg, prune)
		_, err := s.RunNow(context.Background())
		require.NoError(t, err, "RunNow before Start")
		assert.True(t, gotNow.Equal(bubbleStart), "prune got now = %s, want the clock's %s", gotNow, bubbleStart)
		// 1 January 2000 minus one month is 1 December 1999: 31 days, not 30.
		assert.Equal(t, 31*24*time.Hour, got.For(record.LevelDebug), "debug period")
		// Minus twelve months is 1 January 1999: 365 days.
		assert.Equal(t, 365*24*time.Hour, got.For(record.LevelSecurity), "security period")
	})
}

func TestScheduler_ReportsAFailedRun(t *testing.T) {
	boom := errors.New("disk I/O error")
	prune := func(context.Context, store.RetentionPolicy, time.Time) (store.PruneResult, error) {
		return store.PruneResult{RemovedByLevel: store.LevelCounts(), Total: 3}, boom
	}
	s, logs := newTestScheduler(t, DefaultConfig(), prune)
	res, err := s.RunNow(context.Background())
	require.ErrorIs(t, err, boom, "RunNow returns the prune error")
	assert.Equal(t, int64(3), res.Total, "RunNow returns the partial result")
	assert.Equal(t, 1, logs.FilterMessage("Retention run failed").Len(), "the failure was not logged: %v", logs.All())
}

func TestScheduler_DisabledScheduleNeverRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newRecordingPrune(false)
		cfg := DefaultConfig()
		cfg.Enabled = false
		s, logs := newTestScheduler(t, cfg, p.prune)
		require.NoError(t, s.Start(context.Background()))
		time.Sleep(72 * time.Hour) // three midnights of the default schedule
		synctest.Wait()
		assert.Zero(t, p.count(), "a disabled schedule ran prune")
		assert.Equal(t, 1, logs.FilterMessage("Retention schedule disabled; runs happen only on demand").Len())
	})
}

func TestScheduler_StopCancelsARunAndIsSafeTwiceAndBeforeStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newRecordingPrune(true)
		s, logs := newTestScheduler(t, DefaultConfig(), p.prune)
		s.Stop() // before Start
		require.NoError(t, s.Start(context.Background()))
		require.Error(t, s.Start(context.Background()), "a second Start succeeded")
		sleepUntil(time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC))
		p.waitStart(t)

		stopped := make(chan struct{})
		go func() {
			s.Stop()
			close(stopped)
		}()
		synctest.Wait()
		select {
		case <-stopped:
		default:
			close(p.release) // let Stop, and the test, end
			require.FailNow(t, "Stop did not cancel the held run")
		}
		assert.Equal(t, 1, logs.FilterMessage("Retention run failed").Len(), "the cancelled run is reported: %v", logs.All())
		s.Stop()
	})
}

func TestNewScheduler_RefusesAnInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Schedule = "at dawn"
	_, err := NewScheduler(cfg, newRecordingPrune(false).prune, nil)
	assert.Error(t, err, "NewScheduler accepted a bad schedule")
	_, err = NewScheduler(DefaultConfig(), nil, nil)
	assert.Error(t, err, "NewScheduler accepted a nil prune function")
}

// A descriptor schedule runs repeatedly: "@every 1s" is the shortest robfig/cron allows.
// (This test ran on the wall clock when the other tests injected a fake one; the scheduler
// now always reads the time package, which the bubble fakes for every test alike.)
func TestScheduler_RunsAnEverySecondSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newRecordingPrune(false)
		cfg := DefaultConfig()
		cfg.Schedule = "@every 1s"
		s, err := NewScheduler(cfg, p.prune, zap.NewNop())
		require.NoError(t, err)
		require.NoError(t, s.Start(context.Background()))
		defer s.Stop()
		time.Sleep(2 * time.Second)
		assert.True(t, p.waitStart(t).Equal(bubbleStart.Add(time.Second)), "first run after one second")
		assert.True(t, p.waitStart(t).Equal(bubbleStart.Add(2*time.Second)), "second run after two seconds")
		assert.Equal(t, 2, p.count(), "runs in 2s on a one-second schedule")
	})
}
