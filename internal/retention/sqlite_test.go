package retention

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// A scheduled run on a real SQLite file removes what the default policy says has expired,
// by calendar months, and nothing else. The store is opened and closed inside the bubble, so
// that database/sql's connection goroutines belong to it.
func TestScheduler_PrunesASQLiteFileOnSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := sqlitestore.DefaultConfig()
		cfg.Path = filepath.Join(t.TempDir(), "audit.db")
		st, err := sqlitestore.Open(context.Background(), cfg)
		require.NoError(t, err)
		defer st.Close()

		midnight := time.Date(2000, 2, 1, 0, 0, 0, 0, time.UTC)
		// Ages relative to the run: debug is kept 1 month (to 1 January: 31 days, so a
		// 30-day month would remove the record at the cutoff), info 3 (to 1 November), error
		// 6 (to 1 August), security 12 (to 1 February 1999).
		recs := []struct {
			level   record.Level
			at      time.Time
			expired bool
		}{
			{record.LevelDebug, time.Date(1999, 12, 31, 23, 59, 0, 0, time.UTC), true},
			{record.LevelDebug, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), false},
			{record.LevelInfo, time.Date(1999, 10, 31, 0, 0, 0, 0, time.UTC), true},
			{record.LevelInfo, time.Date(1999, 11, 2, 0, 0, 0, 0, time.UTC), false},
			{record.LevelError, time.Date(1999, 7, 31, 0, 0, 0, 0, time.UTC), true},
			{record.LevelError, time.Date(1999, 8, 2, 0, 0, 0, 0, time.UTC), false},
			{record.LevelSecurity, time.Date(1999, 1, 31, 0, 0, 0, 0, time.UTC), true},
			{record.LevelSecurity, time.Date(1999, 2, 2, 0, 0, 0, 0, time.UTC), false},
		}
		var batch []record.Record
		for i, r := range recs {
			batch = append(batch, record.Record{ID: fmt.Sprintf("r%d-%v", i, r.expired), Timestamp: r.at, Level: r.level, Message: "fixture"})
		}
		_, err = st.Insert(context.Background(), "acme", batch)
		require.NoError(t, err)

		sleepUntil(midnight.Add(-time.Minute))
		s, err := NewScheduler(DefaultConfig(), st.Prune, zap.NewNop())
		require.NoError(t, err)
		results := make(chan store.PruneResult, 1)
		s.prune = func(ctx context.Context, p store.RetentionPolicy, now time.Time) (store.PruneResult, error) {
			res, err := st.Prune(ctx, p, now)
			results <- res
			return res, err
		}
		require.NoError(t, s.Start(context.Background()))
		defer s.Stop()
		sleepUntil(midnight)
		synctest.Wait()

		var res store.PruneResult
		select {
		case res = <-results:
		default:
			require.FailNow(t, "the scheduled prune did not run")
		}
		want := map[string]int64{"debug": 1, "info": 1, "warn": 0, "error": 1, "security": 1}
		for k, v := range want {
			assert.Equal(t, v, res.RemovedByLevel[k], "removed %s (result %v)", k, res.RemovedByLevel)
		}
		for i, r := range batch {
			_, err := st.Get(context.Background(), "acme", r.ID)
			if recs[i].expired {
				assert.Error(t, err, "%s is still stored", r.ID)
			} else {
				assert.NoError(t, err, "%s was removed", r.ID)
			}
		}
	})
}
