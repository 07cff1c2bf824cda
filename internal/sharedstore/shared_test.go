package sharedstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/auditstore"
	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/health"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

var nopLogger = zap.NewNop()

// downStore is a real store whose inserts fail while down is set.
type downStore struct {
	store.Store
	down bool
}

func (d *downStore) Insert(ctx context.Context, tenant string, recs []record.Record) (int, error) {
	if d.down {
		return 0, errors.New("store unavailable (test outage)")
	}
	return d.Store.Insert(ctx, tenant, recs)
}

// startDown starts a Shared over a real SQLite file behind a downStore.
func startDown(t *testing.T) (*Shared, *downStore) {
	t.Helper()
	cfg := testConfig(t)
	st, err := sqlitestore.Open(context.Background(), cfg.SQLite)
	require.NoError(t, err)
	d := &downStore{Store: st}
	s := Over(d, cfg, nopLogger)
	require.NoError(t, s.Start(context.Background(), nil))
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s, d
}

func TestFeed_SubscribersGetEachCommittedBatchUntilTheyCancel(t *testing.T) {
	s, down := startDown(t)
	var mu sync.Mutex
	var got [][]record.Record
	cancel := s.Subscribe(func(recs []record.Record) {
		mu.Lock()
		got = append(got, recs)
		mu.Unlock()
	})
	first := events(3, "acme", record.LevelInfo, testNow)
	insert(t, s, "acme", first)
	cancel()
	insert(t, s, "acme", events(2, "acme", record.LevelInfo, testNow))
	require.Len(t, got, 1, "one batch before cancel, none after")
	assert.Equal(t, first[0].ID, got[0][0].ID)

	// A batch the store refuses is not fed: a subscriber never sees what a query cannot find.
	calls := 0
	s.Subscribe(func([]record.Record) { calls++ })
	down.down = true
	_, err := s.Insert(context.Background(), "acme", events(1, "acme", record.LevelInfo, testNow))
	require.Error(t, err)
	assert.Zero(t, calls)
}

// A query node reads what the writer stores, one file or partitions: it follows the writer's
// rollovers whatever its own partition_max_rows says.
func TestReadOnly_AQueryNodeReadsWhatTheWriterStoresAndWritesNothing(t *testing.T) {
	for _, partitionRows := range []int64{0, 3} {
		t.Run(fmt.Sprintf("partition_max_rows %d", partitionRows), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.SQLite.PartitionMaxRows = partitionRows
			writer := start(t, cfg)
			insert(t, writer, "acme", events(4, "acme", record.LevelInfo, testNow))

			ro := cfg
			ro.ReadOnly = true
			reader := start(t, ro)
			assert.True(t, reader.ReadOnly())
			res, err := reader.Store().Query(context.Background(), store.Filter{TenantID: "acme"}, store.Page{Limit: 10})
			require.NoError(t, err)
			assert.Len(t, res.Records, 4)

			// Records the writer commits later are visible to the open reader.
			insert(t, writer, "acme", events(2, "acme", record.LevelInfo, testNow))
			res, err = reader.Store().Query(context.Background(), store.Filter{TenantID: "acme"}, store.Page{Limit: 10})
			require.NoError(t, err)
			assert.Len(t, res.Records, 6)

			_, err = reader.Insert(context.Background(), "acme", events(1, "acme", record.LevelInfo, testNow))
			assert.ErrorIs(t, err, auditstore.ErrReadOnly)
			_, err = reader.RunRetention(context.Background())
			assert.ErrorIs(t, err, auditstore.ErrReadOnly)
			rep, err := reader.VerifyChain(context.Background(), "acme", chain.Range{})
			require.NoError(t, err, "verify only reads: a query node can run it")
			assert.True(t, rep.OK)
			assert.Equal(t, 6, rep.Records)
		})
	}
}

func TestReadOnly_AMissingFileIsAStartErrorThatSaysWhoCreatesIt(t *testing.T) {
	cfg := testConfig(t)
	cfg.SQLite.Path = filepath.Join(t.TempDir(), "none.db")
	cfg.ReadOnly = true
	s := New(cfg, nopLogger)
	err := s.Start(context.Background(), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the writing collector creates it")
	assert.NoError(t, s.Shutdown(context.Background()))
}

type fixedHealth health.Snapshot

func (h fixedHealth) Health() health.Snapshot { return health.Snapshot(h) }

func TestHealth_MergesTheStoresFailuresWithEveryWritersState(t *testing.T) {
	s, down := startDown(t)
	assert.Equal(t, health.StatusOK, s.Health().Status)
	removeA := s.AddWriter(fixedHealth{Status: health.StatusOK, QueueDepth: 3, WALBacklogEntries: 5, WALBytes: 100, DLQFiles: 1})
	s.AddWriter(fixedHealth{Status: health.StatusDegraded, QueueDepth: 4, WALBacklogEntries: 2, WALBytes: 50, FailureCount: 2, LastError: "wal: disk full"})
	h := s.Health()
	assert.Equal(t, health.StatusDegraded, h.Status)
	assert.Equal(t, 7, h.QueueDepth)
	assert.Equal(t, 7, h.WALBacklogEntries, "backlogs add up")
	assert.EqualValues(t, 150, h.WALBytes, "WAL sizes add up")
	assert.Equal(t, 1, h.DLQFiles)
	assert.Equal(t, int64(2), h.FailureCount)
	removeA()
	assert.Equal(t, 4, s.Health().QueueDepth)

	// The store's own failure: an insert it refused.
	down.down = true
	_, err := s.Insert(context.Background(), "acme", events(1, "acme", record.LevelInfo, testNow))
	require.Error(t, err)
	h = s.Health()
	assert.Equal(t, int64(3), h.FailureCount)
	require.NotNil(t, h.LastFailureAt)
	assert.Equal(t, "store unavailable (test outage)", h.LastError, "the most recent failure's error is shown")
}

func TestLifecycle_ShutdownBeforeStartAndTwiceIsHarmless(t *testing.T) {
	s := New(testConfig(t), nopLogger)
	require.NoError(t, s.Shutdown(context.Background()))
	s = New(testConfig(t), nopLogger)
	require.NoError(t, s.Start(context.Background(), nil))
	require.NoError(t, s.Shutdown(context.Background()))
	require.NoError(t, s.Shutdown(context.Background()))
}

func TestVerify_NoChainWhenTamperEvidenceIsOff(t *testing.T) {
	cfg := testConfig(t)
	cfg.TamperEvidence.Enabled = false
	s := start(t, cfg)
	_, err := s.VerifyChain(context.Background(), "acme", chain.Range{})
	assert.ErrorIs(t, err, auditstore.ErrNoChain)
}

// A Start that fails (here on a missing signing key) closes what it opened, and the Shutdown
// the collector still calls afterwards is harmless.
func TestLifecycle_AFailedStartThenShutdown(t *testing.T) {
	cfg := testConfig(t)
	cfg.TamperEvidence.SigningKeyFile = filepath.Join(t.TempDir(), "missing.pem")
	s := New(cfg, nopLogger)
	err := s.Start(context.Background(), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tamper_evidence.signing_key_file")
	assert.NoError(t, s.Shutdown(context.Background()))
}
