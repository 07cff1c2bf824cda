// Package retry is the write path's one backoff, built from the collector's
// configretry.BackOffConfig (the retry_on_failure users know from exporterhelper, with the same
// backoff library), for store inserts, dead-letter writes and the dead-letter queue's scans.
package retry

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v7"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer/consumererror"
)

// Backoff yields the waits between attempts: exponential from initial_interval by multiplier
// up to max_interval, each spread by ± randomization_factor so that collectors that failed
// together do not retry together. Not safe for concurrent use.
type Backoff struct {
	b *backoff.ExponentialBackOff
}

// NewBackoff returns cfg's backoff, reset.
func NewBackoff(cfg configretry.BackOffConfig) *Backoff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     cfg.InitialInterval,
		RandomizationFactor: cfg.RandomizationFactor,
		Multiplier:          cfg.Multiplier,
		MaxInterval:         cfg.MaxInterval,
	}
	if b.MaxInterval <= 0 {
		b.MaxInterval = backoff.DefaultMaxInterval
	}
	if b.Multiplier < 1 {
		b.Multiplier = 1
	}
	b.Reset()
	return &Backoff{b: b}
}

// Next is the wait before the next attempt.
func (b *Backoff) Next() time.Duration { return b.b.NextBackOff() }

// Reset starts again from initial_interval, after a success.
func (b *Backoff) Reset() { b.b.Reset() }

// Do runs attempt until it succeeds, fails permanently (consumererror.IsPermanent: retrying
// cannot help), ctx ends, or the next wait would end after cfg.MaxElapsedTime (0: no bound).
// With cfg.Enabled false it runs attempt once. onRetry, if set, is told each failure that will
// be retried. The error is attempt's last, joined with ctx's when ctx ended the wait.
func Do(ctx context.Context, cfg configretry.BackOffConfig, attempt func(context.Context) error, onRetry func(error)) error {
	b := NewBackoff(cfg)
	start := time.Now()
	for {
		err := attempt(ctx)
		if err == nil || !cfg.Enabled || consumererror.IsPermanent(err) {
			return err
		}
		wait := b.Next()
		if cfg.MaxElapsedTime > 0 && time.Since(start)+wait > cfg.MaxElapsedTime {
			return err
		}
		if onRetry != nil {
			onRetry(err)
		}
		if werr := sleep(ctx, wait); werr != nil {
			return errors.Join(err, werr)
		}
	}
}

// Forever runs attempt until it succeeds or ctx ends, waiting cfg's backoff in between
// whatever cfg.Enabled and cfg.MaxElapsedTime say: for writes that must not give up, such as
// setting a batch aside in the dead-letter queue. onRetry is told each failure.
func Forever(ctx context.Context, cfg configretry.BackOffConfig, attempt func() error, onRetry func(error)) error {
	b := NewBackoff(cfg)
	for {
		err := attempt()
		if err == nil {
			return nil
		}
		if onRetry != nil {
			onRetry(err)
		}
		if werr := sleep(ctx, b.Next()); werr != nil {
			return errors.Join(err, werr)
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
