package sqlitestore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// statSamples counts sqlite_stat4's samples per table.
func statSamples(t *testing.T, s *Store) map[string]int {
	t.Helper()
	rows, err := s.write.Query(`SELECT tbl, count(*) FROM sqlite_stat4 GROUP BY tbl`)
	require.NoError(t, err, "read sqlite_stat4")
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var tbl string
		var n int
		require.NoError(t, rows.Scan(&tbl, &n))
		out[tbl] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// Open analyzes a file whose statistics are missing (here: written, then reopened) and keeps
// the audit tables' samples, but none of the full-text index's shadow tables or of the trace
// index (see optimize).
func TestOpen_AnalyzesWithoutSamplingTheFullTextIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	s := openAt(t, path)
	gen := storetest.NewLoadgenLike(1, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	for range 3 {
		_, err := s.Insert(context.Background(), "acme", gen.Batch(1000, "acme"))
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())

	s = openAt(t, path)
	defer s.Close()
	samples := statSamples(t, s)
	require.NotZero(t, samples["audit_logs"], "Open should have analyzed audit_logs with samples (sqlite_stat4): %v", samples)
	for tbl := range samples {
		assert.NotRegexp(t, `^audit_fts`, tbl, "samples of the full-text index's %s make FTS5 re-prepare its lookups", tbl)
	}
	assert.Zero(t, traceSamples(t, s), "samples of the trace index make Trace's statement compile at every call")

	// A Prune that removed rows runs optimize again, with the same result.
	_, err := s.write.Exec(`ANALYZE`)
	require.NoError(t, err)
	require.NotZero(t, statSamples(t, s)["audit_fts_idx"], "a plain ANALYZE samples the full-text index (what optimize undoes)")
	require.NotZero(t, traceSamples(t, s), "a plain ANALYZE samples the trace index")
	require.NoError(t, optimize(context.Background(), s.write, ""))
	assert.Zero(t, statSamples(t, s)["audit_fts_idx"], "after optimize")
	assert.Zero(t, traceSamples(t, s), "after optimize")
	assert.NotZero(t, statSamples(t, s)["audit_logs"], "the other indexes keep theirs")
}

func traceSamples(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	require.NoError(t, s.write.QueryRow(`SELECT count(*) FROM sqlite_stat4 WHERE idx = 'audit_logs_trace'`).Scan(&n))
	return n
}
