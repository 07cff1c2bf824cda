package retry

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer/consumererror"
)

// exact is a backoff without jitter: attempts at 0s, 1s, 3s, 7s, then 4s apart.
func exact() configretry.BackOffConfig {
	return configretry.BackOffConfig{Enabled: true, InitialInterval: time.Second, Multiplier: 2,
		MaxInterval: 4 * time.Second, MaxElapsedTime: 7 * time.Second}
}

var errDown = errors.New("store down")

func TestDo_RetriesUntilTheNextWaitWouldPassMaxElapsedTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var at []time.Duration
		retried := 0
		err := Do(t.Context(), exact(), func(context.Context) error {
			at = append(at, time.Since(start))
			return errDown
		}, func(error) { retried++ })
		assert.ErrorIs(t, err, errDown)
		assert.Equal(t, []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}, at)
		assert.Equal(t, 3, retried)
	})
}

func TestDo_APermanentErrorOrDisabledRetryIsOneAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		attempts := 0
		err := Do(t.Context(), exact(), func(context.Context) error {
			attempts++
			return consumererror.NewPermanent(errDown)
		}, nil)
		assert.True(t, consumererror.IsPermanent(err))
		assert.Equal(t, 1, attempts)

		cfg := exact()
		cfg.Enabled = false
		attempts = 0
		assert.ErrorIs(t, Do(t.Context(), cfg, func(context.Context) error { attempts++; return errDown }, nil), errDown)
		assert.Equal(t, 1, attempts)
	})
}

func TestDo_StopsWaitingWhenTheContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		attempts := 0
		err := Do(ctx, exact(), func(context.Context) error { attempts++; return errDown }, nil)
		assert.ErrorIs(t, err, errDown)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 2, attempts, "at 0s and 1s; the wait for 3s is cut at 2s")
	})
}

func TestForever_IgnoresTheBoundsAndEndsOnlyWithSuccessOrTheContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := exact()
		cfg.Enabled = false
		attempts := 0
		require.NoError(t, Forever(t.Context(), cfg, func() error {
			attempts++
			if attempts < 10 { // 1+2+4+4*6 = 31s of waits: far past max_elapsed_time
				return errDown
			}
			return nil
		}, nil))
		assert.Equal(t, 10, attempts)

		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		err := Forever(ctx, cfg, func() error { return errDown }, nil)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestBackoff_HonoursRandomizationFactor(t *testing.T) {
	cfg := exact()
	cfg.RandomizationFactor = 0.5
	seen := map[time.Duration]bool{}
	for range 50 {
		first := NewBackoff(cfg).Next()
		assert.GreaterOrEqual(t, first, 500*time.Millisecond)
		assert.LessOrEqual(t, first, 1500*time.Millisecond)
		seen[first] = true
	}
	assert.Greater(t, len(seen), 1, "waits are spread, so collectors that failed together do not retry together")

	cfg.RandomizationFactor = 0
	b := NewBackoff(cfg)
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second},
		[]time.Duration{b.Next(), b.Next(), b.Next(), b.Next()})
	b.Reset()
	assert.Equal(t, time.Second, b.Next())
}
