package chain

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// grow commits records from..to onto m's chain with a signed checkpoint at to.
func grow(m *memSource, s *Signer, from, to int) {
	head := m.links[len(m.links)-1]
	for i := from; i <= to; i++ {
		r := sampleRecord(i)
		head = Next(head, r)
		m.links = append(m.links, head)
		m.records[r.ID] = r
	}
	m.cps = append(m.cps, s.Sign(Checkpoint{Tenant: "acme", Seq: head.Seq, Head: head.Hash,
		Time: t0.Add(time.Duration(to) * time.Minute), Kind: KindPeriodic}))
}

func since(t *testing.T, m *memSource, keys Keyring, from *Resume) (Report, *Resume) {
	t.Helper()
	rep, next, err := VerifySince(context.Background(), m, keys, "acme", Range{}, from)
	require.NoError(t, err)
	return rep, next
}

func TestVerifySince_RecomputesOnlyWhatFollowsTheLastVerifiedCheckpoint(t *testing.T) {
	m, signer := trail(t, 30)
	keys := NewKeyring(signer.PublicKey())
	rep, next := since(t, m, keys, nil)
	require.True(t, rep.OK, "%+v", rep.FirstBroken)
	require.Equal(t, 30, rep.Records, "the first verification is full")
	require.NotNil(t, next)
	require.Equal(t, uint64(30), next.Seq, "it resumes after the last signed checkpoint")

	grow(m, signer, 31, 40)
	rep, next2 := since(t, m, keys, next)
	assert.True(t, rep.OK, "%+v", rep.FirstBroken)
	assert.Equal(t, 10, rep.Records, "only the links after seq 30 are recomputed")
	assert.Equal(t, uint64(30), rep.ResumedAfter)
	assert.Equal(t, uint64(31), rep.From)
	require.Equal(t, uint64(40), next2.Seq)

	rep, again := since(t, m, keys, next2)
	assert.True(t, rep.OK)
	assert.Equal(t, 0, rep.Records, "nothing new: nothing recomputed")
	assert.Equal(t, next2.Seq, again.Seq, "and it resumes from the same checkpoint")
}

func TestVerifySince_FindsTamperingAfterAndAroundItsStart(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(m *memSource, s *Signer)
		seq    uint64
		reason string
	}{
		{"a new record edited", func(m *memSource, _ *Signer) {
			r := m.records["rec-035"]
			r.Message = "changed"
			m.records["rec-035"] = r
		}, 35, ReasonRecordAltered},
		{"the chain recomputed through the verified checkpoint", func(m *memSource, _ *Signer) {
			r := m.records["rec-005"]
			r.Message = "changed"
			m.records["rec-005"] = r
			var head Link
			for i := range m.links {
				head = Next(head, m.records[m.links[i].RecordID])
				m.links[i] = head
			}
		}, 31, ReasonLinkAltered},
		{"the verified checkpoint deleted", func(m *memSource, _ *Signer) {
			m.cps = slices.DeleteFunc(m.cps, func(cp Checkpoint) bool { return cp.Seq == 30 })
		}, 30, ReasonVerifiedCheckpointChanged},
		{"the verified checkpoint re-signed over another head", func(m *memSource, s *Signer) {
			for i := range m.cps {
				if m.cps[i].Seq == 30 {
					m.cps[i].Head = Hash{9}
					m.cps[i] = s.Sign(m.cps[i])
				}
			}
		}, 30, ReasonVerifiedCheckpointChanged},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, signer := trail(t, 30)
			keys := NewKeyring(signer.PublicKey())
			_, next := since(t, m, keys, nil)
			grow(m, signer, 31, 40)
			c.tamper(m, signer)
			rep, after := since(t, m, keys, next)
			require.False(t, rep.OK, "not found: %+v", rep)
			assert.Equal(t, c.reason, rep.FirstBroken.Reason, "%s", rep.FirstBroken)
			assert.Equal(t, c.seq, rep.FirstBroken.Seq, "%s", rep.FirstBroken)
			assert.Nil(t, after, "a broken chain gives no checkpoint to resume from")
		})
	}
}

// The price of resuming: an old record edited without touching its link is found only by a
// full verification, which is why one is available on request.
func TestVerifySince_AnOldRecordEditNeedsAFullVerification(t *testing.T) {
	m, signer := trail(t, 30)
	keys := NewKeyring(signer.PublicKey())
	_, next := since(t, m, keys, nil)
	r := m.records["rec-005"]
	r.Message = "changed"
	m.records["rec-005"] = r
	rep, _ := since(t, m, keys, next)
	assert.True(t, rep.OK, "incremental: the links after seq 30 are intact")
	rep, _ = since(t, m, keys, nil)
	require.False(t, rep.OK, "full")
	assert.Equal(t, ReasonRecordAltered, rep.FirstBroken.Reason)
	assert.Equal(t, uint64(5), rep.FirstBroken.Seq)
}

// It resumes after the last link it recomputed, not only after the checkpoint: the records
// after the last checkpoint are not recomputed again, and losing them is found.
func TestVerifySince_ResumesAfterTheLastLinkItRecomputed(t *testing.T) {
	m, signer := trail(t, 35) // a checkpoint at 30, five links after it
	keys := NewKeyring(signer.PublicKey())
	_, next := since(t, m, keys, nil)
	require.Equal(t, uint64(30), next.Seq, "the checkpoint it checks next time")
	require.Equal(t, uint64(35), next.ThroughSeq, "the last link it recomputed")

	head := m.links[len(m.links)-1]
	for i := 36; i <= 38; i++ {
		head = Next(head, sampleRecord(i))
		m.links = append(m.links, head)
		m.records[sampleRecord(i).ID] = sampleRecord(i)
	}
	rep, after := since(t, m, keys, next)
	require.True(t, rep.OK, "%+v", rep.FirstBroken)
	assert.Equal(t, 3, rep.Records, "only the three new links")
	assert.Equal(t, uint64(35), rep.ResumedAfter)
	assert.Equal(t, uint64(38), after.ThroughSeq)

	m.links = m.links[:33]
	rep, _ = since(t, m, keys, after)
	require.False(t, rep.OK, "links verified before are gone")
	assert.Equal(t, ReasonLinkMissing, rep.FirstBroken.Reason)
	assert.Equal(t, uint64(34), rep.FirstBroken.Seq)
}
