package clickhousestore

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
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

// checkLateInvalidRecord inserts a batch of several blocks whose last block holds a record
// that can never be stored (an attribute JSON cannot encode): the batch fails as invalid
// before its first block leaves, so nothing of it is stored. The chDB seam commits each block
// as it is flushed, so there a block sent before the record was checked would stay.
func checkLateInvalidRecord(t *testing.T, s *Store) {
	s.blockRows = 500
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gen := storetest.NewLoadgenLike(4, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	recs := gen.Batch(3000, "acme")
	recs[2900].Attributes["bad"] = complex(1, 2)
	n, err := s.Insert(ctx, "acme", recs)
	require.ErrorIs(t, err, store.ErrInvalidRecord)
	require.ErrorContains(t, err, "record 2900")
	require.Zero(t, n)

	d, err := s.dialect(ctx)
	require.NoError(t, err)
	var rows uint64
	require.NoError(t, s.conn.QueryRow(ctx, "SELECT count() FROM "+d.logs()).Scan(&rows))
	require.Zero(t, rows, "rows of a batch refused as invalid")
}

func TestInsert_ARecordThatCannotBeStoredFailsItsBatchBeforeAnyBlockLeaves(t *testing.T) {
	checkLateInvalidRecord(t, openTestStore(t, func(c *Config) { c.Chain = false }))
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
