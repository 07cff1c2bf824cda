package dlq

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

func TestScan_AFailureCountsInTheHeaderAndKeepsTheFile(t *testing.T) {
	q := openTest(t, Options{})
	mustPut(t, q, "acme", records("f", "acme", 3))
	s := newSink()
	s.setFail(errors.New("dial tcp 127.0.0.1:9000: connection refused"))

	res := scan(t, q, s.insert)
	require.Equal(t, 1, res.Failed, "Scan = %+v, want 1 failed, a stop error", res)
	require.Zero(t, res.Dead, "Scan = %+v, want 1 failed, a stop error", res)
	require.Error(t, res.Stopped, "Scan = %+v, want 1 failed, a stop error", res)
	h := header(t, filepath.Join(q.Dir(), only(t, q.Dir(), StateBatch)))
	assert.Equal(t, 1, h.Failures, "header after one failure = %+v, want failures 1, the error and an attempt time", h)
	assert.Contains(t, h.LastError, "connection refused", "header after one failure = %+v, want failures 1, the error and an attempt time", h)
	assert.NotNil(t, h.LastAttemptAt, "header after one failure = %+v, want failures 1, the error and an attempt time", h)
	st := q.Stats()
	assert.Equal(t, 1, st.Files, "Stats = %+v", st)
	assert.EqualValues(t, 1, st.Retried, "Stats = %+v", st)
	assert.Zero(t, st.Recovered, "Stats = %+v", st)

	s.setFail(nil)
	scan(t, q, s.insert)
	assert.Equal(t, 3, s.total(), "after the store is back: records delivered")
	assert.Empty(t, filesIn(t, q.Dir()), "after the store is back: files, want none")
}

func TestScan_TheTenthFailureMakesTheBatchDeadAndItIsNotRetried(t *testing.T) {
	q := openTest(t, Options{})
	mustPut(t, q, "acme", records("poison", "acme", 1))
	s := newSink()
	s.setFail(errors.New("boom"))
	for i := 1; i <= 9; i++ {
		scan(t, q, s.insert)
		h := header(t, filepath.Join(q.Dir(), only(t, q.Dir(), StateBatch)))
		require.Equal(t, i, h.Failures, "after scan %d: failures", i)
	}
	res := scan(t, q, s.insert)
	require.Equal(t, 1, res.Dead, "10th scan = %+v, want the batch dead", res)
	h := header(t, filepath.Join(q.Dir(), only(t, q.Dir(), StateDead)))
	assert.Equal(t, 10, h.Failures, "dead header = %+v", h)
	assert.Equal(t, "boom", h.LastError, "dead header = %+v", h)
	scan(t, q, s.insert)
	assert.Equal(t, 10, s.calls, "insert calls, want 10 (a dead batch is not retried)")
	st := q.Stats()
	assert.Zero(t, st.Files, "Stats = %+v, want 0 pending, 1 dead file, dead_total 1, bytes kept", st)
	assert.Equal(t, 1, st.DeadFiles, "Stats = %+v, want 0 pending, 1 dead file, dead_total 1, bytes kept", st)
	assert.EqualValues(t, 1, st.Dead, "Stats = %+v, want 0 pending, 1 dead file, dead_total 1, bytes kept", st)
	assert.NotZero(t, st.Bytes, "Stats = %+v, want 0 pending, 1 dead file, dead_total 1, bytes kept", st)
}

func TestScan_AnOutageLongerThanMaxFailuresScansKillsNoBatch(t *testing.T) {
	q := openTest(t, Options{})
	mustPut(t, q, "acme", records("outage", "acme", 2))
	s := newSink()
	s.setFail(fmt.Errorf("%w: dial tcp 127.0.0.1:9000: connection refused", ErrStoreUnavailable))
	for i := 1; i <= 25; i++ {
		res := scan(t, q, s.insert)
		require.Equal(t, 1, res.Failed, "scan %d during the outage = %+v, want 1 failed, none dead, a stop", i, res)
		require.Zero(t, res.Dead, "scan %d during the outage = %+v, want 1 failed, none dead, a stop", i, res)
		require.Error(t, res.Stopped, "scan %d during the outage = %+v, want 1 failed, none dead, a stop", i, res)
	}
	h := header(t, filepath.Join(q.Dir(), only(t, q.Dir(), StateBatch)))
	assert.Zero(t, h.Failures, "header after 25 outage scans = %+v, want failures 0, the last error and attempt", h)
	assert.Contains(t, h.LastError, "connection refused", "header after 25 outage scans = %+v, want failures 0, the last error and attempt", h)
	assert.NotNil(t, h.LastAttemptAt, "header after 25 outage scans = %+v, want failures 0, the last error and attempt", h)
	s.setFail(nil)
	scan(t, q, s.insert)
	assert.Equal(t, 2, s.total(), "after the outage: records delivered")
	assert.Empty(t, filesIn(t, q.Dir()), "after the outage: files, want none")
}

func TestScan_AnInvalidRecordErrorMakesTheBatchDeadAtOnceAndTheScanGoesOn(t *testing.T) {
	q := openTest(t, Options{})
	mustPut(t, q, "acme", records("bad", "acme", 1))
	mustPut(t, q, "acme", records("good", "acme", 2))
	s := newSink()
	insert := func(ctx context.Context, tenant string, rs []record.Record) error {
		if strings.HasPrefix(rs[0].ID, "bad") {
			return consumererror.NewPermanent(fmt.Errorf("sqlitestore: insert: record 0: %w", store.ErrInvalidRecord))
		}
		return s.insert(ctx, tenant, rs)
	}
	res := scan(t, q, insert)
	require.Equal(t, 1, res.Dead, "Scan = %+v, want 1 dead, 1 delivered, not stopped", res)
	require.Equal(t, 1, res.Delivered, "Scan = %+v, want 1 dead, 1 delivered, not stopped", res)
	require.NoError(t, res.Stopped, "Scan = %+v, want 1 dead, 1 delivered, not stopped", res)
	h := header(t, filepath.Join(q.Dir(), only(t, q.Dir(), StateDead)))
	assert.Equal(t, 1, h.Failures, "dead header = %+v", h)
	assert.Contains(t, h.LastError, "invalid record", "dead header = %+v", h)
	assert.Equal(t, 2, s.total(), "records the good batch delivered")
}

func TestScan_TheFirstFailureStopsTheScanSoADownStoreIsNotHammered(t *testing.T) {
	q := openTest(t, Options{})
	for i := range 3 {
		mustPut(t, q, "acme", records(fmt.Sprintf("b%d", i), "acme", 1))
	}
	s := newSink()
	s.setFail(errors.New("down"))
	res := scan(t, q, s.insert)
	assert.Equal(t, 1, s.calls, "insert called %d times, result %+v; want 1 call then stop", s.calls, res)
	assert.Equal(t, 1, res.Failed, "insert called %d times, result %+v; want 1 call then stop", s.calls, res)
	assert.Error(t, res.Stopped, "insert called %d times, result %+v; want 1 call then stop", s.calls, res)
}

func TestScan_DeliversOldestFirst(t *testing.T) {
	q := openTest(t, Options{})
	for _, tenant := range []string{"zeta", "alpha", "mid"} {
		mustPut(t, q, tenant, records(tenant, tenant, 1))
	}
	s := newSink()
	scan(t, q, s.insert)
	assert.Equal(t, "zeta,alpha,mid", strings.Join(s.tenants, ","), "delivery order, want creation order")
}

func TestScan_ATornOrAlteredFileIsSetAsideAsCorruptAndTheOthersAreDelivered(t *testing.T) {
	probe := openTest(t, Options{})
	mustPut(t, probe, "acme", records("x", "acme", 2))
	data, err := os.ReadFile(filepath.Join(probe.Dir(), only(t, probe.Dir(), StateBatch)))
	require.NoError(t, err)
	headerEnd := strings.IndexByte(string(data), '\n')
	trailerStart := strings.LastIndexByte(string(data[:len(data)-1]), '\n') + 1
	flipped := append([]byte(nil), data...)
	flipped[headerEnd+10] ^= 0x20

	cases := []struct {
		name    string
		content []byte
	}{
		{"an empty file", data[:0]},
		{"a file cut after one byte", data[:1]},
		{"a file cut inside the header", data[:headerEnd/2]},
		{"a file cut after the header", data[:headerEnd+1]},
		{"a file cut inside a record", data[:headerEnd+40]},
		{"a file cut before the trailer", data[:trailerStart]},
		{"a file cut inside the trailer", data[:trailerStart+20]},
		{"a file missing its last newline", data[:len(data)-1]},
		{"a file with one flipped bit in a record", flipped},
		{"a file that is not a batch at all", []byte("hello\nworld\n")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := openTest(t, Options{})
			mustPut(t, q, "acme", records("before", "acme", 1))
			bad := "acme_1_deadbeef"
			require.NoError(t, os.WriteFile(filepath.Join(q.Dir(), fileName(bad, StateBatch)), tc.content, 0o600))
			mustPut(t, q, "acme", records("after", "acme", 1))
			_, err := Open(q.Dir(), Options{}) // recount: the file is there
			require.NoError(t, err)

			s := newSink()
			res := scan(t, q, s.insert)
			assert.Equal(t, 1, res.Corrupt, "Scan = %+v, want 1 corrupt, 2 delivered", res)
			assert.Equal(t, 2, res.Delivered, "Scan = %+v, want 1 corrupt, 2 delivered", res)
			scan(t, q, s.insert) // delivers what was salvaged from the damaged file, if anything
			assert.Equal(t, []string{fileName(bad, StateCorrupt)}, filesIn(t, q.Dir()), "files, want only the corrupt one")
			kept, err := os.ReadFile(filepath.Join(q.Dir(), fileName(bad, StateCorrupt)))
			if assert.NoError(t, err, "corrupt file lost") {
				assert.Equal(t, string(tc.content), string(kept), "corrupt file content changed")
			}
			st := q.Stats()
			assert.Equal(t, 1, st.CorruptFiles, "Stats = %+v, want 1 corrupt file counted", st)
			assert.EqualValues(t, 1, st.Corrupted, "Stats = %+v, want 1 corrupt file counted", st)
			assert.Zero(t, st.Files, "Stats = %+v, want 1 corrupt file counted", st)
		})
	}
}

func TestStop_DuringAnInsertLeavesTheBatchDeliveredOrBackInTheQueue(t *testing.T) {
	cases := []struct {
		name string
		// insert runs after the test has called Stop.
		insert    func(ctx context.Context) error
		wantFiles int
	}{
		{"an insert that gives up on cancel leaves the batch queued with no failure counted",
			func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, 1},
		{"an insert that completes despite the cancel removes the batch",
			func(ctx context.Context) error { <-ctx.Done(); return nil }, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := openTest(t, Options{ScanInterval: time.Hour})
			mustPut(t, q, "acme", records("stop", "acme", 2))
			entered := make(chan struct{})
			require.NoError(t, q.Start(func(ctx context.Context, _ string, _ []record.Record) error {
				close(entered)
				return tc.insert(ctx)
			}))
			<-entered
			_, err := os.Stat(filepath.Join(q.Dir(), only(t, q.Dir(), StateProcessing)))
			require.NoError(t, err, "during the insert")
			q.Stop()
			got := filesIn(t, q.Dir())
			require.Len(t, got, tc.wantFiles, "files after Stop = %v", got)
			if tc.wantFiles == 1 {
				h := header(t, filepath.Join(q.Dir(), only(t, q.Dir(), StateBatch)))
				assert.Zero(t, h.Failures, "failures after a shutdown")
			}
		})
	}
}

func TestStart_ScansAtOnceAndKickStartsAnotherScanBeforeTheInterval(t *testing.T) {
	q := openTest(t, Options{ScanInterval: time.Hour})
	mustPut(t, q, "acme", records("early", "acme", 1))
	s := newSink()
	require.NoError(t, q.Start(s.insert))
	assert.Error(t, q.Start(s.insert), "second Start = nil, want an error")
	waitFor(t, func() bool { return s.total() == 1 })
	mustPut(t, q, "acme", records("kicked", "acme", 1))
	q.Kick()
	waitFor(t, func() bool { return s.total() == 2 })
	q.Stop()
	q.Stop()
}

func TestStop_IsSafeBeforeStart(t *testing.T) {
	q := openTest(t, Options{})
	q.Stop()
	q.Stop()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 5*time.Millisecond, "condition not met within 10s")
}

// A damaged batch file gives up only the records it damaged: the intact ones are salvaged
// into a new batch and delivered, the damaged file is kept as .corrupt, and the loss counted.
func TestScan_ADamagedFileLosesOnlyItsDamagedRecords(t *testing.T) {
	cases := []struct {
		name     string
		damage   func(data []byte) []byte
		wantLost int
	}{
		{"one flipped bit in the middle record", func(d []byte) []byte {
			lines := strings.SplitAfter(string(d), "\n")
			i := 1 + 250 // header, then records
			off := len(strings.Join(lines[:i], "")) + len(lines[i])/2
			d[off] ^= 0x01
			return d
		}, 1},
		{"cut in the middle of record 300", func(d []byte) []byte {
			lines := strings.SplitAfter(string(d), "\n")
			off := len(strings.Join(lines[:1+300], "")) + 20
			return d[:off]
		}, 200},
		{"a damaged header", func(d []byte) []byte { d[5] ^= 0x20; return d }, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := openTest(t, Options{})
			mustPut(t, q, "acme", records("big", "acme", 500))
			name := only(t, q.Dir(), StateBatch)
			path := filepath.Join(q.Dir(), name)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, c.damage(data), 0o600))
			s := newSink()
			scan(t, q, s.insert) // salvages into a new batch
			scan(t, q, s.insert) // delivers it
			require.Len(t, s.got["acme"], 500-c.wantLost, "records delivered (only the damaged ones lost)")
			st := q.Stats()
			assert.Equal(t, 1, st.CorruptFiles, "Stats = %+v; want 1 corrupt file, %d salvaged, %d lost", st, 500-c.wantLost, c.wantLost)
			assert.Equal(t, uint64(500-c.wantLost), st.SalvagedRecords, "Stats = %+v; want 1 corrupt file, %d salvaged, %d lost", st, 500-c.wantLost, c.wantLost)
			assert.Equal(t, uint64(c.wantLost), st.LostRecords, "Stats = %+v; want 1 corrupt file, %d salvaged, %d lost", st, 500-c.wantLost, c.wantLost)
			got := filesIn(t, q.Dir())
			if assert.Len(t, got, 1, "files = %v, want only the damaged file kept as .corrupt", got) {
				assert.True(t, strings.HasSuffix(got[0], "."+string(StateCorrupt)), "files = %v, want only the damaged file kept as .corrupt", got)
			}
		})
	}
}

// After a scan finds the store down, the next comes after the retry backoff rather than the
// scan interval: a short outage's backlog drains seconds after the store is back.
func TestRun_ScansAfterAFailureFollowTheRetryBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := openTest(t, Options{ScanInterval: time.Hour, RetryBackoff: configretry.BackOffConfig{
			Enabled: true, InitialInterval: time.Second, Multiplier: 2, MaxInterval: 4 * time.Second}})
		mustPut(t, q, "acme", records("b", "acme", 2))
		start := time.Now()
		var attempts []time.Duration
		delivered := make(chan struct{})
		require.NoError(t, q.Start(func(context.Context, string, []record.Record) error {
			attempts = append(attempts, time.Since(start))
			if len(attempts) < 5 {
				return errors.New("store down")
			}
			close(delivered)
			return nil
		}))
		<-delivered
		q.Stop()
		// Waits of 1s, 2s, 4s, 4s (max_interval), not the hour of scan_interval.
		assert.Equal(t, []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second, 11 * time.Second}, attempts)
	})
}
