package storetest

import (
	"crypto/ed25519"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// OpenChain opens an empty store that keeps the tamper-evident chain.
type OpenChain func(t *testing.T) store.ChainStore

// Tamper changes a backend's tables directly, the way someone with database access and
// without the signing key would. Each method fails the test if it cannot.
type Tamper interface {
	// EditRecord changes the stored record's message.
	EditRecord(t *testing.T, s store.ChainStore, id string)
	// DeleteRecord removes the record's row and leaves its chain link.
	DeleteRecord(t *testing.T, s store.ChainStore, id string)
	// InsertRecord writes a record's row without a chain link.
	InsertRecord(t *testing.T, s store.ChainStore, r record.Record)
	// SwapLinks exchanges the records at two positions of the tenant's chain (their link rows
	// keep their seq), so the trail tells them in the other order.
	SwapLinks(t *testing.T, s store.ChainStore, tenant string, a, b uint64)
}

// RunChain is the contract of stores that keep the chain: every stored record is linked once,
// in commit order, per tenant; the chain verifies over every kind of record a store keeps;
// retention leaves it verifiable; and each kind of tampering is found at the right record.
func RunChain(t *testing.T, open OpenChain, tamper Tamper) {
	tests := []struct {
		name string
		run  func(t *testing.T, open OpenChain, tamper Tamper)
	}{
		{"EveryStoredRecordIsLinkedOncePerTenant", testChainLinksOnce},
		{"ChainVerifiesOverEveryShapeOfRecord", testChainRecordShapes},
		{"SignedCheckpointsRoundTrip", testChainCheckpoints},
		{"PruneWithACheckpointKeepsTheChainVerifiable", testChainPrune},
		{"EachKindOfTamperingIsFoundAtItsRecord", testChainTamper},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open, tamper) })
	}
}

func chainRecords(prefix, tenant string, n int, start time.Time) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = record.Record{
			ID:        fmt.Sprintf("%s-%04d", prefix, i),
			Timestamp: start.Add(time.Duration(i) * time.Second), TenantID: tenant,
			Level: record.Levels[i%len(record.Levels)], Event: "chain.test",
			Message: fmt.Sprintf("record %d", i), UserID: fmt.Sprintf("u%d", i%4),
			Attributes: map[string]any{"i": int64(i), "ratio": float64(i) / 4},
		}
	}
	return out
}

func mustVerify(t *testing.T, s store.ChainStore, pub ed25519.PublicKey, tenant string) chain.Report {
	t.Helper()
	rep, err := chain.Verify(ctx(t), s, chain.NewKeyring(pub), tenant, chain.Range{})
	require.NoErrorf(t, err, "Verify(%q)", tenant)
	return rep
}

func newSigner(t *testing.T) *chain.Signer {
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	return chain.NewSigner(priv)
}

func testChainLinksOnce(t *testing.T, open OpenChain, _ Tamper) {
	s := open(t)
	a := chainRecords("a", "acme", 120, base)
	b := chainRecords("b", "globex", 30, base)
	mustInsert(t, s, "acme", a[:70])
	mustInsert(t, s, "globex", b)
	// A replay of stored records plus new ones, and a record twice in one batch.
	mustInsert(t, s, "acme", append(append([]record.Record{}, a[50:]...), a[100]))
	for tenant, want := range map[string]int{"acme": 120, "globex": 30} {
		head, err := s.ChainHead(ctx(t), tenant)
		require.NoError(t, err)
		assert.Equal(t, uint64(want), head.Seq, "%s: chain head seq (one link per stored record)", tenant)
		rep := mustVerify(t, s, nil, tenant)
		assert.True(t, rep.OK, "%s: %+v; want OK over %d records", tenant, rep, want)
		assert.Equal(t, want, rep.Records, "%s: %+v; want OK over %d records", tenant, rep, want)
	}
	// Commit order: acme's links follow the order the records were stored in.
	var order []string
	err := s.ChainLinks(ctx(t), "acme", 1, 1<<62, func(l chain.Link, rec *record.Record) error {
		if assert.NotNil(t, rec, "link %d: no stored record", l.Seq) {
			assert.Equal(t, "acme", rec.TenantID, "link %d: record %v is not acme's stored record", l.Seq, rec)
		}
		order = append(order, l.RecordID)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprint(ids(a)), fmt.Sprint(order), "chain order, want the commit order")
	tenants, err := s.ChainTenants(ctx(t))
	if assert.NoError(t, err, "ChainTenants") {
		assert.Equal(t, "[acme globex]", fmt.Sprint(tenants), "ChainTenants")
	}
}

func testChainRecordShapes(t *testing.T, open OpenChain, _ Tamper) {
	s := open(t)
	odd := FullRecord("0195b4a0-0000-7000-8000-0000000000c1", "acme", base)
	odd.DurationMS = math.NaN()
	odd.Attributes = map[string]any{
		"nan": math.NaN(), "inf": math.Inf(1), "whole": 2.0, "negzero": math.Copysign(0, -1),
		"big": int64(math.MaxInt64), "tiny": 1e-7, "huge": 1e21, "bytes": []byte("raw"),
		"html": "<a href='x'>&</a>", "sep": "\u2028", "nested": map[string]any{"list": []any{1.5, "x", nil, true}},
	}
	odd.Tags = nil
	sparse := record.Record{ID: "0195b4a0-0000-7000-8000-0000000000c2", Timestamp: base.Add(time.Second), Level: record.LevelInfo}
	mustInsert(t, s, "acme", []record.Record{FullRecord("0195b4a0-0000-7000-8000-0000000000c0", "acme", base), odd, sparse})
	rep := mustVerify(t, s, nil, "acme")
	require.True(t, rep.OK, "%+v; want OK over 3 records: the record as stored must hash as the record as sent", rep)
	require.Equal(t, 3, rep.Records, "%+v; want OK over 3 records: the record as stored must hash as the record as sent", rep)
}

func testChainCheckpoints(t *testing.T, open OpenChain, _ Tamper) {
	s := open(t)
	signer := newSigner(t)
	mustInsert(t, s, "acme", chainRecords("c", "acme", 25, base))
	cp, wrote, err := store.WriteCheckpoint(ctx(t), s, signer, "acme", chain.KindPeriodic, nil, 0, base.Add(time.Hour))
	require.NoError(t, err, "WriteCheckpoint")
	require.True(t, wrote, "WriteCheckpoint wrote nothing")
	_, again, err := store.WriteCheckpoint(ctx(t), s, signer, "acme", chain.KindPeriodic, nil, cp.Seq, base.Add(2*time.Hour))
	require.NoError(t, err, "a second periodic checkpoint")
	require.False(t, again, "a periodic checkpoint of an unchanged head was written again")
	cps, err := s.Checkpoints(ctx(t), "acme")
	require.NoError(t, err)
	require.Len(t, cps, 1, "Checkpoints = %+v; want the one at seq 25", cps)
	require.EqualValues(t, 25, cps[0].Seq, "Checkpoints = %+v; want the one at seq 25", cps)
	require.Equal(t, cp.Head, cps[0].Head, "Checkpoints = %+v; want the one at seq 25", cps)
	require.True(t, cps[0].Time.Equal(cp.Time), "Checkpoints = %+v; want the one at seq 25", cps)
	require.NoError(t, cps[0].VerifySignature(signer.PublicKey()), "stored checkpoint")
	mustInsert(t, s, "acme", chainRecords("d", "acme", 5, base.Add(time.Minute)))
	rep := mustVerify(t, s, signer.PublicKey(), "acme")
	require.True(t, rep.OK, "%+v; want OK, 30 records, 1 checkpoint, 5 after it", rep)
	require.Equal(t, 1, rep.Checkpoints, "%+v; want OK, 30 records, 1 checkpoint, 5 after it", rep)
	require.EqualValues(t, 5, rep.UnsignedTail, "%+v; want OK, 30 records, 1 checkpoint, 5 after it", rep)
	require.Equal(t, 30, rep.Records, "%+v; want OK, 30 records, 1 checkpoint, 5 after it", rep)
}

func testChainPrune(t *testing.T, open OpenChain, _ Tamper) {
	s := open(t)
	signer := newSigner(t)
	now := base.Add(400 * 24 * time.Hour)
	old := chainRecords("old", "acme", 20, base)                   // before every cutoff
	recent := chainRecords("new", "acme", 10, now.Add(-time.Hour)) // after them
	mustInsert(t, s, "acme", old)
	mustInsert(t, s, "acme", recent)
	// Security is kept forever: its 4 old records stay, the other 16 go.
	policy := store.RetentionPolicy{Default: 30 * 24 * time.Hour, ByLevel: map[record.Level]time.Duration{record.LevelSecurity: 0}}
	res, err := s.Prune(ctx(t), policy, now)
	require.NoError(t, err, "Prune")
	require.EqualValues(t, 16, res.Total, "Prune = %+v; want 16 removed", res)
	// Without the run's checkpoint, the missing records look deleted.
	before := mustVerify(t, s, signer.PublicKey(), "acme")
	require.False(t, before.OK, "%+v; want record 1 reported deleted before the prune checkpoint exists", before)
	require.Equal(t, chain.ReasonRecordDeleted, before.FirstBroken.Reason, "%+v; want record 1 reported deleted before the prune checkpoint exists", before)
	require.EqualValues(t, 1, before.FirstBroken.Seq, "%+v; want record 1 reported deleted before the prune checkpoint exists", before)
	_, _, err = store.WriteCheckpoint(ctx(t), s, signer, "acme", chain.KindPrune, policy.Cutoffs(now), 0, now)
	require.NoError(t, err)
	rep := mustVerify(t, s, signer.PublicKey(), "acme")
	require.True(t, rep.OK, "%+v; want OK with 16 of 30 pruned", rep)
	require.Equal(t, 16, rep.Pruned, "%+v; want OK with 16 of 30 pruned", rep)
	require.Equal(t, 30, rep.Records, "%+v; want OK with 16 of 30 pruned", rep)
}

func testChainTamper(t *testing.T, open OpenChain, tamper Tamper) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, s store.ChainStore, recs []record.Record)
		seq    uint64
		id     func(recs []record.Record) string
		reason string
	}{
		{"edit", func(t *testing.T, s store.ChainStore, recs []record.Record) { tamper.EditRecord(t, s, recs[6].ID) },
			7, func(r []record.Record) string { return r[6].ID }, chain.ReasonRecordAltered},
		{"delete", func(t *testing.T, s store.ChainStore, recs []record.Record) { tamper.DeleteRecord(t, s, recs[11].ID) },
			12, func(r []record.Record) string { return r[11].ID }, chain.ReasonRecordDeleted},
		{"insert", func(t *testing.T, s store.ChainStore, recs []record.Record) {
			forged := recs[3]
			forged.ID, forged.Message = "0195b4a0-0000-7000-8000-00000000f0f0", "nothing to see"
			tamper.InsertRecord(t, s, forged)
		}, 0, func([]record.Record) string { return "0195b4a0-0000-7000-8000-00000000f0f0" }, chain.ReasonUnchainedRecord},
		{"reorder", func(t *testing.T, s store.ChainStore, _ []record.Record) { tamper.SwapLinks(t, s, "acme", 15, 16) },
			15, func(r []record.Record) string { return r[15].ID }, chain.ReasonLinkAltered},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			recs := chainRecords("t", "acme", 30, base)
			mustInsert(t, s, "acme", recs)
			mustInsert(t, s, "globex", chainRecords("g", "globex", 5, base))
			before := mustVerify(t, s, nil, "acme")
			require.True(t, before.OK, "before tampering: %+v", before)
			c.tamper(t, s, recs)
			rep := mustVerify(t, s, nil, "acme")
			require.False(t, rep.OK, "%s not detected: %+v", c.name, rep)
			require.NotNil(t, rep.FirstBroken, "%s not detected: %+v", c.name, rep)
			b := rep.FirstBroken
			require.Equal(t, c.reason, b.Reason, "first break %s; want seq %d (record %s): %s", b, c.seq, c.id(recs), c.reason)
			require.EqualValues(t, c.seq, b.Seq, "first break %s; want seq %d (record %s): %s", b, c.seq, c.id(recs), c.reason)
			require.Equal(t, c.id(recs), b.RecordID, "first break %s; want seq %d (record %s): %s", b, c.seq, c.id(recs), c.reason)
			// Another tenant's chain is untouched.
			other := mustVerify(t, s, nil, "globex")
			require.True(t, other.OK, "globex after tampering with acme: %+v", other)
		})
	}
}
