package sqlitestore

import (
	"context"
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
