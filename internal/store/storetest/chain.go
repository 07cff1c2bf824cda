package storetest

import (
	"crypto/ed25519"
	"fmt"
	"math"
	"testing"
	"time"

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
	if err != nil {
		t.Fatalf("Verify(%q): %v", tenant, err)
	}
	return rep
}

func newSigner(t *testing.T) *chain.Signer {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
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
		if err != nil {
			t.Fatal(err)
		}
		if head.Seq != uint64(want) {
			t.Errorf("%s: chain head at seq %d, want %d (one link per stored record)", tenant, head.Seq, want)
		}
		rep := mustVerify(t, s, nil, tenant)
		if !rep.OK || rep.Records != want {
			t.Errorf("%s: %+v; want OK over %d records", tenant, rep, want)
		}
	}
	// Commit order: acme's links follow the order the records were stored in.
	var order []string
	err := s.ChainLinks(ctx(t), "acme", 1, 1<<62, func(l chain.Link, rec *record.Record) error {
		if rec == nil || rec.TenantID != "acme" {
			t.Errorf("link %d: record %v is not acme's stored record", l.Seq, rec)
		}
		order = append(order, l.RecordID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(a); fmt.Sprint(order) != fmt.Sprint(got) {
		t.Errorf("chain order %v, want the commit order %v", order[:5], got[:5])
	}
	tenants, err := s.ChainTenants(ctx(t))
	if err != nil || fmt.Sprint(tenants) != "[acme globex]" {
		t.Errorf("ChainTenants = %v, %v; want [acme globex]", tenants, err)
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
	if rep := mustVerify(t, s, nil, "acme"); !rep.OK || rep.Records != 3 {
		t.Fatalf("%+v; want OK over 3 records: the record as stored must hash as the record as sent", rep)
	}
}

func testChainCheckpoints(t *testing.T, open OpenChain, _ Tamper) {
	s := open(t)
	signer := newSigner(t)
	mustInsert(t, s, "acme", chainRecords("c", "acme", 25, base))
	cp, wrote, err := store.WriteCheckpoint(ctx(t), s, signer, "acme", chain.KindPeriodic, nil, 0, base.Add(time.Hour))
	if err != nil || !wrote {
		t.Fatalf("WriteCheckpoint = %v, %v", wrote, err)
	}
	if _, again, err := store.WriteCheckpoint(ctx(t), s, signer, "acme", chain.KindPeriodic, nil, cp.Seq, base.Add(2*time.Hour)); err != nil || again {
		t.Fatalf("a periodic checkpoint of an unchanged head was written again (%v, %v)", again, err)
	}
	cps, err := s.Checkpoints(ctx(t), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != 1 || cps[0].Seq != 25 || cps[0].Head != cp.Head || !cps[0].Time.Equal(cp.Time) {
		t.Fatalf("Checkpoints = %+v; want the one at seq 25", cps)
	}
	if err := cps[0].VerifySignature(signer.PublicKey()); err != nil {
		t.Fatalf("stored checkpoint: %v", err)
	}
	mustInsert(t, s, "acme", chainRecords("d", "acme", 5, base.Add(time.Minute)))
	rep := mustVerify(t, s, signer.PublicKey(), "acme")
	if !rep.OK || rep.Checkpoints != 1 || rep.UnsignedTail != 5 || rep.Records != 30 {
		t.Fatalf("%+v; want OK, 30 records, 1 checkpoint, 5 after it", rep)
	}
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
	if err != nil || res.Total != 16 {
		t.Fatalf("Prune = %+v, %v; want 16 removed", res, err)
	}
	// Without the run's checkpoint, the missing records look deleted.
	if rep := mustVerify(t, s, signer.PublicKey(), "acme"); rep.OK || rep.FirstBroken.Reason != chain.ReasonRecordDeleted || rep.FirstBroken.Seq != 1 {
		t.Fatalf("%+v; want record 1 reported deleted before the prune checkpoint exists", rep)
	}
	if _, _, err := store.WriteCheckpoint(ctx(t), s, signer, "acme", chain.KindPrune, policy.Cutoffs(now), 0, now); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, s, signer.PublicKey(), "acme")
	if !rep.OK || rep.Pruned != 16 || rep.Records != 30 {
		t.Fatalf("%+v; want OK with 16 of 30 pruned", rep)
	}
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
			if rep := mustVerify(t, s, nil, "acme"); !rep.OK {
				t.Fatalf("before tampering: %+v", rep)
			}
			c.tamper(t, s, recs)
			rep := mustVerify(t, s, nil, "acme")
			if rep.OK || rep.FirstBroken == nil {
				t.Fatalf("%s not detected: %+v", c.name, rep)
			}
			if b := rep.FirstBroken; b.Reason != c.reason || b.Seq != c.seq || b.RecordID != c.id(recs) {
				t.Fatalf("first break %s; want seq %d (record %s): %s", b, c.seq, c.id(recs), c.reason)
			}
			// Another tenant's chain is untouched.
			if rep := mustVerify(t, s, nil, "globex"); !rep.OK {
				t.Fatalf("globex after tampering with acme: %+v", rep)
			}
		})
	}
}
