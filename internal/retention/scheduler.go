package retention

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// PruneFunc deletes what policy says has expired at now; store.Store's Prune is one.
type PruneFunc func(ctx context.Context, policy store.RetentionPolicy, now time.Time) (store.PruneResult, error)

// ErrAlreadyRunning is returned by RunNow while another run is in progress.
var ErrAlreadyRunning = errors.New("retention: a run is already in progress")

// Scheduler runs a PruneFunc on the configured cron schedule.
//
// Runs never overlap: a scheduled run that comes due while the previous one is still going is
// skipped (and logged), and RunNow during a run returns ErrAlreadyRunning. The schedule is
// computed in UTC from time.Now after each wake-up, so a clock jump or a long run
// never causes a burst of catch-up runs. Stop cancels a run in progress (the store stops
// between two chunks) and waits for it.
type Scheduler struct {
	cfg      Config
	schedule cron.Schedule
	prune    PruneFunc
	logger   *zap.Logger

	// running is a one-slot semaphore held for the duration of a run.
	running chan struct{}

	mu      sync.Mutex
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool
}

// NewScheduler validates cfg and returns a stopped scheduler.
func NewScheduler(cfg Config, prune PruneFunc, logger *zap.Logger) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("retention: invalid config: %w", err)
	}
	if prune == nil {
		return nil, errors.New("retention: prune function is nil")
	}
	schedule, err := cronParser.Parse(cfg.Schedule)
	if err != nil {
		return nil, fmt.Errorf("retention: schedule: %w", err) // Validate already checked it
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Scheduler{
		cfg: cfg, schedule: schedule, prune: prune, logger: logger,
		running: make(chan struct{}, 1),
	}, nil
}

// Start begins the scheduled runs, if enabled. ctx is only for the start itself, as for a
// collector component: the runs live until Stop. Starting twice is an error.
func (s *Scheduler) Start(_ context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("retention: scheduler already started")
	}
	s.started = true
	if !s.cfg.Enabled {
		s.logger.Info("Retention schedule disabled; runs happen only on demand")
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go s.loop(ctx)
	s.logger.Info("Retention scheduled", zap.String("schedule", s.cfg.Schedule),
		zap.Time("next_run", s.schedule.Next(time.Now().UTC())))
	return nil
}

// Stop ends the schedule, cancels a run in progress and waits for it. It is safe before Start
// and more than once.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	cancel := s.cancel
	s.cancel = nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
}

func (s *Scheduler) loop(ctx context.Context) {
	defer s.wg.Done()
	for {
		now := time.Now()
		next := s.schedule.Next(now.UTC())
		timer := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		select {
		case s.running <- struct{}{}:
		default:
			s.logger.Warn("Retention run skipped: the previous run is still going", zap.Time("due", next))
			continue
		}
		// The run goes on in its own goroutine so that the loop sees the next due time, and
		// can skip it, while a long run is going.
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.running }()
			_, _ = s.run(ctx, "schedule")
		}()
	}
}

// RunNow prunes immediately, unless a run is in progress (ErrAlreadyRunning), and returns
// what was removed.
func (s *Scheduler) RunNow(ctx context.Context) (store.PruneResult, error) {
	select {
	case s.running <- struct{}{}:
	default:
		return store.PruneResult{}, ErrAlreadyRunning
	}
	defer func() { <-s.running }()
	return s.run(ctx, "on demand")
}

func (s *Scheduler) run(ctx context.Context, trigger string) (store.PruneResult, error) {
	now := time.Now()
	res, err := s.prune(ctx, s.cfg.Periods.Policy(now), now)
	fields := []zap.Field{
		zap.String("trigger", trigger),
		zap.Int64("removed", res.Total),
		zap.Object("removed_by_level", levelCounts(res.RemovedByLevel)),
		zap.Duration("duration", time.Since(now)),
	}
	if err != nil {
		s.logger.Error("Retention run failed", append(fields, zap.Error(err))...)
		return res, fmt.Errorf("retention: prune: %w", err)
	}
	s.logger.Info("Retention run finished", fields...)
	return res, nil
}

// levelCounts logs a per-level map in level order.
type levelCounts map[string]int64

func (m levelCounts) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for _, l := range record.Levels {
		enc.AddInt64(l.String(), m[l.String()])
	}
	return nil
}
