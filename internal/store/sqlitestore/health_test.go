package sqlitestore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// A write refused with SQLITE_FULL (injected with max_page_count, which SQLite answers exactly
// as a full disk) makes CheckHealth report the store full until an insert succeeds again.
func TestCheckHealth_ReportsFullAfterAnInsertRanOutOfSpace(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	require.NoError(t, s.CheckHealth(ctx), "a new store")

	var pages int
	require.NoError(t, s.write.QueryRow(`PRAGMA page_count`).Scan(&pages))
	_, err := s.write.Exec(`PRAGMA max_page_count = ` + strconv.Itoa(pages))
	require.NoError(t, err)
	recs := records("full", 200)
	for i := range recs {
		recs[i].Message = strings.Repeat("m", 4096)
	}
	_, err = s.Insert(ctx, "acme", recs)
	require.Error(t, err, "Insert beyond max_page_count")

	err = s.CheckHealth(ctx)
	assert.ErrorIs(t, err, store.ErrStorageFull, "CheckHealth after SQLITE_FULL")
	assert.NotErrorIs(t, err, store.ErrUnavailable, "a full store still answers queries")

	_, err = s.write.Exec(`PRAGMA max_page_count = 1073741823`)
	require.NoError(t, err)
	_, err = s.Insert(ctx, "acme", recs[:1])
	require.NoError(t, err)
	assert.NoError(t, s.CheckHealth(ctx), "after an insert succeeded again")

	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.CheckHealth(ctx), store.ErrUnavailable, "a closed store")
}

// A partitioned store reports its active partition's state: the file that takes every insert.
func TestCheckHealth_PartitionedFollowsItsActivePartition(t *testing.T) {
	p := openPartitioned(t, t.TempDir(), 50)
	ctx := context.Background()
	// A batch lands whole in the active partition; the next batch rolls over once it holds
	// 50 rows or more. Three batches of 30 leave a second partition with room for one more.
	for i := range 3 {
		_, err := p.Insert(ctx, "acme", records(fmt.Sprintf("roll%d", i), 30))
		require.NoError(t, err)
	}
	require.Greater(t, p.partitionCount(), 1)
	require.NoError(t, p.CheckHealth(ctx), "a partitioned store with room")

	active := p.active().st
	var pages int
	require.NoError(t, active.write.QueryRow(`PRAGMA page_count`).Scan(&pages))
	_, err := active.write.Exec(`PRAGMA max_page_count = ` + strconv.Itoa(pages))
	require.NoError(t, err)
	recs := records("full", 40)
	for i := range recs {
		recs[i].Message = strings.Repeat("m", 4096)
	}
	_, err = p.Insert(ctx, "acme", recs)
	require.Error(t, err, "Insert beyond the active partition's max_page_count")
	err = p.CheckHealth(ctx)
	assert.ErrorIs(t, err, store.ErrStorageFull, "CheckHealth after the active partition ran out of space")
	assert.NotErrorIs(t, err, store.ErrUnavailable)

	require.NoError(t, p.Close())
	assert.ErrorIs(t, p.CheckHealth(ctx), store.ErrUnavailable, "a closed store")
}
