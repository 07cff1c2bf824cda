package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// OpenInsertionLog returns a new, empty, migrated store that lists its insertions.
type OpenInsertionLog func(t *testing.T) store.InsertionLog

// RunInsertionLog runs the contract of store.InsertionLog: what a fleet's live tail relies on.
func RunInsertionLog(t *testing.T, open OpenInsertionLog) {
	t.Run("RecordsComeBackInWriteOrderStampedWhenWritten", func(t *testing.T) { testInsertionOrder(t, open) })
	t.Run("AKeysetWalkSeesEveryRecordOnce", func(t *testing.T) { testInsertionWalk(t, open) })
	t.Run("NothingIsListedAfterTheLastWrite", func(t *testing.T) { testInsertionNothingAfter(t, open) })
}

func testInsertionOrder(t *testing.T, open OpenInsertionLog) {
	s := open(t)
	before := time.Now()
	// Timestamps run backwards against write order: the log must follow writes, not timestamps.
	mustInsert(t, s, "acme", simpleRecords("b", "acme", 3, -time.Minute))
	mid := time.Now()
	time.Sleep(2 * time.Millisecond) // two batches, two distinct stamps even on a coarse clock
	mustInsert(t, s, "globex", simpleRecords("a", "globex", 2, time.Minute))
	after := time.Now()

	got, err := s.InsertedAfter(ctx(t), store.Position{At: before.Add(-time.Second)}, 100)
	require.NoError(t, err)
	require.Len(t, got, 5, "every record written since before the first batch")
	for i, in := range got {
		assert.Falsef(t, in.InsertedAt.Before(before.Add(-time.Millisecond)) || in.InsertedAt.After(after.Add(time.Millisecond)),
			"record %d (%s) stamped %s, outside its write [%s, %s]", i, in.Record.ID, in.InsertedAt, before, after)
		wantTenant := "acme"
		if i >= 3 {
			wantTenant = "globex"
			assert.Falsef(t, in.InsertedAt.Before(mid), "record %d of the second batch stamped %s, before the first batch returned (%s)", i, in.InsertedAt, mid)
		}
		assert.Equalf(t, wantTenant, in.Record.TenantID, "record %d (%s) out of write order", i, in.Record.ID)
		if i > 0 {
			prev := got[i-1]
			assert.Falsef(t, in.InsertedAt.Before(prev.InsertedAt), "record %d written before record %d", i, i-1)
			if in.InsertedAt.Equal(prev.InsertedAt) && in.Record.TenantID == prev.Record.TenantID {
				assert.Lessf(t, prev.Record.ID, in.Record.ID, "records of one stamp are in id order")
			}
		}
	}
	// Whole records, so a follower can publish them as they are.
	full, err := s.Get(ctx(t), got[0].Record.TenantID, got[0].Record.ID)
	require.NoError(t, err)
	assert.Empty(t, RecordDiff(full, got[0].Record), "the listed record differs from Get's")
}

func testInsertionWalk(t *testing.T, open OpenInsertionLog) {
	s := open(t)
	start := time.Now().Add(-time.Second)
	mustInsert(t, s, "acme", simpleRecords("x", "acme", 7, time.Second))
	mustInsert(t, s, "globex", simpleRecords("x", "globex", 4, time.Second))

	seen := map[string]int{}
	p := store.Position{At: start}
	for range 20 {
		page, err := s.InsertedAfter(ctx(t), p, 3)
		require.NoError(t, err)
		for _, in := range page {
			seen[in.Record.TenantID+"/"+in.Record.ID]++
		}
		if len(page) < 3 {
			break
		}
		p = store.PositionOf(page[len(page)-1])
	}
	assert.Len(t, seen, 11, "records seen by the walk")
	for k, n := range seen {
		assert.Equalf(t, 1, n, "%s seen %d times", k, n)
	}
}

func testInsertionNothingAfter(t *testing.T, open OpenInsertionLog) {
	s := open(t)
	mustInsert(t, s, "acme", simpleRecords("z", "acme", 2, time.Second))
	all, err := s.InsertedAfter(ctx(t), store.Position{At: time.Now().Add(-time.Minute)}, 10)
	require.NoError(t, err)
	require.Len(t, all, 2)
	rest, err := s.InsertedAfter(ctx(t), store.PositionOf(all[1]), 10)
	require.NoError(t, err)
	assert.Empty(t, rest, "records after the last one")
	later, err := s.InsertedAfter(ctx(t), store.Position{At: time.Now().Add(time.Second)}, 10)
	require.NoError(t, err)
	assert.Empty(t, later, "records after a time past every write")
}
