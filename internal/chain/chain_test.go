package chain

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

func sampleRecord(i int) record.Record {
	return record.Record{
		ID: fmt.Sprintf("rec-%03d", i), TenantID: "acme", Timestamp: t0.Add(time.Duration(i) * time.Minute),
		ObservedTimestamp: t0.Add(time.Duration(i)*time.Minute + time.Millisecond),
		Level:             record.Levels[i%len(record.Levels)], Event: "user.login", Message: "login <ok> & done",
		UserID: fmt.Sprintf("u%d", i%3), DurationMS: 1.5, StatusCode: 200,
		Tags:       []string{"b", "a"},
		Attributes: map[string]any{"z": int64(1), "a": 2.0, "nested": map[string]any{"k": []any{"x", 3.25}}},
	}
}

func TestCanonical_IsTheDocumentedEncoding(t *testing.T) {
	got := string(Canonical(sampleRecord(1)))
	want := `{"actor_id":"","attributes":{"a":2,"nested":{"k":["x",3.25]},"z":1},"company_id":"","duration_ms":1.5,` +
		`"employee_id":"","entity_id":"","entity_type":"","event":"user.login","geo_city":"","geo_country":"",` +
		`"id":"rec-001","ip_address":"","level":"info","message":"login <ok> & done","method":"",` +
		`"observed_timestamp":1767323105001000006,"path":"","resource":{},"scope":"","service_name":"",` +
		`"severity_number":0,"severity_text":"","span_id":"","status_code":200,"tags":["b","a"],"tenant_id":"acme",` +
		`"timestamp":1767323105000000006,"trace_id":"","user_agent":"","user_id":"u1","username":""}`
	require.Equal(t, want, got, "canonical encoding changed")
}

func TestNext_FollowsTheDocumentedLayout(t *testing.T) {
	// Golden values: a change here breaks every chain already stored, so it must be deliberate.
	first := Next(Link{}, sampleRecord(1))
	second := Next(first, sampleRecord(2))
	require.Equal(t, uint64(1), first.Seq, "first seq")
	require.Equal(t, uint64(2), second.Seq, "second seq")
	require.NotEqual(t, first.Hash, second.Hash, "chain hashes must differ")
	require.NotEqual(t, Hash{}, first.Hash, "chain hashes must not be zero")
	// The hash depends on the previous one: the same record after another head differs.
	other := Next(Link{Seq: 0, Hash: Hash{1}}, sampleRecord(1))
	require.NotEqual(t, first.Hash, other.Hash, "the chain hash ignores the previous hash")
	require.Equal(t, goldenFirstHash, first.Hash.String(), "first link hash")
}

// goldenFirstHash was computed from the canonical string above by the Python example in
// docs/TAMPER_EVIDENCE.md, an implementation of the documented layout independent of this one.
const goldenFirstHash = "5ea378b99953c6da5ba695b0808ce1d18a370337ec8fa1f442035ca7a91c9d1c"

// roundTrip is what every store does to attributes: compact JSON, decoded with UseNumber, then
// record.FromJSONNumbers.
func roundTrip(t testing.TB, v map[string]any) map[string]any {
	t.Helper()
	s, err := record.CompactJSON(v)
	if err != nil {
		s, err = record.CompactJSON(record.FiniteNumbers(v))
		require.NoError(t, err)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var out map[string]any
	require.NoError(t, dec.Decode(&out))
	record.FromJSONNumbers(out)
	return out
}

func TestNextHashed_IsNextWithTheHashComputedAhead(t *testing.T) {
	prev := Next(Link{}, sampleRecord(1))
	r := sampleRecord(2)
	assert.Equal(t, Next(prev, r), NextHashed(prev, r, RecordHash(r)))
	assert.NotEqual(t, Next(prev, r).Hash, NextHashed(prev, r, RecordHash(sampleRecord(3))).Hash,
		"the chain hash covers the record hash it is given")
}

func TestCanonical_SameAfterAStoreRoundTrip(t *testing.T) {
	values := []any{
		2.0, math.Copysign(0, -1), 1e21, 1e20, 9.2e18, 1e-7, 3.25, math.NaN(), math.Inf(-1), int64(math.MaxInt64),
		int64(math.MinInt64), uint64(math.MaxUint64), float32(1.5), []byte("hi"), "<&>", "\u2028",
		"bad \xff utf8", true, nil, []any{1.0, "x", map[string]any{"k": 0.5}},
	}
	for i, v := range values {
		in := map[string]any{"v": v}
		r1, r2 := sampleRecord(1), sampleRecord(1)
		r1.Attributes, r2.Attributes = in, roundTrip(t, in)
		assert.Equal(t, string(Canonical(r1)), string(Canonical(r2)), "value %d (%#v): canonical before and after a JSON round trip", i, v)
	}
}

// SQLite keeps a REAL -0.0 as 0, so a record whose duration was -0 read back as 0 and verify
// called it altered (found by the independent Node verifier's test, cmd/auditctl).
func TestCanonical_ANegativeZeroDurationIsZeroAsStoresKeepIt(t *testing.T) {
	neg, zero := sampleRecord(1), sampleRecord(1)
	neg.DurationMS, zero.DurationMS = math.Copysign(0, -1), 0
	assert.Equal(t, string(Canonical(zero)), string(Canonical(neg)), "a -0 duration encodes as 0")
	assert.Contains(t, string(Canonical(neg)), `"duration_ms":0,`)
}

func FuzzCanonical_SameAfterAStoreRoundTrip(f *testing.F) {
	f.Add(2.0, int64(3), "x", []byte("y"))
	f.Add(math.Copysign(0, -1), int64(-1), "\u2028<", []byte{0xff})
	f.Fuzz(func(t *testing.T, x float64, n int64, s string, b []byte) {
		in := map[string]any{"f": x, "n": n, "s": s, "b": b, s: []any{x, n}}
		r1, r2 := sampleRecord(1), sampleRecord(1)
		r1.Attributes, r2.Attributes = in, roundTrip(t, in)
		require.Equal(t, string(Canonical(r1)), string(Canonical(r2)), "canonical before and after a JSON round trip")
	})
}

// memSource is an in-memory store for the verifier's own tests; the stores' tests tamper with
// real SQLite and ClickHouse tables.
type memSource struct {
	links     []Link
	records   map[string]record.Record
	cps       []Checkpoint
	unchained []string
}

func (m *memSource) ChainLinks(_ context.Context, _ string, from, to uint64, fn func(Link, *record.Record) error) error {
	for _, l := range m.links {
		if l.Seq < from || l.Seq > to {
			continue
		}
		var rec *record.Record
		if r, ok := m.records[l.RecordID]; ok {
			rec = &r
		}
		if err := fn(l, rec); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSource) ChainHead(context.Context, string) (Link, error) {
	if len(m.links) == 0 {
		return Link{}, nil
	}
	return slices.MaxFunc(m.links, func(a, b Link) int { return int(a.Seq) - int(b.Seq) }), nil
}

func (m *memSource) Checkpoints(context.Context, string) ([]Checkpoint, error) { return m.cps, nil }

func (m *memSource) Unchained(context.Context, string, int) ([]string, error) {
	return m.unchained, nil
}

// trail commits n records with a signed checkpoint every 10 and returns the source and key.
func trail(t *testing.T, n int) (*memSource, *Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	signer := NewSigner(priv)
	m := &memSource{records: map[string]record.Record{}}
	var head Link
	for i := 1; i <= n; i++ {
		r := sampleRecord(i)
		head = Next(head, r)
		m.links = append(m.links, head)
		m.records[r.ID] = r
		if i%10 == 0 {
			m.cps = append(m.cps, signer.Sign(Checkpoint{Tenant: "acme", Seq: head.Seq, Head: head.Hash,
				Time: t0.Add(time.Duration(i) * time.Minute), Kind: KindPeriodic}))
		}
	}
	return m, signer
}

func verify(t *testing.T, m *memSource, pub ed25519.PublicKey) Report {
	t.Helper()
	rep, err := Verify(context.Background(), m, NewKeyring(pub), "acme", Range{})
	require.NoError(t, err)
	return rep
}

func TestVerify_IntactTrail(t *testing.T) {
	m, signer := trail(t, 35)
	rep := verify(t, m, signer.PublicKey())
	assert.True(t, rep.OK, "report %+v; want OK", rep)
	assert.Equal(t, 35, rep.Records, "records")
	assert.Equal(t, 3, rep.Checkpoints, "checkpoints")
	assert.Equal(t, uint64(5), rep.UnsignedTail, "unsigned tail")
	assert.True(t, rep.Signed, "report %+v; want signed", rep)
}

func TestVerify_FindsEachKindOfTampering(t *testing.T) {
	cases := []struct {
		name    string
		tamper  func(m *memSource, s *Signer)
		seq     uint64
		reason  string
		unkeyed bool // detected without the public key too
	}{
		{"edit", func(m *memSource, _ *Signer) {
			r := m.records["rec-007"]
			r.Message = "nothing happened"
			m.records["rec-007"] = r
		}, 7, ReasonRecordAltered, true},
		{"delete record", func(m *memSource, _ *Signer) { delete(m.records, "rec-012") }, 12, ReasonRecordDeleted, true},
		{"delete record and link", func(m *memSource, _ *Signer) {
			delete(m.records, "rec-012")
			m.links = slices.Delete(m.links, 11, 12)
		}, 12, ReasonLinkMissing, true},
		{"insert", func(m *memSource, _ *Signer) { m.unchained = []string{"forged"} }, 0, ReasonUnchainedRecord, true},
		{"reorder", func(m *memSource, _ *Signer) {
			m.links[3].Seq, m.links[4].Seq = m.links[4].Seq, m.links[3].Seq
			m.links[3], m.links[4] = m.links[4], m.links[3]
		}, 4, ReasonLinkAltered, true},
		{"rewrite the chain after an edit", func(m *memSource, _ *Signer) {
			r := m.records["rec-003"]
			r.UserID = "someone-else"
			m.records["rec-003"] = r
			var head Link
			for i := range m.links {
				head = Next(head, m.records[m.links[i].RecordID])
				m.links[i] = head
			}
		}, 10, ReasonChainRewritten, false},
		{"forged checkpoint", func(m *memSource, _ *Signer) { m.cps[1].Head = Hash{7} }, 20, ReasonBadSignature, false},
		{"truncated tail", func(m *memSource, _ *Signer) {
			for _, l := range m.links[25:] {
				delete(m.records, l.RecordID)
			}
			m.links = m.links[:25]
		}, 30, ReasonCheckpointTooFar, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, signer := trail(t, 35)
			c.tamper(m, signer)
			rep := verify(t, m, signer.PublicKey())
			require.False(t, rep.OK, "tampering not detected: %+v", rep)
			require.NotNil(t, rep.FirstBroken, "tampering not detected: %+v", rep)
			require.Equal(t, c.reason, rep.FirstBroken.Reason, "first break %s", rep.FirstBroken)
			require.Equal(t, c.seq, rep.FirstBroken.Seq, "first break %s", rep.FirstBroken)
			if c.unkeyed {
				require.False(t, verify(t, m, nil).OK, "not detected without the public key")
			}
		})
	}
}

func TestVerify_PrunedRecordsNeedASignedRetentionRun(t *testing.T) {
	m, signer := trail(t, 35)
	// Records 1-5 are expired by a retention run whose cutoff for their levels is after them.
	cut := t0.Add(5*time.Minute + time.Second)
	m.cps = append(m.cps, signer.Sign(Checkpoint{Tenant: "acme", Seq: 35, Head: m.links[34].Hash,
		Time: t0.Add(time.Hour), Kind: KindPrune, Cutoffs: map[record.Level]time.Time{
			record.LevelDebug: cut, record.LevelInfo: cut, record.LevelWarn: cut, record.LevelError: cut}}))
	for i := 1; i <= 5; i++ {
		delete(m.records, fmt.Sprintf("rec-%03d", i))
	}
	// rec-004 and rec-009 are security records, which this run kept: 004 is within the pruned
	// range, so it must be reported as deleted.
	rep := verify(t, m, signer.PublicKey())
	require.False(t, rep.OK, "report %+v; want the security record 4 reported deleted", rep)
	require.NotNil(t, rep.FirstBroken, "report %+v; want the security record 4 reported deleted", rep)
	require.Equal(t, uint64(4), rep.FirstBroken.Seq, "report %+v; want the security record 4 reported deleted", rep)
	require.Equal(t, ReasonRecordDeleted, rep.FirstBroken.Reason, "report %+v; want the security record 4 reported deleted", rep)
	m.records["rec-004"] = sampleRecord(4)
	rep = verify(t, m, signer.PublicKey())
	require.True(t, rep.OK, "report %+v; want OK with 4 pruned", rep)
	require.Equal(t, 4, rep.Pruned, "report %+v; want OK with 4 pruned", rep)
}

func TestVerify_RangeStartsAtACheckpoint(t *testing.T) {
	m, signer := trail(t, 35)
	// An edit before the range is not this range's business; one inside it is.
	r := m.records["rec-003"]
	r.Message = "x"
	m.records["rec-003"] = r
	rep, err := Verify(context.Background(), m, NewKeyring(signer.PublicKey()), "acme",
		Range{Start: t0.Add(21 * time.Minute), End: t0.Add(29 * time.Minute)})
	require.NoError(t, err)
	require.True(t, rep.OK, "report %+v; want OK over seqs 21-30", rep)
	require.Equal(t, uint64(21), rep.From, "report %+v; want OK over seqs 21-30", rep)
	require.Equal(t, uint64(30), rep.To, "report %+v; want OK over seqs 21-30", rep)
	require.Equal(t, 10, rep.Records, "report %+v; want OK over seqs 21-30", rep)
}

func TestKeys_GenerateLoadSignVerify(t *testing.T) {
	privPEM, pubPEM, err := GenerateKey()
	require.NoError(t, err)
	dir := t.TempDir()
	privPath, pubPath := filepath.Join(dir, "k.pem"), filepath.Join(dir, "k.pub")
	require.NoError(t, os.WriteFile(privPath, privPEM, 0o600))
	require.NoError(t, os.WriteFile(pubPath, pubPEM, 0o644))
	priv, err := LoadPrivateKey(privPath)
	require.NoError(t, err)
	pub, err := LoadPublicKey(pubPath)
	require.NoError(t, err)
	cp := NewSigner(priv).Sign(Checkpoint{Tenant: "t", Seq: 3, Head: Hash{1}, Time: t0, Kind: KindPeriodic})
	require.NoError(t, cp.VerifySignature(pub))
	// The document form keeps the signature valid.
	doc, err := json.Marshal(cp)
	require.NoError(t, err)
	var back Checkpoint
	require.NoError(t, json.Unmarshal(doc, &back))
	require.NoError(t, back.VerifySignature(pub), "after JSON (%s)", doc)
	back.Seq++
	require.Error(t, back.VerifySignature(pub), "a changed checkpoint still verifies")
	_, err = LoadPublicKey(privPath)
	require.ErrorContains(t, err, "PUBLIC KEY", "loading a private key as public")
}

func TestCheckpointFiles_PinTheChainWhenTheDatabaseLosesItsCheckpoints(t *testing.T) {
	m, signer := trail(t, 35)
	dir := t.TempDir()
	for _, cp := range m.cps {
		require.NoError(t, WriteCheckpointFile(dir, cp))
	}
	files, err := ReadCheckpointFiles(dir, "acme")
	require.NoError(t, err, "ReadCheckpointFiles")
	require.Len(t, files, 3, "ReadCheckpointFiles")
	none, err := ReadCheckpointFiles(dir, "other/../tenant")
	require.NoError(t, err, "a tenant without files")
	require.Empty(t, none, "a tenant without files")
	// The attacker edits a record, recomputes the chain and deletes the checkpoints they
	// cannot re-sign: the database alone now verifies, the files do not.
	r := m.records["rec-003"]
	r.UserID = "someone-else"
	m.records["rec-003"] = r
	var head Link
	for i := range m.links {
		head = Next(head, m.records[m.links[i].RecordID])
		m.links[i] = head
	}
	m.cps = nil
	rep := verify(t, m, signer.PublicKey())
	require.True(t, rep.OK, "without checkpoints the rewritten chain should verify, got %+v", rep)
	rep, err = Verify(context.Background(), WithCheckpoints(m, files), NewKeyring(signer.PublicKey()), "acme", Range{})
	require.NoError(t, err)
	require.False(t, rep.OK, "%+v; want the rewrite found at the first filed checkpoint (seq 10)", rep)
	require.NotNil(t, rep.FirstBroken, "%+v; want the rewrite found at the first filed checkpoint (seq 10)", rep)
	require.Equal(t, ReasonChainRewritten, rep.FirstBroken.Reason, "%+v; want the rewrite found at the first filed checkpoint (seq 10)", rep)
	require.Equal(t, uint64(10), rep.FirstBroken.Seq, "%+v; want the rewrite found at the first filed checkpoint (seq 10)", rep)
}
