package sharedstore

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// signingKey writes a new key under dir and returns its path and public key.
func signingKey(t *testing.T, dir string) (string, ed25519.PublicKey) {
	t.Helper()
	priv, _, err := chain.GenerateKey()
	require.NoError(t, err)
	path := filepath.Join(dir, "signing-key.pem")
	require.NoError(t, os.WriteFile(path, priv, 0o600))
	key, err := chain.LoadPrivateKey(path)
	require.NoError(t, err)
	return path, key.Public().(ed25519.PublicKey)
}

// events makes n records of tenant at level, from ts on.
func events(n int, tenant string, level record.Level, ts time.Time) []record.Record {
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{ID: record.NewID(), TenantID: tenant, Level: level,
			Event: fmt.Sprintf("chain.e%d", i), Timestamp: ts.Add(time.Duration(i) * time.Millisecond)}
	}
	return recs
}

// testConfig is the default config on a temp SQLite file.
func testConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.SQLite.Path = filepath.Join(t.TempDir(), "audit.db")
	return cfg
}

// start starts a Shared on cfg and shuts it down at cleanup.
func start(t *testing.T, cfg Config) *Shared {
	t.Helper()
	s := New(cfg, nopLogger)
	require.NoError(t, s.Start(context.Background(), nil))
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func insert(t *testing.T, s *Shared, tenant string, recs []record.Record) {
	t.Helper()
	n, err := s.Insert(context.Background(), tenant, recs)
	require.NoError(t, err)
	require.Equal(t, len(recs), n)
}

func TestCheckpoints_EveryNRecordsThenAtShutdown(t *testing.T) {
	cfg := testConfig(t)
	dir := filepath.Dir(cfg.SQLite.Path)
	var pub ed25519.PublicKey
	cfg.TamperEvidence.SigningKeyFile, pub = signingKey(t, dir)
	cfg.TamperEvidence.CheckpointDir = filepath.Join(dir, "checkpoints")
	cfg.TamperEvidence.CheckpointEveryRecords = 50
	cfg.TamperEvidence.CheckpointInterval = time.Hour
	s := start(t, cfg)
	// Each batch of 60 makes a checkpoint due (every 50): the checkpointer writes one per batch
	// while running. Waiting for each keeps two batches from folding into one checkpoint.
	var rep chain.Report
	for n := 1; n <= 2; n++ {
		insert(t, s, "acme", events(60, "acme", record.LevelInfo, time.Now()))
		require.Eventually(t, func() bool {
			var err error
			rep, err = s.VerifyChain(context.Background(), "acme", chain.Range{Full: true})
			return err == nil && rep.Records == 60*n && rep.Checkpoints == n
		}, 20*time.Second, 20*time.Millisecond, "checkpoint %d while running", n)
	}
	require.True(t, rep.OK && rep.Signed, "while running: %+v", rep)

	// Ten more are fewer than 50 and the interval is an hour: unsigned until the stop.
	insert(t, s, "acme", events(10, "acme", record.LevelInfo, time.Now()))
	rep, err := s.VerifyChain(context.Background(), "acme", chain.Range{Full: true})
	require.NoError(t, err)
	assert.Equal(t, 130, int(rep.Records))
	assert.GreaterOrEqual(t, int(rep.UnsignedTail), 10)
	require.NoError(t, s.Shutdown(context.Background()))

	// After the stop the head is signed by the shutdown's checkpoint: nothing is left in the
	// unsigned tail, in the database or in the files kept outside it.
	st := openSQLite(t, cfg.SQLite.Path)
	files, err := chain.ReadCheckpointFiles(cfg.TamperEvidence.CheckpointDir, "acme")
	require.NoError(t, err)
	stored, err := st.Checkpoints(context.Background(), "acme")
	require.NoError(t, err)
	require.Len(t, files, len(stored))
	require.GreaterOrEqual(t, len(files), 3)
	rep, err = chain.Verify(context.Background(), st, chain.NewKeyring(pub), "acme", chain.Range{})
	require.NoError(t, err)
	assert.True(t, rep.OK)
	assert.Zero(t, rep.UnsignedTail)
}

// With partitions (sqlite.partition_max_rows) the first partition, all expired, is dropped as
// a file and the second pruned row by row; the chains verify either way.
func TestCheckpoints_RetentionRunLeavesTheChainVerifiable(t *testing.T) {
	for _, partitionRows := range []int64{0, 8} {
		t.Run(fmt.Sprintf("partition_max_rows %d", partitionRows), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.SQLite.PartitionMaxRows = partitionRows
			cfg.TamperEvidence.SigningKeyFile, _ = signingKey(t, filepath.Dir(cfg.SQLite.Path))
			s := start(t, cfg)
			old := time.Now().AddDate(-2, 0, 0)
			insert(t, s, "acme", events(30, "acme", record.LevelDebug, old))      // expired (1 month)
			insert(t, s, "acme", events(5, "acme", record.LevelInfo, time.Now())) // kept
			insert(t, s, "globex", events(10, "globex", record.LevelDebug, old))  // expired, other tenant
			res, err := s.RunRetention(context.Background())
			require.NoError(t, err)
			require.Equal(t, int64(40), res.Total)
			for tenant, pruned := range map[string]int{"acme": 30, "globex": 10} {
				rep, err := s.VerifyChain(context.Background(), tenant, chain.Range{})
				require.NoError(t, err)
				assert.True(t, rep.OK && rep.Signed, "%s after retention: %+v", tenant, rep)
				assert.Equal(t, pruned, int(rep.Pruned), "%s: pruned by the signed run", tenant)
			}
			if partitionRows > 0 {
				files, err := filepath.Glob(filepath.Join(filepath.Dir(cfg.SQLite.Path), "audit-partitions", "p*.db"))
				require.NoError(t, err)
				assert.Len(t, files, 1, "the expired first partition is dropped: %v", files)
			}
		})
	}
}

// openSQLite opens the store at path as the collector does (its partitions too).
func openSQLite(t *testing.T, path string) store.ChainStore {
	t.Helper()
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = path
	st, err := sqlitestore.OpenStore(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st.(store.ChainStore)
}

var testNow = time.Now()
