package clickhousestore

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// chTamper changes the tables with ClickHouse statements, as anyone with write access to the
// database could: ClickHouse has no UPDATE of a row, so edits are a newer row version or a
// mutation, and deletes are mutations.
type chTamper struct{}

func tamperCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// writeRow writes r as a raw row of the logs table with the given insert_version, through the
// same native block Insert sends, but without Insert's checks or links.
func writeRow(t *testing.T, s *Store, r record.Record, version uint64) {
	t.Helper()
	ctx := tamperCtx(t)
	d, err := s.dialect(ctx)
	require.NoError(t, err)
	row, _, err := d.encodeRecord(&r, r.TenantID, version)
	require.NoError(t, err)
	batch, err := s.conn.PrepareBatch(ctx, d.insertSQL())
	require.NoError(t, err)
	require.NoError(t, batch.Append(row...))
	require.NoError(t, batch.Send())
}

// mutate runs an ALTER TABLE mutation and waits until the server has applied it.
func mutate(t *testing.T, s *Store, table, sql string) {
	t.Helper()
	ctx := tamperCtx(t)
	require.NoErrorf(t, s.conn.Exec(ctx, sql), "%s", sql)
	d, _ := s.dialect(ctx)
	pending := "SELECT count() FROM system.mutations WHERE database = " + quoteString(d.db) +
		" AND table = " + quoteString(table) + " AND is_done = 0"
	for {
		var n uint64
		require.NoError(t, s.conn.QueryRow(ctx, pending).Scan(&n))
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			require.FailNowf(t, "mutation still pending", "%s: %v", sql, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// EditRecord writes the record again with another message and a version above any Insert
// gives: ReplacingMergeTree, and FINAL before any merge, then keep the edited row.
func (chTamper) EditRecord(t *testing.T, cs store.ChainStore, id string) {
	s := cs.(*Store)
	r, err := s.Get(tamperCtx(t), "acme", id)
	require.NoError(t, err)
	r.Message = "edited"
	writeRow(t, s, r, math.MaxUint64)
	got, err := s.Get(tamperCtx(t), "acme", id)
	require.NoError(t, err, "after the edit, Get")
	require.Equal(t, "edited", got.Message, "after the edit, Get: the store must read the edited row")
}

func (chTamper) DeleteRecord(t *testing.T, cs store.ChainStore, id string) {
	s := cs.(*Store)
	mutate(t, s, s.cfg.Table, "ALTER TABLE "+dialectOf(t, s).logs()+" DELETE WHERE id = "+quoteString(id))
	_, err := s.Get(tamperCtx(t), "", id)
	require.ErrorIs(t, err, store.ErrNotFound, "after the delete, Get")
}

// InsertRecord writes a row as Insert would (a current insert_version), without a link.
func (chTamper) InsertRecord(t *testing.T, cs store.ChainStore, r record.Record) {
	writeRow(t, cs.(*Store), r, insertVersion(time.Now()))
}

// SwapLinks rewrites the two link rows in place (ALTER TABLE ... UPDATE of every column but
// the key), so each seq now carries the other's record, timestamp, level and hashes.
func (chTamper) SwapLinks(t *testing.T, cs store.ChainStore, tenant string, a, b uint64) {
	s := cs.(*Store)
	la, lb := linkAt(t, s, tenant, a), linkAt(t, s, tenant, b)
	set := func(to uint64, l chain.Link) {
		mutate(t, s, s.cfg.Table+"_chain", fmt.Sprintf("ALTER TABLE %s UPDATE record_id = %s, timestamp = toInt64(%d), level = toUInt8(%d), record_hash = %s, hash = %s WHERE tenant_id = %s AND seq = %d",
			dialectOf(t, s).chain(), quoteString(l.RecordID), encodedNanos(l.Timestamp), l.Level, hashLiteral(l.RecordHash[:]), hashLiteral(l.Hash[:]), quoteString(tenant), to))
	}
	set(a, lb)
	set(b, la)
	got := linkAt(t, s, tenant, a)
	require.Equal(t, lb.RecordID, got.RecordID, "after the swap, seq %d holds the wrong record", a)
	require.Equal(t, lb.Hash, got.Hash, "after the swap, seq %d holds record %s, want %s", a, got.RecordID, lb.RecordID)
}

func dialectOf(t *testing.T, s *Store) dialect {
	t.Helper()
	d, err := s.dialect(tamperCtx(t))
	require.NoError(t, err)
	return d
}

func linkAt(t *testing.T, s *Store, tenant string, seq uint64) chain.Link {
	t.Helper()
	var out []chain.Link
	err := s.ChainLinks(tamperCtx(t), tenant, seq, seq, func(l chain.Link, _ *record.Record) error {
		out = append(out, l)
		return nil
	})
	require.NoError(t, err, "link %d of %s", seq, tenant)
	require.Len(t, out, 1, "link %d of %s", seq, tenant)
	return out[0]
}

func TestStore_KeepsATamperEvidentChainOnARealServer(t *testing.T) {
	serverAddr(t)
	storetest.RunChain(t, func(t *testing.T) store.ChainStore { return openTestStore(t, nil) }, chTamper{})
}

func chainTestRecords(prefix string, n int) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = record.Record{
			ID: fmt.Sprintf("%s-%03d", prefix, i), TenantID: "acme", Level: record.Levels[i%len(record.Levels)],
			Timestamp: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
			Event:     "chain.replay", Message: fmt.Sprintf("record %d", i),
		}
	}
	return out
}

func verifyAcme(t *testing.T, s *Store) chain.Report {
	t.Helper()
	rep, err := chain.Verify(tamperCtx(t), s, nil, "acme", chain.Range{})
	require.NoError(t, err)
	return rep
}

// A crash after Insert wrote the rows and before it wrote their links leaves rows that verify
// reports as written around the collector; the exporter's replay of the batch links exactly
// them, once, in batch order, and a second replay changes nothing.
func TestStore_AReplayAfterACrashBetweenRowsAndLinksLinksEachRecordOnce(t *testing.T) {
	s := openTestStore(t, nil)
	ctx := tamperCtx(t)
	recs := chainTestRecords("r", 40)
	_, err := s.Insert(ctx, "acme", recs[:10])
	require.NoError(t, err)
	// The crashed attempt: rows 10..29 written as Insert writes them, links never.
	for _, r := range recs[10:30] {
		writeRow(t, s, r, insertVersion(time.Now()))
	}
	before := verifyAcme(t, s)
	require.False(t, before.OK, "before the replay: %+v; want %s reported as written outside the chain", before.FirstBroken, recs[10].ID)
	require.Equal(t, chain.ReasonUnchainedRecord, before.FirstBroken.Reason, "before the replay: %+v; want %s reported as written outside the chain", before.FirstBroken, recs[10].ID)
	require.Equal(t, recs[10].ID, before.FirstBroken.RecordID, "before the replay: %+v; want %s reported as written outside the chain", before.FirstBroken, recs[10].ID)
	// The replay carries the crashed batch and new records.
	for range 2 {
		_, err := s.Insert(ctx, "acme", recs[10:])
		require.NoError(t, err)
	}
	rep := verifyAcme(t, s)
	require.True(t, rep.OK, "after the replays: %+v; want OK over 40 records", rep)
	require.Equal(t, 40, rep.Records, "after the replays: %+v; want OK over 40 records", rep)
	var order []string
	require.NoError(t, s.ChainLinks(ctx, "acme", 1, 100, func(l chain.Link, _ *record.Record) error {
		order = append(order, l.RecordID)
		return nil
	}))
	require.Equal(t, strings.Join(idsOf(recs), ","), strings.Join(order, ","), "chain order, want the batch order")
}

// A write of links that fails on the client may still have landed on the server. The store
// then forgets its cached head: the replay finds the rows stored and already linked, links
// only what is new, and continues from the head the server has.
func TestStore_AReplayAfterAFailedLinkWriteThatLandedLinksOnlyWhatIsNew(t *testing.T) {
	s := openTestStore(t, nil)
	ctx := tamperCtx(t)
	recs := chainTestRecords("h", 30)
	_, err := s.Insert(ctx, "acme", recs[:10])
	require.NoError(t, err)
	// The failed attempt of recs[10:20]: rows and links written, the client told otherwise.
	head, err := s.ChainHead(ctx, "acme")
	require.NoError(t, err, "head")
	require.EqualValues(t, 10, head.Seq, "head")
	for _, r := range recs[10:20] {
		writeRow(t, s, r, insertVersion(time.Now()))
	}
	require.NoError(t, s.writeLinks(ctx, dialectOf(t, s), chain.NextAll(head, recs[10:20])))
	st := s.tenantState("acme")
	st.mu.Lock()
	st.headKnown = false // what linkBatch does when the write of links fails
	st.mu.Unlock()

	_, err = s.Insert(ctx, "acme", recs[10:])
	require.NoError(t, err)
	rep := verifyAcme(t, s)
	require.True(t, rep.OK, "%+v; want OK over 30 records, each linked once", rep)
	require.Equal(t, 30, rep.Records, "%+v; want OK over 30 records, each linked once", rep)
}

// Two writers of one tenant (two collectors, or two stores on one database) each append after
// the head they know: the chain forks, and verify reports it at the first shared seq.
func TestStore_TwoWritersOfATenantForkItsChainAndVerifySaysWhere(t *testing.T) {
	a := openTestStore(t, nil)
	cfg := a.cfg
	b, err := Open(tamperCtx(t), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	ctx := tamperCtx(t)
	recs := chainTestRecords("f", 12)
	_, err = a.Insert(ctx, "acme", recs[:5])
	require.NoError(t, err)
	_, err = b.Insert(ctx, "acme", recs[5:8]) // b reads head 5
	require.NoError(t, err)
	_, err = a.Insert(ctx, "acme", recs[8:]) // a still believes head 5
	require.NoError(t, err)
	rep := verifyAcme(t, a)
	require.False(t, rep.OK, "%+v; want the fork found at seq 6", rep.FirstBroken)
	require.EqualValues(t, 6, rep.FirstBroken.Seq, "%+v; want the fork found at seq 6", rep.FirstBroken)
	require.Contains(t, []string{chain.ReasonLinkDuplicated, chain.ReasonLinkAltered}, rep.FirstBroken.Reason, "fork reported as")
}

// Rows written before chaining began are history the chain does not cover: verify does not
// report them, but a row written after is reported even with no chained record of its tenant.
func TestStore_UnchainedCoversRowsWrittenSinceChainingBegan(t *testing.T) {
	plain := openTestStore(t, func(c *Config) { c.Chain = false })
	ctx := tamperCtx(t)
	recs := chainTestRecords("u", 6)
	_, err := plain.Insert(ctx, "acme", recs[:2])
	require.NoError(t, err)
	ids, err := plain.Unchained(ctx, "acme", 10)
	require.NoError(t, err, "Unchained before chaining began")
	require.Empty(t, ids, "Unchained before chaining began, want none")
	chained, err := Open(ctx, plain.cfg.withChain())
	require.NoError(t, err)
	t.Cleanup(func() { _ = chained.Close() })
	_, err = chained.Insert(ctx, "acme", recs[2:4])
	require.NoError(t, err)
	rep := verifyAcme(t, chained)
	require.True(t, rep.OK, "%+v; want OK over the 2 chained records, the 2 older ones not required", rep)
	require.Equal(t, 2, rep.Records, "%+v; want OK over the 2 chained records, the 2 older ones not required", rep)
	// The chain off again: its rows are outside the chain.
	_, err = plain.Insert(ctx, "acme", recs[4:5])
	require.NoError(t, err)
	ids, err = chained.Unchained(ctx, "acme", 10)
	require.NoError(t, err, "Unchained")
	require.Equal(t, recs[4].ID, strings.Join(ids, ","), "Unchained")
	// Another tenant with no chain at all.
	other := recs[5]
	other.TenantID = "globex"
	writeRow(t, chained, other, insertVersion(time.Now()))
	ids, err = chained.Unchained(ctx, "globex", 10)
	require.NoError(t, err, "Unchained(globex)")
	require.Equal(t, other.ID, strings.Join(ids, ","), "Unchained(globex)")
}

func (c Config) withChain() Config {
	c.Chain = true
	return c
}

// A record whose timestamp is changed (deleted, then written back at another instant) is
// outside its link's lookup span: its link reads it as deleted, and the moved row is reported
// as written outside the chain.
func TestStore_ARecordMovedInTimeIsFound(t *testing.T) {
	s := openTestStore(t, nil)
	ctx := tamperCtx(t)
	recs := chainTestRecords("m", 5)
	_, err := s.Insert(ctx, "acme", recs)
	require.NoError(t, err)
	chTamper{}.DeleteRecord(t, s, recs[2].ID)
	moved := recs[2]
	moved.Timestamp = moved.Timestamp.Add(24 * time.Hour)
	writeRow(t, s, moved, insertVersion(time.Now()))
	rep := verifyAcme(t, s)
	require.False(t, rep.OK, "%+v; want seq 3 reported", rep.FirstBroken)
	require.EqualValues(t, 3, rep.FirstBroken.Seq, "%+v; want seq 3 reported", rep.FirstBroken)
	require.Equal(t, chain.ReasonRecordDeleted, rep.FirstBroken.Reason, "%+v; want seq 3 reported", rep.FirstBroken)
	ids, err := s.Unchained(ctx, "acme", 10)
	require.NoError(t, err, "Unchained")
	require.Equal(t, moved.ID, strings.Join(ids, ","), "Unchained, want the moved row")
}

// ChainLinks pages 1000 links at a time: links sharing a seq at a page's end must reach verify
// together, on the next page.
func TestStore_ChainLinksKeepsAForkAcrossAPageBoundaryTogether(t *testing.T) {
	s := openTestStore(t, nil)
	ctx := tamperCtx(t)
	recs := make([]record.Record, chainLinksPage)
	for i := range recs {
		recs[i] = record.Record{ID: fmt.Sprintf("p-%04d", i), TenantID: "acme", Level: record.LevelInfo,
			Timestamp: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)}
	}
	_, err := s.Insert(ctx, "acme", recs)
	require.NoError(t, err)
	// A second link at seq 1000, the last of the first page.
	l := linkAt(t, s, "acme", chainLinksPage)
	l.RecordID, l.Hash[0] = "p-fork", l.Hash[0]^0xff
	d, _ := s.dialect(ctx)
	require.NoError(t, s.writeLinks(ctx, d, []chain.Link{l}))
	var seqs []uint64
	require.NoError(t, s.ChainLinks(ctx, "acme", 1, math.MaxUint64, func(l chain.Link, _ *record.Record) error {
		seqs = append(seqs, l.Seq)
		return nil
	}))
	n := len(seqs)
	require.Len(t, seqs, chainLinksPage+1, "ChainLinks returned %d links ending %v; want both links of seq %d", n, seqs[max(0, n-3):], chainLinksPage)
	require.EqualValues(t, chainLinksPage, seqs[n-1], "ChainLinks returned links ending %v; want both links of seq %d", seqs[n-3:], chainLinksPage)
	require.EqualValues(t, chainLinksPage, seqs[n-2], "ChainLinks returned links ending %v; want both links of seq %d", seqs[n-3:], chainLinksPage)
	rep := verifyAcme(t, s)
	require.False(t, rep.OK, "%+v; want the fork at seq %d", rep.FirstBroken, chainLinksPage)
	require.EqualValues(t, chainLinksPage, rep.FirstBroken.Seq, "%+v; want the fork at seq %d", rep.FirstBroken, chainLinksPage)
}

// A database of schema version 1 (no chain tables) is upgraded by Migrate, and refused
// without create_schema rather than failing at the first chained insert.
func TestMigrate_AddsTheChainTablesToAVersion1Database(t *testing.T) {
	s := openTestStore(t, nil)
	ctx := tamperCtx(t)
	d, _ := s.dialect(ctx)
	for _, table := range []string{d.chain(), d.checkpoints(), d.chainStart()} {
		require.NoError(t, s.conn.Exec(ctx, "DROP TABLE "+table))
	}
	// The schema table as version 1 left it.
	for _, sql := range []string{"DROP TABLE " + d.meta(), d.createMeta()} {
		require.NoError(t, s.conn.Exec(ctx, sql))
	}
	batch, err := s.conn.PrepareBatch(ctx, d.recordVersionSQL())
	require.NoError(t, err)
	require.NoError(t, batch.Append(uint32(1), d.mode.String(), time.Now().UTC().Truncate(time.Second)))
	require.NoError(t, batch.Send())

	noCreate := s.cfg
	noCreate.CreateSchema = false
	_, err = Open(ctx, noCreate)
	require.ErrorContains(t, err, "schema version 1", "Open without create_schema on a version 1 database; want a refusal naming the version")
	upgraded, err := Open(ctx, s.cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = upgraded.Close() })
	_, err = upgraded.Insert(ctx, "acme", chainTestRecords("v", 3))
	require.NoError(t, err)
	rep := verifyAcme(t, upgraded)
	require.True(t, rep.OK, "%+v", rep)
	require.Equal(t, 3, rep.Records, "%+v", rep)
	rs, found, err := upgraded.recordedSchema(ctx, d)
	require.NoError(t, err, "recorded schema")
	require.True(t, found, "recorded schema %+v not found", rs)
	require.EqualValues(t, schemaVersion, rs.version, "recorded schema %+v", rs)
}

func idsOf(recs []record.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}
