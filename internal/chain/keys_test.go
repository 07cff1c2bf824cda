package chain

import (
	"crypto/ed25519"
	"slices"
	"testing"
	"time"
)

func newSigner(t *testing.T) *Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return NewSigner(priv)
}

// history commits 40 records with a checkpoint every 10, the i-th signed by signers[i] (nil:
// unsigned), as a collector whose signing configuration changed over time would have.
func history(t *testing.T, signers ...*Signer) *memSource {
	t.Helper()
	m, _ := trail(t, 40)
	for i := range m.cps {
		cp := m.cps[i]
		cp.KeyID, cp.Signature = "", nil
		m.cps[i] = signers[i].Sign(cp) // a nil Signer leaves it unsigned
	}
	return m
}

func TestVerify_SigningTurnedOnLaterIsNotTampering(t *testing.T) {
	key := newSigner(t)
	m := history(t, nil, nil, key, key)
	rep := verify(t, m, key.PublicKey())
	if !rep.OK {
		t.Fatalf("unsigned history followed by signed checkpoints reads as %s", rep.FirstBroken)
	}
	if rep.UnsignedCheckpoints != 2 || rep.SignedCheckpoints != 2 || rep.SignedThrough != 40 {
		t.Errorf("report %+v; want 2 unsigned, 2 signed, signed through seq 40", rep)
	}
	want := []Span{{1, 20, "unsigned"}, {21, 40, "key " + KeyID(key.PublicKey())}}
	if !slices.Equal(rep.Coverage, want) {
		t.Errorf("coverage %+v, want %+v", rep.Coverage, want)
	}
}

func TestVerify_ARotatedKeyVerifiesWithBothPublicKeys(t *testing.T) {
	a, b := newSigner(t), newSigner(t)
	m := history(t, a, a, b, b)
	rep, err := Verify(t.Context(), m, NewKeyring(a.PublicKey(), b.PublicKey()), "acme", Range{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.SignedCheckpoints != 4 || len(rep.UnknownKeys) != 0 || rep.SignedThrough != 40 {
		t.Fatalf("report %+v; want OK, 4 signed checkpoints, no unknown key", rep)
	}
	want := []Span{{1, 20, "key " + KeyID(a.PublicKey())}, {21, 40, "key " + KeyID(b.PublicKey())}}
	if !slices.Equal(rep.Coverage, want) {
		t.Errorf("coverage %+v, want %+v", rep.Coverage, want)
	}
}

// The private key A was lost (or only the new public key is at hand): what A signed is not
// tampered, but not vouched for either, and the report says which key is missing.
func TestVerify_AnOlderKeyNotGivenIsReportedNotBroken(t *testing.T) {
	a, b := newSigner(t), newSigner(t)
	m := history(t, a, a, b, b)
	rep := verify(t, m, b.PublicKey())
	if !rep.OK {
		t.Fatalf("checkpoints of an older key read as %s", rep.FirstBroken)
	}
	if !slices.Equal(rep.UnknownKeys, []string{KeyID(a.PublicKey())}) || rep.SignedCheckpoints != 2 {
		t.Errorf("unknown keys %v, signed %d; want key A unknown and B's 2 checkpoints verified", rep.UnknownKeys, rep.SignedCheckpoints)
	}
	if rep.Coverage[0].By != "unknown key "+KeyID(a.PublicKey()) {
		t.Errorf("coverage %+v: the part A signed must say so", rep.Coverage)
	}
}

func TestVerify_ForgedAndStrippedSignaturesAreBroken(t *testing.T) {
	key := newSigner(t)
	cases := []struct {
		name   string
		tamper func(m *memSource)
		reason string
	}{
		{"a checkpoint whose signature does not verify under the key it names", func(m *memSource) {
			m.cps[2].Signature = slices.Clone(m.cps[2].Signature)
			m.cps[2].Signature[0] ^= 1
		}, ReasonBadSignature},
		{"a checkpoint re-signed by another key under the right key id", func(m *memSource) {
			forged := newSigner(t).Sign(m.cps[2])
			m.cps[2].Signature = forged.Signature
		}, ReasonBadSignature},
		{"a signature stripped from a checkpoint after signed ones", func(m *memSource) {
			m.cps[3].Signature, m.cps[3].KeyID = nil, ""
		}, ReasonUnsignedAfterSigned},
		{"a key id without a signature", func(m *memSource) { m.cps[3].Signature = nil }, ReasonBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := history(t, nil, key, key, key)
			c.tamper(m)
			rep := verify(t, m, key.PublicKey())
			if rep.OK || rep.FirstBroken.Reason != c.reason {
				t.Fatalf("report OK=%v break %v; want %q", rep.OK, rep.FirstBroken, c.reason)
			}
		})
	}
}

func TestCheckpoint_ADocumentOfThePreviousVersionStillReads(t *testing.T) {
	// Written by the release before key rotation existed: the same fields.
	doc := `{"tenant":"acme","seq":10,"head":"` + Hash{1}.String() + `","time":"2026-11-01T10:00:00Z","kind":"periodic","key_id":"0011223344556677","signature":"AAEC"}`
	var cp Checkpoint
	if err := cp.UnmarshalJSON([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	if cp.Seq != 10 || cp.KeyID != "0011223344556677" || len(cp.Signature) != 3 || !cp.Time.Equal(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("read %+v", cp)
	}
}
