package sqlitestore

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// holdWriter takes the store's one writer connection in a transaction, so that inserts queue
// behind it; the returned func lets them go. It first inserts batches of each size the tests
// use (tenant "warm"), so that their statements are prepared: preparing needs the writer too.
func holdWriter(t *testing.T, s *Store) func() {
	t.Helper()
	for _, n := range []int{10, 60, 120} {
		_, err := s.Insert(context.Background(), "warm", records(fmt.Sprintf("warm%d", n), n))
		require.NoError(t, err)
	}
	tx, err := s.write.BeginTx(context.Background(), nil)
	require.NoError(t, err)
	var once sync.Once
	release := func() { once.Do(func() { assert.NoError(t, tx.Rollback()) }) }
	t.Cleanup(release)
	return release
}

// waitForWaiting waits until n insert calls wait for the write group.
func waitForWaiting(t *testing.T, s *Store, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		s.group.mu.Lock()
		defer s.group.mu.Unlock()
		return len(s.group.waiting) == n
	}, 10*time.Second, time.Millisecond, "insert calls waiting for the writer")
}

// queueBehindLeader starts call 0 of n, waits until it leads and waits for the writer (held by
// holdWriter) alone, starts the others, waits until they queue behind it, and lets the writer
// go: call 0 commits alone, the others in one group transaction after it.
func queueBehindLeader(t *testing.T, s *Store, n int, start func(i int), release func()) {
	t.Helper()
	start(0)
	require.Eventually(t, func() bool {
		s.group.mu.Lock()
		defer s.group.mu.Unlock()
		return s.group.running && len(s.group.waiting) == 0
	}, 10*time.Second, time.Millisecond, "the first call should be running its transaction")
	for i := 1; i < n; i++ {
		start(i)
	}
	waitForWaiting(t, s, n-1)
	release()
}

// fullTextSegments counts FTS5 segments: one per transaction while automerge is off.
func fullTextSegments(t *testing.T, s *Store) int {
	return count(t, s, `SELECT count(DISTINCT segid) FROM audit_fts_idx`)
}

// Inserts that arrive while a transaction runs are committed together by the next one: each
// commit then carries several batches, which is what keeps a growing file fast (groupMaxRows).
// Every batch is stored whole, once, and each tenant's chain verifies in batch order.
func TestInsert_ConcurrentBatchesShareOneTransaction(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	_, err := s.write.Exec(`INSERT INTO audit_fts (audit_fts, rank) VALUES ('automerge', 0)`)
	require.NoError(t, err)

	release := holdWriter(t, s)
	segmentsBefore := fullTextSegments(t, s)
	const calls = 8
	var wg sync.WaitGroup
	stored := make([]int, calls)
	errs := make([]error, calls)
	start := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stored[i], errs[i] = s.Insert(ctx, fmt.Sprintf("tenant-%d", i%3), records(fmt.Sprintf("g%d", i), 120))
		}()
	}
	queueBehindLeader(t, s, calls, start, release)
	wg.Wait()

	for i := range calls {
		require.NoError(t, errs[i], "call %d", i)
		assert.Equal(t, 120, stored[i], "records call %d stored", i)
	}
	assert.Equal(t, calls*120, count(t, s, `SELECT count(*) FROM audit_logs WHERE tenant_id != 'warm'`), "rows")
	assert.Equal(t, 2, fullTextSegments(t, s)-segmentsBefore, "transactions: the first call's, then one for the seven that waited")
	assert.Equal(t, calls*120, count(t, s, `SELECT count(*) FROM audit_logs WHERE seq IN (SELECT rowid FROM audit_fts WHERE audit_fts MATCH 'login') AND tenant_id != 'warm'`), "rows the full-text index finds")
	for tenant := range 3 {
		name := fmt.Sprintf("tenant-%d", tenant)
		rep, err := chain.Verify(ctx, s, nil, name, chain.Range{})
		require.NoError(t, err)
		assert.Nil(t, rep.FirstBroken, "chain of %s", name)
	}
	var n int
	require.NoError(t, s.read.QueryRow(`SELECT count(*) FROM audit_chain WHERE tenant_id != 'warm'`).Scan(&n))
	assert.Equal(t, calls*120, n, "chain links")
}

// A batch the store refuses inside the transaction (here a trigger, standing for any failure
// of one batch's statements) fails alone: the batches that shared its group transaction are
// written again by themselves and stored.
func TestInsert_AFailingBatchDoesNotFailTheOthersOfItsGroup(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	_, err := s.write.Exec(`CREATE TRIGGER refuse_bad BEFORE INSERT ON audit_logs WHEN new.id LIKE 'bad-%'
		BEGIN SELECT RAISE(ABORT, 'refused by test'); END`)
	require.NoError(t, err)

	release := holdWriter(t, s)
	var wg sync.WaitGroup
	results := map[string]error{}
	var mu sync.Mutex
	insert := func(prefix string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Insert(ctx, "acme", records(prefix, 60))
			mu.Lock()
			results[prefix] = err
			mu.Unlock()
		}()
	}
	insert("first")
	require.Eventually(t, func() bool {
		s.group.mu.Lock()
		defer s.group.mu.Unlock()
		return s.group.running && len(s.group.waiting) == 0
	}, 10*time.Second, time.Millisecond)
	insert("good-a")
	waitForWaiting(t, s, 1)
	insert("bad")
	waitForWaiting(t, s, 2)
	insert("good-b")
	waitForWaiting(t, s, 3)
	release()
	wg.Wait()

	for _, p := range []string{"first", "good-a", "good-b"} {
		assert.NoError(t, results[p], "batch %s", p)
		assert.Equal(t, 60, count(t, s, `SELECT count(*) FROM audit_logs WHERE id LIKE ?`, p+"-%"), "rows of %s", p)
	}
	assert.ErrorContains(t, results["bad"], "refused by test")
	assert.Zero(t, count(t, s, `SELECT count(*) FROM audit_logs WHERE id LIKE 'bad-%'`), "rows of the refused batch")
	rep, err := chain.Verify(ctx, s, nil, "acme", chain.Range{})
	require.NoError(t, err)
	assert.Nil(t, rep.FirstBroken, "chain")
}

// A call whose context ends while it waits is answered with that error and its records are
// not written; the calls of its group are.
func TestInsert_ACallWhoseContextEndsWhileWaitingIsLeftOut(t *testing.T) {
	s := openTemp(t)
	release := holdWriter(t, s)
	done := make(chan error, 2)
	go func() {
		_, err := s.Insert(context.Background(), "acme", records("lead", 10))
		done <- err
	}()
	require.Eventually(t, func() bool {
		s.group.mu.Lock()
		defer s.group.mu.Unlock()
		return s.group.running && len(s.group.waiting) == 0
	}, 10*time.Second, time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, err := s.Insert(ctx, "acme", records("gone", 10))
		done <- err
	}()
	waitForWaiting(t, s, 1)
	cancel()
	release()
	errs := []error{<-done, <-done}
	assert.Contains(t, errs, error(nil), "the leading call")
	assert.Contains(t, errs, context.Canceled, "the call whose context ended")
	assert.Equal(t, 10, count(t, s, `SELECT count(*) FROM audit_logs WHERE id LIKE 'lead-%'`))
	assert.Zero(t, count(t, s, `SELECT count(*) FROM audit_logs WHERE id LIKE 'gone-%'`))
}

// A batch is the caller's until Insert returns; after that the store must hold nothing of it.
// The write group's queue of waiting calls is resliced as calls are taken, and a slice keeps
// its whole backing array alive, taken calls included: every call's encoded rows and records
// stayed reachable until the array was next reallocated (about 30 batches at once in the
// benchmark's drain, by a heap profile). Here one Insert's records must be collectable once
// it returned, and after a group of several.
func TestInsert_KeepsNoBatchAliveAfterItReturns(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	alive := func(recs []record.Record) weak.Pointer[record.Record] { return weak.Make(&recs[0]) }

	one := alive(func() []record.Record {
		recs := records("alone", 10)
		_, err := s.Insert(ctx, "acme", recs)
		require.NoError(t, err)
		return recs
	}())

	release := holdWriter(t, s)
	const calls = 4
	ptrs := make([]weak.Pointer[record.Record], calls)
	var wg sync.WaitGroup
	start := func(i int) {
		recs := records(fmt.Sprintf("grouped%d-", i), 10)
		ptrs[i] = alive(recs)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Insert(ctx, "acme", recs)
			assert.NoError(t, err)
		}()
	}
	queueBehindLeader(t, s, calls, start, release)
	wg.Wait()

	runtime.GC()
	runtime.GC()
	assert.Nil(t, one.Value(), "a single Insert's records are still reachable after it returned")
	for i, p := range ptrs {
		assert.Nil(t, p.Value(), "grouped Insert %d's records are still reachable after it returned", i)
	}
}
