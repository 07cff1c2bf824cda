package clickhousestore

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// checkInsertInBlocks inserts batches larger than a block (three rows here) and a replay that
// mixes stored and new ids: every row is written once, across blocks and after the restart
// without the stored ids, which count() without FINAL (duplicates not collapsed) shows.
func checkInsertInBlocks(t *testing.T, s *Store) {
	s.blockRows = 3
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gen := storetest.NewLoadgenLike(3, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	first := gen.Batch(10, "acme")
	n, err := s.Insert(ctx, "acme", first)
	require.NoError(t, err)
	require.Equal(t, 10, n)

	// Stored ids at the start, in the middle and at the end of the replay.
	replay := append([]record.Record{first[0], first[1]}, gen.Batch(4, "acme")...)
	replay = append(replay, first[5])
	replay = append(replay, gen.Batch(3, "acme")...)
	replay = append(replay, first[9])
	n, err = s.Insert(ctx, "acme", replay)
	require.NoError(t, err)
	require.Equal(t, 7, n, "the replay's new records")

	n, err = s.Insert(ctx, "acme", replay)
	require.NoError(t, err)
	require.Zero(t, n, "a second replay stores nothing")

	d, err := s.dialect(ctx)
	require.NoError(t, err)
	var rows, ids uint64
	require.NoError(t, s.conn.QueryRow(ctx, "SELECT count(), uniqExact(id) FROM "+d.logs()).Scan(&rows, &ids))
	require.Equal(t, uint64(17), ids)
	require.Equal(t, uint64(17), rows, "no row written twice")

	got, err := s.Get(ctx, "acme", replay[3].ID)
	require.NoError(t, err)
	require.Equal(t, replay[3].Attributes["app.field_00"], got.Attributes["app.field_00"])
}

func TestInsert_BatchesLargerThanABlockWriteEveryRowOnce(t *testing.T) {
	checkInsertInBlocks(t, openTestStore(t, nil))
}

// checkLargeReplay replays a batch whose ids, written out as an IN list, would be longer than
// the server parses in one statement (max_query_size, 256 KiB by default), mixed with new ids,
// and writes another tenant's records under the same ids: the one lookup (QueryIDs) finds
// exactly the tenant's stored ids.
func checkLargeReplay(t *testing.T, s *Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const stored = 8000
	gen := storetest.NewLoadgenLike(stored, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	first := gen.Batch(stored, "acme")
	size := 0
	for _, r := range first {
		size += len(quoteString(r.ID)) + len(", ")
	}
	require.Greater(t, size, 256<<10, "the ids as an IN list exceed max_query_size")
	n, err := s.Insert(ctx, "acme", first)
	require.NoError(t, err)
	require.Equal(t, stored, n)

	replay := append(slices.Clone(first), gen.Batch(10, "acme")...)
	n, err = s.Insert(ctx, "acme", replay)
	require.NoError(t, err)
	require.Equal(t, 10, n, "only the new records of the replay are stored")

	other := slices.Clone(first[:100])
	for i := range other {
		other[i].TenantID = "globex"
	}
	n, err = s.Insert(ctx, "globex", other)
	require.NoError(t, err)
	require.Equal(t, 100, n, "another tenant's ids are its own")
}

func TestInsert_AReplayOfManyIdsStoresOnlyTheNewOnes(t *testing.T) {
	checkLargeReplay(t, openTestStore(t, nil))
}
