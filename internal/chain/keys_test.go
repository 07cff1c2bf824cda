package chain

import (
	"crypto/ed25519"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newSigner(t *testing.T) *Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
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
	require.True(t, rep.OK, "unsigned history followed by signed checkpoints reads as %s", rep.FirstBroken)
	assert.Equal(t, 2, rep.UnsignedCheckpoints, "unsigned checkpoints")
	assert.Equal(t, 2, rep.SignedCheckpoints, "signed checkpoints")
	assert.Equal(t, uint64(40), rep.SignedThrough, "signed through seq")
	want := []Span{{1, 20, "unsigned"}, {21, 40, "key " + KeyID(key.PublicKey())}}
	assert.Equal(t, want, rep.Coverage, "coverage")
}

func TestVerify_ARotatedKeyVerifiesWithBothPublicKeys(t *testing.T) {
	a, b := newSigner(t), newSigner(t)
	m := history(t, a, a, b, b)
	rep, err := Verify(t.Context(), m, NewKeyring(a.PublicKey(), b.PublicKey()), "acme", Range{})
	require.NoError(t, err)
	require.True(t, rep.OK, "report %+v; want OK", rep)
	require.Equal(t, 4, rep.SignedCheckpoints, "signed checkpoints")
	require.Empty(t, rep.UnknownKeys, "unknown keys")
	require.Equal(t, uint64(40), rep.SignedThrough, "signed through seq")
	want := []Span{{1, 20, "key " + KeyID(a.PublicKey())}, {21, 40, "key " + KeyID(b.PublicKey())}}
	assert.Equal(t, want, rep.Coverage, "coverage")
}

// The private key A was lost (or only the new public key is at hand): what A signed is not
// tampered, but not vouched for either, and the report says which key is missing.
func TestVerify_AnOlderKeyNotGivenIsReportedNotBroken(t *testing.T) {
	a, b := newSigner(t), newSigner(t)
	m := history(t, a, a, b, b)
	rep := verify(t, m, b.PublicKey())
	require.True(t, rep.OK, "checkpoints of an older key read as %s", rep.FirstBroken)
	assert.Equal(t, []string{KeyID(a.PublicKey())}, rep.UnknownKeys, "want key A unknown")
	assert.Equal(t, 2, rep.SignedCheckpoints, "want B's 2 checkpoints verified")
	require.NotEmpty(t, rep.Coverage)
	assert.Equal(t, "unknown key "+KeyID(a.PublicKey()), rep.Coverage[0].By, "coverage %+v: the part A signed must say so", rep.Coverage)
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
			require.False(t, rep.OK, "report OK, want %q", c.reason)
			require.NotNil(t, rep.FirstBroken, "want %q", c.reason)
			require.Equal(t, c.reason, rep.FirstBroken.Reason, "break %v", rep.FirstBroken)
		})
	}
}

func TestCheckpoint_ADocumentOfThePreviousVersionStillReads(t *testing.T) {
	// Written by the release before key rotation existed: the same fields.
	doc := `{"tenant":"acme","seq":10,"head":"` + Hash{1}.String() + `","time":"2026-11-01T10:00:00Z","kind":"periodic","key_id":"0011223344556677","signature":"AAEC"}`
	var cp Checkpoint
	require.NoError(t, cp.UnmarshalJSON([]byte(doc)))
	assert.Equal(t, uint64(10), cp.Seq, "read %+v", cp)
	assert.Equal(t, "0011223344556677", cp.KeyID, "read %+v", cp)
	assert.Len(t, cp.Signature, 3, "read %+v", cp)
	assert.WithinDuration(t, time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), cp.Time, 0, "read %+v", cp)
}
