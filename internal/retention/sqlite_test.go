package retention

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// A scheduled run on a real SQLite file removes what the default policy says has expired,
// by calendar months, and nothing else.
func TestScheduler_PrunesASQLiteFileOnSchedule(t *testing.T) {
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "audit.db")
	st, err := sqlitestore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	midnight := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	// Ages relative to the run: debug is kept 1 month (to 1 June), info 3 (to 1 April),
	// error 6 (to 1 January), security 12 (to 1 July 2024).
	recs := []struct {
		level   record.Level
		at      time.Time
		expired bool
	}{
		{record.LevelDebug, time.Date(2025, 5, 31, 23, 59, 0, 0, time.UTC), true},
		{record.LevelDebug, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), false},
		{record.LevelInfo, time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC), true},
		{record.LevelInfo, time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC), false},
		{record.LevelError, time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC), true},
		{record.LevelError, time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), false},
		{record.LevelSecurity, time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), true},
		{record.LevelSecurity, time.Date(2024, 7, 2, 0, 0, 0, 0, time.UTC), false},
	}
	var batch []record.Record
	for i, r := range recs {
		batch = append(batch, record.Record{ID: fmt.Sprintf("r%d-%v", i, r.expired), Timestamp: r.at, Level: r.level, Message: "fixture"})
	}
	if _, err := st.Insert(context.Background(), "acme", batch); err != nil {
		t.Fatal(err)
	}

	clock := newFakeClock(midnight.Add(-time.Minute))
	s, err := NewScheduler(DefaultConfig(), st.Prune, zap.NewNop(), WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan store.PruneResult, 1)
	s.prune = func(ctx context.Context, p store.RetentionPolicy, now time.Time) (store.PruneResult, error) {
		res, err := st.Prune(ctx, p, now)
		results <- res
		return res, err
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	clock.waitTimer(t)
	clock.AdvanceTo(midnight)

	var res store.PruneResult
	select {
	case res = <-results:
	case <-time.After(10 * time.Second):
		t.Fatal("the scheduled prune did not run")
	}
	want := map[string]int64{"debug": 1, "info": 1, "warn": 0, "error": 1, "security": 1}
	for k, v := range want {
		if res.RemovedByLevel[k] != v {
			t.Errorf("removed %s = %d, want %d (result %v)", k, res.RemovedByLevel[k], v, res.RemovedByLevel)
		}
	}
	for _, r := range batch {
		_, err := st.Get(context.Background(), "acme", r.ID)
		expired := r.ID[len(r.ID)-4:] == "true"
		if expired && err == nil {
			t.Errorf("%s is still stored", r.ID)
		}
		if !expired && err != nil {
			t.Errorf("%s was removed: %v", r.ID, err)
		}
	}
}
