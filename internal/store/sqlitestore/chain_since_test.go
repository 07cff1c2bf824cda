package sqlitestore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// An incremental verify looks for rows written around the chain among the rows stored since
// the last one, by a range of the rowid: the tenant's indexes would scan all its rows.
func TestUnchainedSince_ReadsOnlyTheRowsAfterItsSeq(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "audit.db")
	cfg.Chain = true
	s, err := Open(ctx, cfg)
	require.NoError(t, err)
	defer s.Close()
	recs := func(n int) []record.Record {
		out := make([]record.Record, n)
		for i := range out {
			out[i] = record.Record{ID: record.NewID(), Timestamp: time.Now(), Level: record.LevelInfo, Message: "m"}
		}
		return out
	}
	_, err = s.Insert(ctx, "acme", recs(100))
	require.NoError(t, err)
	ids, through, err := s.UnchainedSince(ctx, "acme", 0, 10)
	require.NoError(t, err)
	assert.Empty(t, ids)
	assert.Equal(t, int64(100), through)

	around := cfg
	around.Chain = false
	direct, err := Open(ctx, around)
	require.NoError(t, err)
	forged := recs(1)
	_, err = direct.Insert(ctx, "acme", forged)
	require.NoError(t, err)
	require.NoError(t, direct.Close())
	ids, through, err = s.UnchainedSince(ctx, "acme", 100, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{forged[0].ID}, ids, "the row stored after seq 100 without a link")
	assert.Equal(t, int64(101), through)
	ids, _, err = s.UnchainedSince(ctx, "acme", 101, 10)
	require.NoError(t, err)
	assert.Empty(t, ids, "rows up to the seq given are not looked at")
	ids, _, err = s.UnchainedSince(ctx, "globex", 0, 10)
	require.NoError(t, err)
	assert.Empty(t, ids, "another tenant's rows are not its")

	rows, err := s.read.QueryContext(ctx, "EXPLAIN QUERY PLAN "+selectUnchainedSince, 100, 101, "acme", 1)
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	assert.Contains(t, plan[0], "INTEGER PRIMARY KEY (rowid>? AND rowid<?)", "the plan: %s", strings.Join(plan, "; "))
}
