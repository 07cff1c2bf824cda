package sqlitestore

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// tinyPartitions is small enough that every contract test crosses partition boundaries.
const tinyPartitions = 7

func partitionedConfig(dir string, maxRows int64) Config {
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(dir, "audit.db")
	cfg.PartitionMaxRows = maxRows
	cfg.WriterCacheSizeKiB = 0 // many small files: no need for the large cache in tests
	return cfg
}

func openPartitioned(t testing.TB, dir string, maxRows int64) *Partitioned {
	t.Helper()
	p, err := OpenPartitioned(context.Background(), partitionedConfig(dir, maxRows))
	require.NoError(t, err, "OpenPartitioned")
	t.Cleanup(func() { assert.NoError(t, p.Close(), "Close") })
	return p
}

func (p *Partitioned) partitionCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parts) - 1
}

func TestPartitioned_PassesTheContractWithTinyPartitions(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openPartitioned(t, t.TempDir(), tinyPartitions) })
}

// partTamper edits the partition files with plain SQL, as anyone holding them could.
type partTamper struct{}

func (partTamper) each(t *testing.T, s store.ChainStore, query string, args ...any) {
	t.Helper()
	p := s.(*Partitioned)
	parts, release, err := p.snapshot(context.Background())
	require.NoError(t, err)
	defer release()
	changed := int64(0)
	for _, v := range parts {
		res, err := v.st.write.Exec(query, args...)
		require.NoErrorf(t, err, "%s", query)
		n, _ := res.RowsAffected()
		changed += n
	}
	require.NotZero(t, changed, "%s %v changed no row", query, args)
}

func (x partTamper) EditRecord(t *testing.T, s store.ChainStore, id string) {
	x.each(t, s, `UPDATE audit_logs SET message = 'edited' WHERE id = ?`, id)
}

func (x partTamper) DeleteRecord(t *testing.T, s store.ChainStore, id string) {
	x.each(t, s, `DELETE FROM audit_logs WHERE id = ?`, id)
}

func (partTamper) InsertRecord(t *testing.T, s store.ChainStore, r record.Record) {
	args, err := encodeRecord(nil, &r, r.TenantID)
	require.NoError(t, err)
	parts, release, err := s.(*Partitioned).snapshot(context.Background())
	require.NoError(t, err)
	defer release()
	_, err = parts[len(parts)-1].st.write.Exec(insertSQL(1, false), args...)
	require.NoError(t, err)
}

func TestPartitioned_KeepsOneTamperEvidentChainAcrossPartitions(t *testing.T) {
	storetest.RunChain(t, func(t *testing.T) store.ChainStore { return openPartitioned(t, t.TempDir(), tinyPartitions) },
		partTamper{})
}

// SwapLinks swaps the links in the partition that holds both (a seed repeats only a head).
func (partTamper) SwapLinks(t *testing.T, s store.ChainStore, tenant string, a, b uint64) {
	parts, release, err := s.(*Partitioned).snapshot(context.Background())
	require.NoError(t, err)
	defer release()
	for _, v := range parts {
		var n int
		require.NoError(t, v.st.write.QueryRow(`SELECT count(*) FROM audit_chain WHERE tenant_id = ? AND seq IN (?, ?)`, tenant, a, b).Scan(&n))
		if n == 2 {
			db := v.st.write
			x := sqlTamper{db: func(*testing.T, store.ChainStore, string) *sql.DB { return db }}
			x.SwapLinks(t, s, tenant, a, b)
			return
		}
	}
	t.Fatalf("no partition holds links %d and %d of %q", a, b, tenant)
}

func seqRecords(prefix, tenant string, n int, start time.Time, step time.Duration) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = record.Record{ID: fmt.Sprintf("%s-%05d", prefix, i), TenantID: tenant, Timestamp: start.Add(time.Duration(i) * step),
			Level: record.Levels[i%len(record.Levels)], Event: "e", UserID: fmt.Sprintf("u%d", i%3), Message: "hello partition"}
	}
	return out
}

func mustInsertP(t *testing.T, s store.Store, tenant string, recs []record.Record) int {
	t.Helper()
	n, err := s.Insert(context.Background(), tenant, recs)
	require.NoError(t, err)
	return n
}

// A partition is sealed once it holds partition_max_rows rows; the batch that finds it full
// goes to a new file, so no partition exceeds the bound by more than one batch.
func TestPartitioned_RollsOverWhenTheActivePartitionIsFull(t *testing.T) {
	p := openPartitioned(t, t.TempDir(), 100)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	recs := seqRecords("r", "acme", 1000, base, time.Second)
	for i := 0; i < len(recs); i += 30 {
		mustInsertP(t, p, "acme", recs[i:min(len(recs), i+30)])
	}
	parts, release, err := p.snapshot(context.Background())
	require.NoError(t, err)
	defer release()
	require.Len(t, parts, 1+9, "base + partitions of 120 rows (4 batches of 30) for 1000 rows")
	total := 0
	for _, v := range parts[1:] {
		var n int
		require.NoError(t, v.st.read.QueryRow(`SELECT count(*) FROM audit_logs`).Scan(&n))
		assert.LessOrEqual(t, n, 100+30-1+1, "%s holds %d rows", v.path, n)
		total += n
	}
	assert.Equal(t, 1000, total)
}

// A sealed partition takes no inserts, so its writer's connection (and the page cache it
// filled) is closed within seconds of the seal, not after sealedIdleTime like its readers:
// in a soak at 80% of the ceiling (50,000-row partitions sealed every 6 s) the sealed writers
// kept 53 MB of SQLite's memory.
func TestPartitioned_ClosesASealedPartitionsWriterSoonAfterTheSeal(t *testing.T) {
	p := openPartitioned(t, t.TempDir(), 100)
	require.Equal(t, time.Minute, sealedIdleTime, "readers of sealed partitions idle out after a minute")
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	recs := seqRecords("r", "acme", 300, base, time.Second)
	for i := 0; i < len(recs); i += 30 {
		mustInsertP(t, p, "acme", recs[i:i+30])
	}
	parts, release, err := p.snapshot(context.Background())
	require.NoError(t, err)
	defer release()
	require.Greater(t, len(parts), 2, "base + at least two partitions")
	sealed := parts[1 : len(parts)-1]
	require.Eventually(t, func() bool {
		for _, v := range sealed {
			if v.st.write.Stats().OpenConnections > 0 {
				return false
			}
		}
		return true
	}, 5*time.Second, 100*time.Millisecond, "the writers of sealed partitions are still open")
	// The partition still takes writes (retention deletes): a new connection is opened.
	var n int
	require.NoError(t, sealed[0].st.write.QueryRow(`SELECT count(*) FROM audit_logs`).Scan(&n))
	assert.Positive(t, n)
	assert.Positive(t, parts[len(parts)-1].st.write.Stats().OpenConnections, "the active partition keeps its writer")
}

// The readers of sealed partitions map the file (sealed_mmap_size), including the connections
// a partition had open when it was sealed; the active partition and every writer do not, and a
// reopened store maps the same files.
func TestPartitioned_ReadersOfSealedPartitionsMapTheFile(t *testing.T) {
	dir := t.TempDir()
	p := openPartitioned(t, dir, 100)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	recs := seqRecords("r", "acme", 300, base, time.Second)
	mustInsertP(t, p, "acme", recs[:60])
	// Open every reader of the active partition before it is sealed.
	first := p.active().st
	require.Equal(t, []int64{0}, mmapSizes(t, first.read), "an active partition's readers")
	for i := 60; i < len(recs); i += 30 {
		mustInsertP(t, p, "acme", recs[i:i+30])
	}
	check := func(p *Partitioned) {
		parts, release, err := p.snapshot(context.Background())
		require.NoError(t, err)
		defer release()
		require.Greater(t, len(parts), 2, "base + at least two partitions")
		for _, v := range parts[:len(parts)-1] {
			assert.Equal(t, []int64{DefaultSealedMmapSize}, mmapSizes(t, v.st.read), "readers of sealed %s", v.st.cfg.Path)
			assert.Equal(t, []int64{0}, mmapSizes(t, v.st.write), "writer of sealed %s", v.st.cfg.Path)
		}
		active := parts[len(parts)-1].st
		assert.Equal(t, []int64{0}, mmapSizes(t, active.read), "readers of the active partition")
		assert.Equal(t, []int64{0}, mmapSizes(t, active.write), "writer of the active partition")
	}
	check(p)
	require.NoError(t, p.Close())
	cfg := DefaultConfig()
	cfg.Path, cfg.PartitionMaxRows = p.cfg.Path, 100
	reopened, err := OpenPartitioned(context.Background(), cfg)
	require.NoError(t, err)
	defer reopened.Close()
	check(reopened)
}

// mmapSizes returns the distinct mmap_size of db's connections, holding all of them at once so
// that each is asked.
func mmapSizes(t *testing.T, db *sql.DB) []int64 {
	t.Helper()
	ctx := context.Background()
	n := max(1, db.Stats().MaxOpenConnections)
	var sizes []int64
	for range n {
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		defer conn.Close()
		var size int64
		require.NoError(t, conn.QueryRowContext(ctx, `PRAGMA mmap_size`).Scan(&size))
		if !slices.Contains(sizes, size) {
			sizes = append(sizes, size)
		}
	}
	return sizes
}

// A replay of records the previous partition holds (the exporter replays its WAL after a
// crash) is ignored, as a single file ignores it.
func TestPartitioned_ReplaysOfRecordsInSealedPartitionsAreIgnored(t *testing.T) {
	p := openPartitioned(t, t.TempDir(), 10)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	recs := seqRecords("r", "acme", 40, base, time.Second)
	require.Equal(t, 15, mustInsertP(t, p, "acme", recs[:15]))
	require.Equal(t, 15, mustInsertP(t, p, "acme", recs[15:30]))
	// Records 5..29 are in the first two partitions; 30..39 are new.
	require.Equal(t, 10, mustInsertP(t, p, "acme", recs[5:]))
	require.Equal(t, 0, mustInsertP(t, p, "acme", recs))
	// The same ids in another tenant are other records.
	other := slices.Clone(recs)
	for i := range other {
		other[i].TenantID = "globex"
	}
	require.Equal(t, 40, mustInsertP(t, p, "globex", other))
	require.GreaterOrEqual(t, p.partitionCount(), 3)

	page, err := p.Query(context.Background(), store.Filter{TenantID: "acme"}, store.Page{Limit: 1000})
	require.NoError(t, err)
	require.Len(t, page.Records, 40)
	st, err := p.Stats(context.Background(), store.StatsQuery{TenantID: "acme", Start: base, End: base.Add(time.Hour)})
	require.NoError(t, err)
	assert.EqualValues(t, 40, st.Total, "stats count each record once")
	head, err := p.ChainHead(context.Background(), "acme")
	require.NoError(t, err)
	assert.EqualValues(t, 40, head.Seq, "one link per stored record")
	rep, err := chain.Verify(context.Background(), p, nil, "acme", chain.Range{})
	require.NoError(t, err)
	assert.True(t, rep.OK, "%+v", rep)
	assert.Equal(t, 40, rep.Records)
}

// Records arriving out of time order make partitions' ranges overlap: pages must still be
// exact and a walk must see every record once, whatever the page size and filter.
func TestPartitioned_PagesAreExactWhenPartitionRangesOverlap(t *testing.T) {
	p := openPartitioned(t, t.TempDir(), 13)
	rng := rand.New(rand.NewPCG(7, 7))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var all []record.Record
	for b := range 30 {
		batch := make([]record.Record, 1+rng.IntN(9))
		for i := range batch {
			batch[i] = record.Record{ID: fmt.Sprintf("id-%03d-%d", b, i), TenantID: "acme",
				// Mostly increasing, with late records up to an hour old and a few equal times.
				Timestamp: base.Add(time.Duration(b)*10*time.Minute - time.Duration(rng.IntN(7))*10*time.Minute).Truncate(5 * time.Minute),
				Level:     record.Levels[rng.IntN(5)], Event: "e", Message: []string{"alpha", "beta"}[rng.IntN(2)]}
		}
		mustInsertP(t, p, "acme", batch)
		all = append(all, batch...)
	}
	require.Greater(t, p.partitionCount(), 5)
	filters := []store.Filter{
		{},
		{TenantID: "acme", MinLevel: record.LevelWarn},
		{Text: "alpha"},
		{Start: base.Add(time.Hour), End: base.Add(3 * time.Hour)},
	}
	for _, f := range filters {
		var want []record.Record
		for _, r := range all {
			if (f.MinLevel == 0 || r.Level >= f.MinLevel) && (f.Text == "" || r.Message == f.Text) &&
				(f.Start.IsZero() || !r.Timestamp.Before(f.Start)) && (f.End.IsZero() || r.Timestamp.Before(f.End)) {
				want = append(want, r)
			}
		}
		slices.SortFunc(want, newestFirst)
		for _, limit := range []int{1, 4, 17, 1000} {
			var got []string
			pg := store.Page{Limit: limit}
			for range 1000 {
				res, err := p.Query(context.Background(), f, pg)
				require.NoError(t, err)
				for _, r := range res.Records {
					got = append(got, r.ID)
				}
				if res.NextCursor == "" {
					require.NotEmpty(t, res.Records, "an empty page without a next page is only right when nothing matches")
					break
				}
				require.Len(t, res.Records, limit, "a page with a next page is full")
				pg.Cursor = res.NextCursor
			}
			assert.Equal(t, ids(want), got, "filter %+v, limit %d", f, limit)
		}
	}
}

func ids(recs []record.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// Get finds a record in any partition, also when the time in its UUIDv7 id is far from its
// timestamp, and tells an id two tenants hold in different partitions as ambiguous.
func TestPartitioned_GetLooksBeyondThePartitionsTheIDsTimePointsTo(t *testing.T) {
	p := openPartitioned(t, t.TempDir(), 5)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	mustInsertP(t, p, "acme", seqRecords("a", "acme", 6, base, time.Minute))
	// An id minted on 2026-05-01 for a record stamped on 2026-03-01.
	late := record.Record{ID: "01965e2f-7c00-7000-8000-000000000001", TenantID: "acme", Timestamp: base.Add(time.Hour), Level: record.LevelInfo}
	mustInsertP(t, p, "acme", []record.Record{late})
	mustInsertP(t, p, "acme", seqRecords("b", "acme", 6, base.Add(60*24*time.Hour), time.Minute))
	got, err := p.Get(context.Background(), "acme", late.ID)
	require.NoError(t, err)
	assert.Equal(t, late.ID, got.ID)
	_, err = p.Get(context.Background(), "globex", late.ID)
	assert.ErrorIs(t, err, store.ErrNotFound)
	late.TenantID = "globex"
	mustInsertP(t, p, "globex", []record.Record{late})
	_, err = p.Get(context.Background(), "", late.ID)
	assert.ErrorIs(t, err, store.ErrAmbiguousID)
}

// Reopening finds every partition, continues the active one and each tenant's chain, and
// ignores a partition whose making a crash interrupted (it never held a record) until the
// next rollover replaces it.
func TestPartitioned_ReopenIgnoresAnUnfinishedPartitionAndContinues(t *testing.T) {
	dir := t.TempDir()
	cfg := partitionedConfig(dir, 10)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	recs := seqRecords("r", "acme", 60, base, time.Second)
	p, err := OpenPartitioned(context.Background(), cfg)
	require.NoError(t, err)
	for i := 0; i < 30; i += 6 {
		mustInsertP(t, p, "acme", recs[i:i+6])
	}
	next := p.partitionCount() + 1
	require.NoError(t, p.Close())
	// What a crash during the next rollover leaves: the temporary file and its WAL.
	unfinished := filepath.Join(partitionDir(cfg.Path), fmt.Sprintf("p%06d.db", next)+partitionTemp)
	require.NoError(t, os.WriteFile(unfinished, []byte("half a file"), 0o600))
	require.NoError(t, os.WriteFile(unfinished+"-wal", []byte("half a wal"), 0o600))

	p = openPartitioned(t, dir, 10)
	require.Equal(t, next-1, p.partitionCount(), "the unfinished file is not a partition")
	// A replay of everything plus the rest: the rollover makes partition next anew.
	require.Equal(t, 30, mustInsertP(t, p, "acme", recs))
	require.Equal(t, 1, mustInsertP(t, p, "acme", seqRecords("s", "acme", 1, base.Add(time.Hour), time.Second)))
	require.Equal(t, next, p.partitionCount())
	for _, f := range []string{unfinished, unfinished + "-wal"} {
		_, err := os.Stat(f)
		assert.ErrorIs(t, err, os.ErrNotExist, "%s is left", f)
	}
	rep, err := chain.Verify(context.Background(), p, nil, "acme", chain.Range{})
	require.NoError(t, err)
	assert.True(t, rep.OK, "%+v", rep)
	assert.Equal(t, 61, rep.Records)
	page, err := p.Query(context.Background(), store.Filter{}, store.Page{Limit: 1000})
	require.NoError(t, err)
	assert.Len(t, page.Records, 61)
}

// Retention drops a sealed partition whose records are all expired as a whole file, keeps its
// chain links in the base file, and prunes the rest row by row; the chain still verifies with
// the run's checkpoint.
func TestPartitioned_PruneDropsExpiredPartitionsWhole(t *testing.T) {
	dir := t.TempDir()
	p := openPartitioned(t, dir, 10)
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	old := seqRecords("old", "acme", 40, now.Add(-100*24*time.Hour), time.Minute)  // expired
	edge := seqRecords("edge", "acme", 10, now.Add(-31*24*time.Hour), 6*time.Hour) // partly expired
	recent := seqRecords("new", "acme", 10, now.Add(-time.Hour), time.Second)
	for i := 0; i < len(old); i += 10 {
		mustInsertP(t, p, "acme", old[i:i+10])
	}
	mustInsertP(t, p, "acme", edge)
	mustInsertP(t, p, "acme", recent)
	require.Equal(t, 6, p.partitionCount())
	policy := store.RetentionPolicy{Default: 30 * 24 * time.Hour}
	var edgeExpired int64
	for _, r := range edge {
		if r.Timestamp.Before(now.Add(-30 * 24 * time.Hour)) {
			edgeExpired++
		}
	}

	res, err := p.Prune(ctx, policy, now)
	require.NoError(t, err)
	assert.EqualValues(t, 40+edgeExpired, res.Total, "%+v", res)
	assert.Equal(t, 2, p.partitionCount(), "the four expired partitions are dropped")
	files, err := filepath.Glob(filepath.Join(partitionDir(filepath.Join(dir, "audit.db")), "p*.db"))
	require.NoError(t, err)
	assert.Len(t, files, 2, "files left: %v", files)

	page, err := p.Query(ctx, store.Filter{}, store.Page{Limit: 1000})
	require.NoError(t, err)
	assert.Len(t, page.Records, int(10+10-edgeExpired))
	_, err = p.Get(ctx, "acme", old[3].ID)
	assert.ErrorIs(t, err, store.ErrNotFound)

	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	signer := chain.NewSigner(priv)
	_, _, err = store.WriteCheckpoint(ctx, p, signer, "acme", chain.KindPrune, policy.Cutoffs(now), 0, now)
	require.NoError(t, err)
	rep, err := chain.Verify(ctx, p, chain.NewKeyring(signer.PublicKey()), "acme", chain.Range{})
	require.NoError(t, err)
	assert.True(t, rep.OK, "%+v", rep)
	assert.Equal(t, 60, rep.Records)
	assert.EqualValues(t, 40+edgeExpired, rep.Pruned)

	// Inserts and a second run go on as before.
	mustInsertP(t, p, "acme", seqRecords("later", "acme", 5, now, time.Second))
	res, err = p.Prune(ctx, policy, now)
	require.NoError(t, err)
	assert.Zero(t, res.Total)
}

func TestOpenStore_RefusesToOpenAPartitionedStoreAsOneFile(t *testing.T) {
	dir := t.TempDir()
	p := openPartitioned(t, dir, 10)
	require.NoError(t, p.Close())
	cfg := DefaultConfig()
	cfg.Path, cfg.PartitionMaxRows = filepath.Join(dir, "audit.db"), 0
	_, err := OpenStore(context.Background(), cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "partition_max_rows")
	_, err = OpenReadOnly(context.Background(), cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "partition_max_rows")

	cfg.PartitionMaxRows = 10
	st, err := OpenStore(context.Background(), cfg)
	require.NoError(t, err)
	assert.IsType(t, &Partitioned{}, st)
	require.NoError(t, st.Close())
}

// Turning partitions on keeps what the single file holds readable and its chains going.
func TestPartitioned_TurningPartitionsOnKeepsTheSingleFilesRecordsAndChains(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(dir, "audit.db")
	single, err := Open(context.Background(), cfg)
	require.NoError(t, err)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	recs := seqRecords("r", "acme", 30, base, time.Second)
	mustInsertP(t, single, "acme", recs[:20])
	require.NoError(t, single.Close())

	p := openPartitioned(t, dir, 4)
	require.Equal(t, 10, mustInsertP(t, p, "acme", recs), "the 20 records of the single file are replays")
	mustInsertP(t, p, "acme", seqRecords("s", "acme", 5, base.Add(time.Hour), time.Second))
	page, err := p.Query(context.Background(), store.Filter{TenantID: "acme"}, store.Page{Limit: 1000})
	require.NoError(t, err)
	assert.Len(t, page.Records, 35)
	rep, err := chain.Verify(context.Background(), p, nil, "acme", chain.Range{})
	require.NoError(t, err)
	assert.True(t, rep.OK, "%+v", rep)
	assert.Equal(t, 35, rep.Records)
}

// The same records in one file and in many small partitions answer every read alike: stats of
// random ranges and intervals (merged from per-partition counts), traces, and gets.
func TestPartitioned_AnswersAsOneFileDoes(t *testing.T) {
	ctx := context.Background()
	single := openTemp(t)
	p := openPartitioned(t, t.TempDir(), 50)
	rng := rand.New(rand.NewPCG(3, 9))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tenants := []string{"acme", "globex"}
	var all []record.Record
	for b := range 40 {
		tenant := tenants[rng.IntN(2)]
		batch := make([]record.Record, 1+rng.IntN(30))
		for i := range batch {
			batch[i] = record.Record{ID: fmt.Sprintf("%s-%03d-%02d", tenant, b, i), TenantID: tenant,
				Timestamp: base.Add(time.Duration(b)*20*time.Minute + time.Duration(rng.IntN(3600))*time.Second - 30*time.Minute),
				Level:     record.Levels[rng.IntN(5)], Event: fmt.Sprintf("ev%d", rng.IntN(4)), UserID: fmt.Sprintf("u%d", rng.IntN(6)),
				TraceID: fmt.Sprintf("%032x", rng.IntN(20)), Message: "m"}
		}
		mustInsertP(t, single, tenant, batch)
		mustInsertP(t, p, tenant, batch)
		all = append(all, batch...)
	}
	require.Greater(t, p.partitionCount(), 5)
	for i := range 60 {
		start := base.Add(time.Duration(rng.IntN(16*60)) * time.Minute)
		q := store.StatsQuery{TenantID: []string{"", "acme", "globex"}[i%3], Start: start,
			End: start.Add(time.Duration(1+rng.IntN(10*60)) * time.Minute), Top: 1 + rng.IntN(5),
			Interval: []time.Duration{0, time.Minute, 5 * time.Minute, time.Hour}[rng.IntN(4)]}
		want, err := single.Stats(ctx, q)
		require.NoError(t, err)
		got, err := p.Stats(ctx, q)
		require.NoError(t, err)
		require.Equal(t, want, got, "Stats(%+v)", q)
	}
	waitTraceFilters(p) // so that the lookups below use them
	for i := range 20 {
		trace := fmt.Sprintf("%032x", i)
		for _, tenant := range []string{"", "acme"} {
			want, err := single.Trace(ctx, tenant, trace)
			require.NoError(t, err)
			got, err := p.Trace(ctx, tenant, trace)
			require.NoError(t, err)
			require.Equal(t, ids(want), ids(got), "Trace(%q, %q)", tenant, trace)
		}
	}
	for _, r := range all[:50] {
		got, err := p.Get(ctx, r.TenantID, r.ID)
		require.NoError(t, err)
		assert.Equal(t, r.ID, got.ID)
		got, err = p.Get(ctx, "", r.ID)
		require.NoError(t, err)
		assert.Equal(t, r.TenantID, got.TenantID)
	}
}

// Retention dropping partitions while inserts roll over and queries, gets and chain walks
// run: nothing fails, nothing deadlocks, and every record that is not expired stays readable.
func TestPartitioned_DropsWhileInsertsAndReadsRun(t *testing.T) {
	ctx := context.Background()
	p := openPartitioned(t, t.TempDir(), 20)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for b := range 10 {
		mustInsertP(t, p, "acme", seqRecords(fmt.Sprintf("old%d", b), "acme", 10, now.Add(-200*24*time.Hour+time.Duration(b)*time.Hour), time.Second))
	}
	policy := store.RetentionPolicy{Default: 30 * 24 * time.Hour}
	done := make(chan struct{})
	errs := make(chan error, 3)
	go func() { // inserts of recent records, rolling over
		defer close(done)
		for b := range 30 {
			if _, err := p.Insert(ctx, "acme", seqRecords(fmt.Sprintf("new%d", b), "acme", 7, now.Add(time.Duration(b)*time.Minute), time.Second)); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	go func() { // reads
		for {
			select {
			case <-done:
				errs <- nil
				return
			default:
			}
			if _, err := p.Query(ctx, store.Filter{TenantID: "acme"}, store.Page{Limit: 50}); err != nil {
				errs <- err
				return
			}
			if err := p.ChainLinks(ctx, "acme", 1, 1<<62, func(chain.Link, *record.Record) error { return nil }); err != nil {
				errs <- err
				return
			}
		}
	}()
	var removed int64
	for range 5 {
		res, err := p.Prune(ctx, policy, now)
		require.NoError(t, err)
		removed += res.Total
	}
	<-done
	for range 2 {
		require.NoError(t, <-errs)
	}
	res, err := p.Prune(ctx, policy, now)
	require.NoError(t, err)
	removed += res.Total
	assert.EqualValues(t, 100, removed, "every old record removed once")
	page, err := p.Query(ctx, store.Filter{}, store.Page{Limit: 1000})
	require.NoError(t, err)
	assert.Len(t, page.Records, 30*7)
	_, _, err = store.WriteCheckpoint(ctx, p, nil, "acme", chain.KindPrune, policy.Cutoffs(now), 0, now)
	require.NoError(t, err)
	rep, err := chain.Verify(ctx, p, nil, "acme", chain.Range{})
	require.NoError(t, err)
	assert.True(t, rep.OK, "%+v", rep)
	assert.Equal(t, 310, rep.Records, "%+v", rep)
	assert.EqualValues(t, 100, rep.Pruned, "%+v", rep)
}

// A sealed partition takes no more inserts, so it gives back its insert statements (SQL and
// database/sql's bookkeeping, about 11 KB a partition, kept for the process's life before);
// the stats-count statements, which retention runs there, stay.
func TestPartitioned_ASealedPartitionGivesBackItsInsertStatements(t *testing.T) {
	p, parts := sealPartitions(t, 4)
	require.Len(t, parts, 6, "the base file, four full partitions and the active one")
	for _, pt := range parts[1 : len(parts)-1] {
		assert.Zero(t, pt.st.inserts.size(), "insert statements still cached by sealed partition %d", pt.num)
		assert.Positive(t, pt.st.counts.size(), "stats-count statements of sealed partition %d", pt.num)
	}
	assert.Positive(t, parts[len(parts)-1].st.inserts.size(), "the active partition's insert statements")
	assert.Equal(t, 43, countAll(t, p))
}

// sealPartitions fills full partitions of 10 records and starts one more (3 records), and
// returns the store and its partitions: the base file, the full ones and the active one.
func sealPartitions(t *testing.T, full int) (*Partitioned, []*partition) {
	t.Helper()
	p := openPartitioned(t, t.TempDir(), 10)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	recs := seqRecords("r", "acme", 10*full, base, time.Minute)
	for i := 0; i < len(recs); i += 10 {
		mustInsertP(t, p, "acme", recs[i:i+10])
	}
	mustInsertP(t, p, "acme", seqRecords("s", "acme", 3, base.Add(time.Hour), time.Second)) // rolls over once more
	p.mu.Lock()
	defer p.mu.Unlock()
	return p, slices.Clone(p.parts)
}
