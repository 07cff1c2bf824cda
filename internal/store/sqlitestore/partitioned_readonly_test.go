package sqlitestore

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// openFollower opens the store at dir/audit.db read-only, as a query node beside its writer.
func openFollower(t *testing.T, dir string) store.Store {
	t.Helper()
	cfg := partitionedConfig(dir, 0)
	r, err := OpenStoreReadOnly(context.Background(), cfg)
	require.NoError(t, err, "OpenStoreReadOnly")
	t.Cleanup(func() { assert.NoError(t, r.Close(), "Close") })
	return r
}

func countAll(t *testing.T, s store.Store) int {
	t.Helper()
	page, err := s.Query(context.Background(), store.Filter{}, store.Page{Limit: 10_000})
	require.NoError(t, err)
	return len(page.Records)
}

// A read-only query node follows its writer: rollovers made after it opened, records the
// active partition takes later, and partitions the writer's retention drops.
func TestReadOnly_FollowsTheWritersPartitions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := openPartitioned(t, dir, 10)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	old := seqRecords("old", "acme", 30, now.Add(-100*24*time.Hour), time.Minute)
	for i := 0; i < len(old); i += 10 {
		mustInsertP(t, w, "acme", old[i:i+10])
	}
	r := openFollower(t, dir)
	require.Equal(t, 30, countAll(t, r))

	// Newer records: a rollover after the follower opened, then rows in the active partition
	// beyond the time range the follower last read for it.
	recent := seqRecords("new", "acme", 15, now.Add(-time.Hour), time.Second)
	mustInsertP(t, w, "acme", recent[:10])
	mustInsertP(t, w, "acme", recent[10:13])
	require.Equal(t, 43, countAll(t, r), "records of a partition made after the follower opened")
	mustInsertP(t, w, "acme", recent[13:])
	require.Equal(t, 45, countAll(t, r), "records the active partition took after the follower's last read")
	got, err := r.Get(ctx, "acme", recent[14].ID)
	require.NoError(t, err)
	assert.Equal(t, recent[14].ID, got.ID)

	// The writer's retention drops the three expired partitions; the follower lets go of them.
	res, err := w.Prune(ctx, store.RetentionPolicy{Default: 30 * 24 * time.Hour}, now)
	require.NoError(t, err)
	require.EqualValues(t, 30, res.Total)
	assert.Equal(t, 15, countAll(t, r), "records of dropped partitions")
	_, err = r.Get(ctx, "acme", old[0].ID)
	assert.ErrorIs(t, err, store.ErrNotFound)
	f := r.(*Partitioned)
	assert.Equal(t, 2, f.partitionCount(), "partitions the follower holds open")

	_, err = r.Insert(ctx, "acme", seqRecords("x", "acme", 1, now, time.Second))
	assert.ErrorContains(t, err, "read-only")
	_, err = os.Stat(partitionPath(dir, 6))
	assert.ErrorIs(t, err, os.ErrNotExist, "a follower made a partition")
}

// A follower opened on a single file keeps reading it after its writer turns partitions on.
func TestReadOnly_FollowsASingleFileThatTurnsPartitioned(t *testing.T) {
	dir := t.TempDir()
	cfg := partitionedConfig(dir, 0)
	single, err := Open(context.Background(), cfg)
	require.NoError(t, err)
	now := time.Now().UTC()
	mustInsertP(t, single, "acme", seqRecords("one", "acme", 5, now.Add(-time.Hour), time.Second))
	r := openFollower(t, dir)
	require.Equal(t, 5, countAll(t, r))
	mustInsertP(t, single, "acme", seqRecords("two", "acme", 5, now.Add(-time.Minute), time.Second))
	require.Equal(t, 10, countAll(t, r), "rows the single file took after the follower opened")
	require.NoError(t, single.Close())

	w := openPartitioned(t, dir, 4)
	mustInsertP(t, w, "acme", seqRecords("three", "acme", 6, now, time.Second))
	assert.Equal(t, 16, countAll(t, r), "records in the partitions the writer made later")
}

// partitionPath is partition num's file of the store at dir/audit.db.
func partitionPath(dir string, num int) string {
	return (&Partitioned{dir: partitionDir(dir + "/audit.db")}).partPath(num)
}

// Partitions are on by default for a single_database file, and the default has no effect
// where partitions do not apply: one file per tenant, and a private in-memory database.
func TestOpenStore_PartitionsByDefaultWhereTheyApply(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	require.Positive(t, cfg.PartitionMaxRows)
	cfg.Path = t.TempDir() + "/audit.db"
	st, err := OpenStore(ctx, cfg)
	require.NoError(t, err)
	assert.IsType(t, &Partitioned{}, st)
	require.NoError(t, st.Close())

	cfg = DefaultConfig()
	cfg.Tenancy, cfg.Directory = TenancyDatabasePerTenant, t.TempDir()
	st, err = OpenStore(ctx, cfg)
	require.NoError(t, err, "database_per_tenant with the default partition_max_rows")
	assert.IsType(t, &PerTenant{}, st)
	require.NoError(t, st.Close())

	cfg = DefaultConfig()
	cfg.Path = ":memory:"
	st, err = OpenStore(ctx, cfg)
	require.NoError(t, err, ":memory: with the default partition_max_rows")
	assert.IsType(t, &Store{}, st)
	require.NoError(t, st.Close())
}

// A sealed partition's connections close once unused for sealedIdleTime, giving back their
// caches and file descriptors; the active partition's stay; reads open them again.
func TestPartitioned_SealedPartitionsCloseIdleConnections(t *testing.T) {
	defer func(d time.Duration) { sealedIdleTime = d }(sealedIdleTime)
	sealedIdleTime = 50 * time.Millisecond
	dir := t.TempDir()
	w := openPartitioned(t, dir, 10)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	recs := seqRecords("r", "acme", 50, base, time.Minute)
	for i := 0; i < len(recs); i += 10 {
		mustInsertP(t, w, "acme", recs[i:i+10])
	}
	mustInsertP(t, w, "acme", seqRecords("s", "acme", 3, base.Add(time.Hour), time.Second)) // rolls over once more
	r := openFollower(t, dir).(*Partitioned)
	open := func(p *Partitioned) (sealed, active int) {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, pt := range p.parts {
			n := pt.st.read.Stats().OpenConnections
			if pt.st.write != pt.st.read {
				n += pt.st.write.Stats().OpenConnections
			}
			if i == len(p.parts)-1 {
				active += n
			} else {
				sealed += n
			}
		}
		return sealed, active
	}
	for _, p := range []*Partitioned{w, r} {
		require.Equal(t, 53, countAll(t, p))
		sealed, _ := open(p)
		require.Positive(t, sealed, "a read of every partition left no connection open: the test proves nothing")
	}
	require.Eventually(t, func() bool {
		ws, wa := open(w)
		rs, _ := open(r)
		return ws == 0 && rs == 0 && wa > 0
	}, 10*time.Second, 50*time.Millisecond, "connections of sealed partitions stay open, or the writer's active partition lost its own")
	assert.Equal(t, 53, countAll(t, w), "reads after the connections closed")
	assert.Equal(t, 53, countAll(t, r), "reads after the connections closed")
}
