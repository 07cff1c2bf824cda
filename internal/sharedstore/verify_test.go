package sharedstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// The store's verify resumes after the checkpoint its last intact verification reached, and
// a full one (asked for) recomputes everything: the only way to find an old record edited in
// place.
func TestVerifyChain_ResumesAfterTheLastVerifiedCheckpointAndRecomputesAllOnRequest(t *testing.T) {
	cfg := testConfig(t)
	cfg.SQLite.PartitionMaxRows = 0 // one file, which the test edits with plain SQL
	cfg.TamperEvidence.SigningKeyFile, _ = signingKey(t, filepath.Dir(cfg.SQLite.Path))
	cfg.TamperEvidence.CheckpointEveryRecords = 10
	cfg.TamperEvidence.CheckpointInterval = time.Hour
	s := start(t, cfg)
	ctx := context.Background()
	batch := func(want uint64) {
		insert(t, s, "acme", events(10, "acme", record.LevelInfo, time.Now()))
		require.Eventually(t, func() bool {
			rep, err := s.VerifyChain(ctx, "acme", chain.Range{Start: time.Now()}) // a range: no state kept
			return err == nil && rep.SignedThrough == want
		}, 5*time.Second, 5*time.Millisecond, "a signed checkpoint at seq %d", want)
	}
	batch(10)
	rep, err := s.VerifyChain(ctx, "acme", chain.Range{})
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep.FirstBroken)
	assert.Equal(t, 10, rep.Records, "the first verification is full")

	batch(20)
	rep, err = s.VerifyChain(ctx, "acme", chain.Range{})
	require.NoError(t, err)
	assert.True(t, rep.OK, "%+v", rep.FirstBroken)
	assert.Equal(t, 10, rep.Records, "only the records after the verified checkpoint")
	assert.Equal(t, uint64(10), rep.ResumedAfter)

	// A row written around the chain after the last verification: the incremental one looks at
	// the rows stored since, and finds it.
	around := cfg.SQLite
	around.Chain = false
	direct, err := sqlitestore.Open(ctx, around)
	require.NoError(t, err)
	forged := events(1, "acme", record.LevelInfo, time.Now())
	_, err = direct.Insert(ctx, "acme", forged)
	require.NoError(t, err)
	require.NoError(t, direct.Close())
	rep, err = s.VerifyChain(ctx, "acme", chain.Range{})
	require.NoError(t, err)
	require.False(t, rep.OK, "a row inserted outside the chain since the last verification")
	assert.Equal(t, chain.ReasonUnchainedRecord, rep.FirstBroken.Reason)
	assert.Equal(t, forged[0].ID, rep.FirstBroken.RecordID)

	raw, err := sql.Open("sqlite", cfg.SQLite.Path)
	require.NoError(t, err)
	defer raw.Close()
	_, err = raw.Exec(`DELETE FROM audit_logs WHERE id = ?`, forged[0].ID)
	require.NoError(t, err)
	_, err = raw.Exec(`UPDATE audit_logs SET message = 'edited' WHERE id = (SELECT record_id FROM audit_chain WHERE tenant_id = 'acme' AND seq = 3)`)
	require.NoError(t, err)
	rep, err = s.VerifyChain(ctx, "acme", chain.Range{})
	require.NoError(t, err)
	assert.True(t, rep.OK, "incremental does not look before seq 20: %+v", rep.FirstBroken)
	assert.Equal(t, 0, rep.Records)
	rep, err = s.VerifyChain(ctx, "acme", chain.Range{Full: true})
	require.NoError(t, err)
	require.False(t, rep.OK, "full finds the old edit")
	assert.Equal(t, chain.ReasonRecordAltered, rep.FirstBroken.Reason)
	assert.Equal(t, uint64(3), rep.FirstBroken.Seq)
	assert.Equal(t, 3, rep.Records)
}
