package sqlitestore

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

func TestStore_CopiesCommittedPagesIntoTheFileWithoutTheWriter(t *testing.T) {
	s := openTemp(t)
	before := fileSize(t, s.cfg.Path)
	gen := storetest.NewLoadgenLike(1, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	for range 3 {
		_, err := s.Insert(context.Background(), "acme", gen.Batch(1000, "acme"))
		require.NoError(t, err)
	}
	// A few thousand pages: far below wal_autocheckpoint (16384), so the writer has copied
	// none of them; only a checkpoint beside it grows the file before Close.
	var frames, copied int
	require.Eventually(t, func() bool {
		return fileSize(t, s.cfg.Path) > before+1<<20
	}, 5*time.Second, 20*time.Millisecond, "the database file stayed at %d bytes: the committed pages are still only in the -wal", fileSize(t, s.cfg.Path))
	require.NoError(t, s.write.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(new(int), &frames, &copied))
	assert.Less(t, frames, 16384, "the writer's own checkpoint would have copied them")
	require.NoError(t, s.Close())
	_, err := os.Stat(s.cfg.Path + "-wal")
	assert.ErrorIs(t, err, os.ErrNotExist, "Close leaves the -wal once the checkpointer is closed first")
}

func TestStore_AStoreNoInsertReachesOpensNoCheckpointer(t *testing.T) {
	s := openTemp(t)
	_, err := s.Query(context.Background(), store.Filter{}, store.Page{Limit: 10})
	require.NoError(t, err)
	s.checkpoints.mu.Lock()
	defer s.checkpoints.mu.Unlock()
	assert.Nil(t, s.checkpoints.db, "a checkpointer connection without a commit")
}

func TestPartitioned_ASealedPartitionStopsItsCheckpointer(t *testing.T) {
	p, parts := sealPartitions(t, 3)
	require.Len(t, parts, 5, "the base file, three full partitions and the active one")
	for _, pt := range parts[:len(parts)-1] {
		c := pt.st.checkpoints
		c.mu.Lock()
		assert.True(t, c.stopped || c.db == nil, "partition %d, which no insert reaches, keeps a checkpointer", pt.num)
		c.mu.Unlock()
	}
	active := parts[len(parts)-1].st.checkpoints
	active.mu.Lock()
	assert.NotNil(t, active.db, "the active partition's checkpointer")
	assert.False(t, active.stopped)
	active.mu.Unlock()
	assert.Equal(t, 33, countAll(t, p))
}
