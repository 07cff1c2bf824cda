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
	if res.Failed != 1 || res.Dead != 0 || res.Stopped == nil {
		t.Fatalf("Scan = %+v, want 1 failed, a stop error", res)
	}
	h := header(t, filepath.Join(q.Dir(), only(t, q.Dir(), StateBatch)))
	if h.Failures != 1 || !strings.Contains(h.LastError, "connection refused") || h.LastAttemptAt == nil {
		t.Errorf("header after one failure = %+v, want failures 1, the error and an attempt time", h)
	}
	if st := q.Stats(); st.Files != 1 || st.Retried != 1 || st.Recovered != 0 {
		t.Errorf("Stats = %+v", st)
	}

	s.setFail(nil)
	scan(t, q, s.insert)
	if s.total() != 3 || len(filesIn(t, q.Dir())) != 0 {
		t.Errorf("after the store is back: delivered %d, files %v; want 3 and none", s.total(), filesIn(t, q.Dir()))
	}
}

func TestScan_TheTenthFailureMakesTheBatchDeadAndItIsNotRetried(t *testing.T) {
	q := openTest(t, Options{})
	mustPut(t, q, "acme", records("poison", "acme", 1))
	s := newSink()
	s.setFail(errors.New("boom"))
	for i := 1; i <= 9; i++ {
		scan(t, q, s.insert)
		if h := header(t, filepath.Join(q.Dir(), only(t, q.Dir(), StateBatch))); h.Failures != i {
			t.Fatalf("after scan %d: failures = %d", i, h.Failures)
		}
	}
	res := scan(t, q, s.insert)
	if res.Dead != 1 {
		t.Fatalf("10th scan = %+v, want the batch dead", res)
	}
	if h := header(t, filepath.Join(q.Dir(), only(t, q.Dir(), StateDead))); h.Failures != 10 || h.LastError != "boom" {
		t.Errorf("dead header = %+v", h)
	}
	scan(t, q, s.insert)
	if s.calls != 10 {
		t.Errorf("insert called %d times, want 10 (a dead batch is not retried)", s.calls)
	}
	if st := q.Stats(); st.Files != 0 || st.DeadFiles != 1 || st.Dead != 1 || st.Bytes == 0 {
		t.Errorf("Stats = %+v, want 0 pending, 1 dead file, dead_total 1, bytes kept", st)
	}
}

func TestScan_AnOutageLongerThanMaxFailuresScansKillsNoBatch(t *testing.T) {
	q := openTest(t, Options{})
	mustPut(t, q, "acme", records("outage", "acme", 2))
	s := newSink()
	s.setFail(fmt.Errorf("%w: dial tcp 127.0.0.1:9000: connection refused", ErrStoreUnavailable))
	for i := 1; i <= 25; i++ {
		if res := scan(t, q, s.insert); res.Failed != 1 || res.Dead != 0 || res.Stopped == nil {
			t.Fatalf("scan %d during the outage = %+v, want 1 failed, none dead, a stop", i, res)
		}
	}
	h := header(t, filepath.Join(q.Dir(), only(t, q.Dir(), StateBatch)))
	if h.Failures != 0 || !strings.Contains(h.LastError, "connection refused") || h.LastAttemptAt == nil {
		t.Errorf("header after 25 outage scans = %+v, want failures 0, the last error and attempt", h)
	}
	s.setFail(nil)
	scan(t, q, s.insert)
	if s.total() != 2 || len(filesIn(t, q.Dir())) != 0 {
		t.Errorf("after the outage: delivered %d, files %v; want 2 and none", s.total(), filesIn(t, q.Dir()))
	}
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
	if res.Dead != 1 || res.Delivered != 1 || res.Stopped != nil {
		t.Fatalf("Scan = %+v, want 1 dead, 1 delivered, not stopped", res)
	}
	if h := header(t, filepath.Join(q.Dir(), only(t, q.Dir(), StateDead))); h.Failures != 1 || !strings.Contains(h.LastError, "invalid record") {
		t.Errorf("dead header = %+v", h)
	}
	if s.total() != 2 {
		t.Errorf("good batch delivered %d records, want 2", s.total())
	}
}

func TestScan_TheFirstFailureStopsTheScanSoADownStoreIsNotHammered(t *testing.T) {
	q := openTest(t, Options{})
	for i := range 3 {
		mustPut(t, q, "acme", records(fmt.Sprintf("b%d", i), "acme", 1))
	}
	s := newSink()
	s.setFail(errors.New("down"))
	res := scan(t, q, s.insert)
	if s.calls != 1 || res.Failed != 1 || res.Stopped == nil {
		t.Errorf("insert called %d times, result %+v; want 1 call then stop", s.calls, res)
	}
}

func TestScan_DeliversOldestFirst(t *testing.T) {
	q := openTest(t, Options{})
	for _, tenant := range []string{"zeta", "alpha", "mid"} {
		mustPut(t, q, tenant, records(tenant, tenant, 1))
	}
	s := newSink()
	scan(t, q, s.insert)
	if got := strings.Join(s.tenants, ","); got != "zeta,alpha,mid" {
		t.Errorf("delivery order = %s, want zeta,alpha,mid (creation order)", got)
	}
}

func TestScan_ATornOrAlteredFileIsSetAsideAsCorruptAndTheOthersAreDelivered(t *testing.T) {
	probe := openTest(t, Options{})
	mustPut(t, probe, "acme", records("x", "acme", 2))
	data, err := os.ReadFile(filepath.Join(probe.Dir(), only(t, probe.Dir(), StateBatch)))
	if err != nil {
		t.Fatal(err)
	}
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
			if err := os.WriteFile(filepath.Join(q.Dir(), fileName(bad, StateBatch)), tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			mustPut(t, q, "acme", records("after", "acme", 1))
			if _, err := Open(q.Dir(), Options{}); err != nil { // recount: the file is there
				t.Fatal(err)
			}

			s := newSink()
			res := scan(t, q, s.insert)
			if res.Corrupt != 1 || res.Delivered != 2 {
				t.Errorf("Scan = %+v, want 1 corrupt, 2 delivered", res)
			}
			scan(t, q, s.insert) // delivers what was salvaged from the damaged file, if anything
			if got := filesIn(t, q.Dir()); len(got) != 1 || got[0] != fileName(bad, StateCorrupt) {
				t.Errorf("files = %v, want only %s", got, fileName(bad, StateCorrupt))
			}
			kept, err := os.ReadFile(filepath.Join(q.Dir(), fileName(bad, StateCorrupt)))
			if err != nil || string(kept) != string(tc.content) {
				t.Errorf("corrupt file content changed or lost: %v", err)
			}
			if st := q.Stats(); st.CorruptFiles != 1 || st.Corrupted != 1 || st.Files != 0 {
				t.Errorf("Stats = %+v, want 1 corrupt file counted", st)
			}
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
			if err := q.Start(func(ctx context.Context, _ string, _ []record.Record) error {
				close(entered)
				return tc.insert(ctx)
			}); err != nil {
				t.Fatal(err)
			}
			<-entered
			if _, err := os.Stat(filepath.Join(q.Dir(), only(t, q.Dir(), StateProcessing))); err != nil {
				t.Fatalf("during the insert: %v", err)
			}
			q.Stop()
			got := filesIn(t, q.Dir())
			if len(got) != tc.wantFiles {
				t.Fatalf("files after Stop = %v, want %d", got, tc.wantFiles)
			}
			if tc.wantFiles == 1 {
				if h := header(t, filepath.Join(q.Dir(), only(t, q.Dir(), StateBatch))); h.Failures != 0 {
					t.Errorf("failures after a shutdown = %d, want 0", h.Failures)
				}
			}
		})
	}
}

func TestStart_ScansAtOnceAndKickStartsAnotherScanBeforeTheInterval(t *testing.T) {
	q := openTest(t, Options{ScanInterval: time.Hour})
	mustPut(t, q, "acme", records("early", "acme", 1))
	s := newSink()
	if err := q.Start(s.insert); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(s.insert); err == nil {
		t.Error("second Start = nil, want an error")
	}
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
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
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
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, c.damage(data), 0o600); err != nil {
				t.Fatal(err)
			}
			s := newSink()
			scan(t, q, s.insert) // salvages into a new batch
			scan(t, q, s.insert) // delivers it
			if got := len(s.got["acme"]); got != 500-c.wantLost {
				t.Fatalf("%d records delivered, want %d (only the damaged ones lost)", got, 500-c.wantLost)
			}
			st := q.Stats()
			if st.CorruptFiles != 1 || st.SalvagedRecords != uint64(500-c.wantLost) || st.LostRecords != uint64(c.wantLost) {
				t.Errorf("Stats = %+v; want 1 corrupt file, %d salvaged, %d lost", st, 500-c.wantLost, c.wantLost)
			}
			if got := filesIn(t, q.Dir()); len(got) != 1 || !strings.HasSuffix(got[0], "."+string(StateCorrupt)) {
				t.Errorf("files = %v, want only the damaged file kept as .corrupt", got)
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
