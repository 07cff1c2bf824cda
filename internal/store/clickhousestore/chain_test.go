package clickhousestore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

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
	if err != nil {
		t.Fatal(err)
	}
	row, _, err := d.encodeRecord(&r, r.TenantID, version)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := s.conn.PrepareBatch(ctx, d.insertSQL())
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append(row...); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}

// mutate runs an ALTER TABLE mutation and waits until the server has applied it.
func mutate(t *testing.T, s *Store, table, sql string) {
	t.Helper()
	ctx := tamperCtx(t)
	if err := s.conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	d, _ := s.dialect(ctx)
	pending := "SELECT count() FROM system.mutations WHERE database = " + quoteString(d.db) +
		" AND table = " + quoteString(table) + " AND is_done = 0"
	for {
		var n uint64
		if err := s.conn.QueryRow(ctx, pending).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("mutation %s still pending: %v", sql, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// EditRecord writes the record again with another message and a version above any Insert
// gives: ReplacingMergeTree, and FINAL before any merge, then keep the edited row.
func (chTamper) EditRecord(t *testing.T, cs store.ChainStore, id string) {
	s := cs.(*Store)
	r, err := s.Get(tamperCtx(t), "acme", id)
	if err != nil {
		t.Fatal(err)
	}
	r.Message = "edited"
	writeRow(t, s, r, math.MaxUint64)
	if got, err := s.Get(tamperCtx(t), "acme", id); err != nil || got.Message != "edited" {
		t.Fatalf("after the edit, Get = %q, %v; the store must read the edited row", got.Message, err)
	}
}

func (chTamper) DeleteRecord(t *testing.T, cs store.ChainStore, id string) {
	s := cs.(*Store)
	mutate(t, s, s.cfg.Table, "ALTER TABLE "+dialectOf(t, s).logs()+" DELETE WHERE id = "+quoteString(id))
	if _, err := s.Get(tamperCtx(t), "", id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after the delete, Get = %v; want not found", err)
	}
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
	if got := linkAt(t, s, tenant, a); got.RecordID != lb.RecordID || got.Hash != lb.Hash {
		t.Fatalf("after the swap, seq %d holds record %s, want %s", a, got.RecordID, lb.RecordID)
	}
}

func dialectOf(t *testing.T, s *Store) dialect {
	t.Helper()
	d, err := s.dialect(tamperCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func linkAt(t *testing.T, s *Store, tenant string, seq uint64) chain.Link {
	t.Helper()
	var out []chain.Link
	err := s.ChainLinks(tamperCtx(t), tenant, seq, seq, func(l chain.Link, _ *record.Record) error {
		out = append(out, l)
		return nil
	})
	if err != nil || len(out) != 1 {
		t.Fatalf("link %d of %s: %d links, %v", seq, tenant, len(out), err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// A crash after Insert wrote the rows and before it wrote their links leaves rows that verify
// reports as written around the collector; the exporter's replay of the batch links exactly
// them, once, in batch order, and a second replay changes nothing.
func TestStore_AReplayAfterACrashBetweenRowsAndLinksLinksEachRecordOnce(t *testing.T) {
	s := openTestStore(t, nil)
	ctx := tamperCtx(t)
	recs := chainTestRecords("r", 40)
	if _, err := s.Insert(ctx, "acme", recs[:10]); err != nil {
		t.Fatal(err)
	}
	// The crashed attempt: rows 10..29 written as Insert writes them, links never.
	for _, r := range recs[10:30] {
		writeRow(t, s, r, insertVersion(time.Now()))
	}
	if rep := verifyAcme(t, s); rep.OK || rep.FirstBroken.Reason != chain.ReasonUnchainedRecord || rep.FirstBroken.RecordID != recs[10].ID {
		t.Fatalf("before the replay: %+v; want %s reported as written outside the chain", rep.FirstBroken, recs[10].ID)
	}
	// The replay carries the crashed batch and new records.
	for range 2 {
		if _, err := s.Insert(ctx, "acme", recs[10:]); err != nil {
			t.Fatal(err)
		}
	}
	rep := verifyAcme(t, s)
	if !rep.OK || rep.Records != 40 {
		t.Fatalf("after the replays: %+v; want OK over 40 records", rep)
	}
	var order []string
	if err := s.ChainLinks(ctx, "acme", 1, 100, func(l chain.Link, _ *record.Record) error {
		order = append(order, l.RecordID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(order, ","), strings.Join(idsOf(recs), ","); got != want {
		t.Fatalf("chain order\n%s\nwant the batch order\n%s", got, want)
	}
}

// A write of links that fails on the client may still have landed on the server. The store
// then forgets its cached head: the replay finds the rows stored and already linked, links
// only what is new, and continues from the head the server has.
func TestStore_AReplayAfterAFailedLinkWriteThatLandedLinksOnlyWhatIsNew(t *testing.T) {
	s := openTestStore(t, nil)
	ctx := tamperCtx(t)
	recs := chainTestRecords("h", 30)
	if _, err := s.Insert(ctx, "acme", recs[:10]); err != nil {
		t.Fatal(err)
	}
	// The failed attempt of recs[10:20]: rows and links written, the client told otherwise.
	head, err := s.ChainHead(ctx, "acme")
	if err != nil || head.Seq != 10 {
		t.Fatalf("head %d, %v", head.Seq, err)
	}
	for _, r := range recs[10:20] {
		writeRow(t, s, r, insertVersion(time.Now()))
	}
	if err := s.writeLinks(ctx, dialectOf(t, s), chain.NextAll(head, recs[10:20])); err != nil {
		t.Fatal(err)
	}
	st := s.tenantState("acme")
	st.mu.Lock()
	st.headKnown = false // what linkBatch does when the write of links fails
	st.mu.Unlock()

	if _, err := s.Insert(ctx, "acme", recs[10:]); err != nil {
		t.Fatal(err)
	}
	rep := verifyAcme(t, s)
	if !rep.OK || rep.Records != 30 {
		t.Fatalf("%+v; want OK over 30 records, each linked once", rep)
	}
}

// Two writers of one tenant (two collectors, or two stores on one database) each append after
// the head they know: the chain forks, and verify reports it at the first shared seq.
func TestStore_TwoWritersOfATenantForkItsChainAndVerifySaysWhere(t *testing.T) {
	a := openTestStore(t, nil)
	cfg := a.cfg
	b, err := Open(tamperCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	ctx := tamperCtx(t)
	recs := chainTestRecords("f", 12)
	if _, err := a.Insert(ctx, "acme", recs[:5]); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Insert(ctx, "acme", recs[5:8]); err != nil { // b reads head 5
		t.Fatal(err)
	}
	if _, err := a.Insert(ctx, "acme", recs[8:]); err != nil { // a still believes head 5
		t.Fatal(err)
	}
	rep := verifyAcme(t, a)
	if rep.OK || rep.FirstBroken.Seq != 6 {
		t.Fatalf("%+v; want the fork found at seq 6", rep.FirstBroken)
	}
	if r := rep.FirstBroken.Reason; r != chain.ReasonLinkDuplicated && r != chain.ReasonLinkAltered {
		t.Fatalf("fork reported as %q", r)
	}
}

// Rows written before chaining began are history the chain does not cover: verify does not
// report them, but a row written after is reported even with no chained record of its tenant.
func TestStore_UnchainedCoversRowsWrittenSinceChainingBegan(t *testing.T) {
	plain := openTestStore(t, func(c *Config) { c.Chain = false })
	ctx := tamperCtx(t)
	recs := chainTestRecords("u", 6)
	if _, err := plain.Insert(ctx, "acme", recs[:2]); err != nil {
		t.Fatal(err)
	}
	if ids, err := plain.Unchained(ctx, "acme", 10); err != nil || len(ids) != 0 {
		t.Fatalf("Unchained before chaining began = %v, %v; want none", ids, err)
	}
	chained, err := Open(ctx, plain.cfg.withChain())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = chained.Close() })
	if _, err := chained.Insert(ctx, "acme", recs[2:4]); err != nil {
		t.Fatal(err)
	}
	if rep := verifyAcme(t, chained); !rep.OK || rep.Records != 2 {
		t.Fatalf("%+v; want OK over the 2 chained records, the 2 older ones not required", rep)
	}
	// The chain off again: its rows are outside the chain.
	if _, err := plain.Insert(ctx, "acme", recs[4:5]); err != nil {
		t.Fatal(err)
	}
	if ids, err := chained.Unchained(ctx, "acme", 10); err != nil || strings.Join(ids, ",") != recs[4].ID {
		t.Fatalf("Unchained = %v, %v; want [%s]", ids, err, recs[4].ID)
	}
	// Another tenant with no chain at all.
	other := recs[5]
	other.TenantID = "globex"
	writeRow(t, chained, other, insertVersion(time.Now()))
	if ids, err := chained.Unchained(ctx, "globex", 10); err != nil || strings.Join(ids, ",") != other.ID {
		t.Fatalf("Unchained(globex) = %v, %v; want [%s]", ids, err, other.ID)
	}
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
	if _, err := s.Insert(ctx, "acme", recs); err != nil {
		t.Fatal(err)
	}
	chTamper{}.DeleteRecord(t, s, recs[2].ID)
	moved := recs[2]
	moved.Timestamp = moved.Timestamp.Add(24 * time.Hour)
	writeRow(t, s, moved, insertVersion(time.Now()))
	rep := verifyAcme(t, s)
	if rep.OK || rep.FirstBroken.Seq != 3 || rep.FirstBroken.Reason != chain.ReasonRecordDeleted {
		t.Fatalf("%+v; want seq 3 reported", rep.FirstBroken)
	}
	if ids, err := s.Unchained(ctx, "acme", 10); err != nil || strings.Join(ids, ",") != moved.ID {
		t.Fatalf("Unchained = %v, %v; want the moved row %s", ids, err, moved.ID)
	}
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
	if _, err := s.Insert(ctx, "acme", recs); err != nil {
		t.Fatal(err)
	}
	// A second link at seq 1000, the last of the first page.
	l := linkAt(t, s, "acme", chainLinksPage)
	l.RecordID, l.Hash[0] = "p-fork", l.Hash[0]^0xff
	d, _ := s.dialect(ctx)
	if err := s.writeLinks(ctx, d, []chain.Link{l}); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	if err := s.ChainLinks(ctx, "acme", 1, math.MaxUint64, func(l chain.Link, _ *record.Record) error {
		seqs = append(seqs, l.Seq)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := len(seqs); n != chainLinksPage+1 || seqs[n-1] != chainLinksPage || seqs[n-2] != chainLinksPage {
		t.Fatalf("ChainLinks returned %d links ending %v; want both links of seq %d", n, seqs[max(0, n-3):], chainLinksPage)
	}
	if rep := verifyAcme(t, s); rep.OK || rep.FirstBroken.Seq != chainLinksPage {
		t.Fatalf("%+v; want the fork at seq %d", rep.FirstBroken, chainLinksPage)
	}
}

// A database of schema version 1 (no chain tables) is upgraded by Migrate, and refused
// without create_schema rather than failing at the first chained insert.
func TestMigrate_AddsTheChainTablesToAVersion1Database(t *testing.T) {
	s := openTestStore(t, nil)
	ctx := tamperCtx(t)
	d, _ := s.dialect(ctx)
	for _, table := range []string{d.chain(), d.checkpoints(), d.chainStart()} {
		if err := s.conn.Exec(ctx, "DROP TABLE "+table); err != nil {
			t.Fatal(err)
		}
	}
	// The schema table as version 1 left it.
	for _, sql := range []string{"DROP TABLE " + d.meta(), d.createMeta()} {
		if err := s.conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	batch, err := s.conn.PrepareBatch(ctx, d.recordVersionSQL())
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append(uint32(1), d.mode.String(), time.Now().UTC().Truncate(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}

	noCreate := s.cfg
	noCreate.CreateSchema = false
	if _, err := Open(ctx, noCreate); err == nil || !strings.Contains(err.Error(), "schema version 1") {
		t.Fatalf("Open without create_schema on a version 1 database = %v; want a refusal naming the version", err)
	}
	upgraded, err := Open(ctx, s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = upgraded.Close() })
	if _, err := upgraded.Insert(ctx, "acme", chainTestRecords("v", 3)); err != nil {
		t.Fatal(err)
	}
	if rep := verifyAcme(t, upgraded); !rep.OK || rep.Records != 3 {
		t.Fatalf("%+v", rep)
	}
	rs, found, err := upgraded.recordedSchema(ctx, d)
	if err != nil || !found || rs.version != schemaVersion {
		t.Fatalf("recorded schema %+v, %v, %v; want version %d", rs, found, err, schemaVersion)
	}
}

func idsOf(recs []record.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}
