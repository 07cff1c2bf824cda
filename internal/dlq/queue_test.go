package dlq

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

func TestPut_ThenScanDeliversEveryRecordExactlyOnceToARealStoreAndRemovesTheFile(t *testing.T) {
	ctx := context.Background()
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "audit.db")
	st, err := sqlitestore.Open(ctx, cfg)
	require.NoError(t, err)
	defer st.Close()

	q := openTest(t, Options{})
	recs := records("put", "acme", 5)
	mustPut(t, q, "acme", recs)
	s := q.Stats()
	require.Equal(t, 1, s.Files, "after Put, Stats = %+v, want 1 file, 1 put, some bytes", s)
	require.EqualValues(t, 1, s.Put, "after Put, Stats = %+v, want 1 file, 1 put, some bytes", s)
	require.Positive(t, s.Bytes, "after Put, Stats = %+v, want 1 file, 1 put, some bytes", s)

	calls := 0
	insert := func(ctx context.Context, tenant string, rs []record.Record) error {
		calls++
		_, err := st.Insert(ctx, tenant, rs)
		return err
	}
	res := scan(t, q, insert)
	require.Equal(t, 1, res.Delivered, "Scan = %+v, want 1 delivered", res)
	require.NoError(t, res.Stopped, "Scan = %+v, want 1 delivered", res)
	for _, want := range recs {
		got, err := st.Get(ctx, "acme", want.ID)
		require.NoErrorf(t, err, "Get(%s) after delivery", want.ID)
		assert.Empty(t, storetest.RecordDiff(want, got), "record %s changed on its way through the DLQ", want.ID)
	}
	assert.Empty(t, filesIn(t, q.Dir()), "directory after delivery, want empty")
	scan(t, q, insert)
	assert.Equal(t, 1, calls, "insert calls over two scans, want exactly 1")
	s = q.Stats()
	assert.Equal(t, 0, s.Files, "Stats after delivery = %+v, want 0 files, 0 bytes, 1 retried, 1 recovered", s)
	assert.EqualValues(t, 0, s.Bytes, "Stats after delivery = %+v, want 0 files, 0 bytes, 1 retried, 1 recovered", s)
	assert.EqualValues(t, 1, s.Recovered, "Stats after delivery = %+v, want 0 files, 0 bytes, 1 retried, 1 recovered", s)
	assert.EqualValues(t, 1, s.Retried, "Stats after delivery = %+v, want 0 files, 0 bytes, 1 retried, 1 recovered", s)
}

func TestPut_KeepsRecordsExactlyIncludingBigIntegersAndTheirTenant(t *testing.T) {
	q := openTest(t, Options{})
	recs := records("exact", "acme", 3)
	mustPut(t, q, "acme", recs)
	s := newSink()
	scan(t, q, s.insert)
	got := s.got["acme"]
	require.Len(t, got, len(recs), "delivered records")
	for i := range recs {
		assert.Empty(t, storetest.RecordDiff(recs[i], got[i]), "record %d", i)
		assert.Equal(t, int64(1<<62+1), got[i].Attributes["share.big"], "record %d: share.big", i)
	}
}

func TestPut_KeepsABatchWhoseNumbersJSONCannotRepresent(t *testing.T) {
	q := openTest(t, Options{})
	r := records("nan", "acme", 1)[0]
	r.DurationMS = math.NaN()
	r.Attributes["ratio"] = math.Inf(1)
	require.NoError(t, q.Put("acme", []record.Record{r}, nil), "Put with NaN and +Inf, want the batch kept")
	s := newSink()
	scan(t, q, s.insert)
	got := s.got["acme"]
	require.Len(t, got, 1, "delivered %+v, want the record with duration 0 and ratio \"+Inf\"", got)
	require.Equal(t, r.ID, got[0].ID, "delivered %+v, want the record with duration 0 and ratio \"+Inf\"", got)
	require.Zero(t, got[0].DurationMS, "delivered %+v, want the record with duration 0 and ratio \"+Inf\"", got)
	require.Equal(t, "+Inf", got[0].Attributes["ratio"], "delivered %+v, want the record with duration 0 and ratio \"+Inf\"", got)
}

func TestPut_WithNoRecordsWritesNothing(t *testing.T) {
	q := openTest(t, Options{})
	require.NoError(t, q.Put("acme", nil, errors.New("x")))
	assert.Empty(t, filesIn(t, q.Dir()), "files, want none")
}

func TestPut_RecordsCauseAndTenantInTheHeader(t *testing.T) {
	q := openTest(t, Options{})
	require.NoError(t, q.Put("acme", records("h", "acme", 2), errors.New("database is locked")))
	h := header(t, filepath.Join(q.Dir(), only(t, q.Dir(), StateBatch)))
	assert.Equal(t, formatName, h.Format, "header = %+v", h)
	assert.Equal(t, formatVersion, h.Version, "header = %+v", h)
	assert.Equal(t, "acme", h.Tenant, "header = %+v", h)
	assert.Equal(t, 2, h.Records, "header = %+v", h)
	assert.Equal(t, 0, h.Failures, "header = %+v", h)
	assert.Equal(t, "database is locked", h.LastError, "header = %+v", h)
	assert.WithinDuration(t, t0.Add(time.Millisecond), h.CreatedAt, 0, "header = %+v", h)
}

func TestPut_ReturnsErrFullAtTheCapAndWritesNothingUntilSpaceIsFreed(t *testing.T) {
	// Measure one batch's size, then cap the queue at two and a half of them.
	probe := openTest(t, Options{})
	mustPut(t, probe, "acme", records("p", "acme", 4))
	one := probe.Stats().Bytes

	q := openTest(t, Options{MaxBytes: one*5/2 + 1})
	mustPut(t, q, "acme", records("a", "acme", 4))
	mustPut(t, q, "acme", records("b", "acme", 4))
	err := q.Put("acme", records("c", "acme", 4), errors.New("down"))
	require.ErrorIs(t, err, ErrFull, "third Put")
	assert.Len(t, filesIn(t, q.Dir()), 2, "files after a refused Put, want 2 (nothing written)")
	s := q.Stats()
	assert.EqualValues(t, 1, s.Full, "Stats = %+v, want full_total 1 and 2 files", s)
	assert.Equal(t, 2, s.Files, "Stats = %+v, want full_total 1 and 2 files", s)
	scan(t, q, newSink().insert)
	assert.NoError(t, q.Put("acme", records("c", "acme", 4), errors.New("down")), "Put after the backlog was delivered, want room again")
}

func TestPut_CountsDeadFilesAgainstTheCap(t *testing.T) {
	probe := openTest(t, Options{})
	mustPut(t, probe, "acme", records("p", "acme", 4))
	one := probe.Stats().Bytes

	q := openTest(t, Options{MaxBytes: one*3/2 + 100})
	mustPut(t, q, "acme", records("a", "acme", 4))
	scan(t, q, func(context.Context, string, []record.Record) error {
		return consumererror.NewPermanent(fmt.Errorf("sqlite: %w: timestamp out of range", store.ErrInvalidRecord))
	})
	only(t, q.Dir(), StateDead)
	assert.ErrorIs(t, q.Put("acme", records("b", "acme", 4), nil), ErrFull, "Put beside a dead file filling the cap")
}

func TestPut_ConcurrentPutsWhileScanningAllArriveExactlyOnce(t *testing.T) {
	q := openTest(t, Options{})
	s := newSink()
	const writers, perWriter, size = 8, 15, 3
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tenant := fmt.Sprintf("t%d", w%3)
			for i := range perWriter {
				if !assert.NoError(t, q.Put(tenant, records(fmt.Sprintf("w%d-%d", w, i), tenant, size), nil), "Put") {
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		for {
			select {
			case <-stop:
				return
			default:
				_, err := q.Scan(context.Background(), s.insert)
				assert.NoError(t, err, "Scan")
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-scanned
	scan(t, q, s.insert)

	seen := map[string]int{}
	for tenant, rs := range s.got {
		for _, r := range rs {
			seen[r.ID]++
			assert.Equal(t, tenant, r.TenantID, "record %s delivered under tenant %s", r.ID, tenant)
		}
	}
	assert.Len(t, seen, writers*perWriter*size, "distinct records delivered")
	for id, n := range seen {
		assert.Equal(t, 1, n, "record %s delivery count", id)
	}
	st := q.Stats()
	assert.EqualValues(t, writers*perWriter, st.Put, "Stats = %+v, want %d put and recovered, nothing left", st, writers*perWriter)
	assert.EqualValues(t, writers*perWriter, st.Recovered, "Stats = %+v, want %d put and recovered, nothing left", st, writers*perWriter)
	assert.Equal(t, 0, st.Files, "Stats = %+v, want %d put and recovered, nothing left", st, writers*perWriter)
	assert.EqualValues(t, 0, st.Bytes, "Stats = %+v, want %d put and recovered, nothing left", st, writers*perWriter)
}

func TestOpen_ReturnsProcessingFilesToTheQueueAndRemovesUnfinishedTempFiles(t *testing.T) {
	dir := t.TempDir()
	q := openAt(t, dir, Options{})
	mustPut(t, q, "acme", records("crash", "acme", 2))
	name := only(t, dir, StateBatch)
	id, _, _ := splitName(name)
	// What a crash mid-insert and a crash mid-Put leave behind.
	require.NoError(t, os.Rename(filepath.Join(dir, name), filepath.Join(dir, fileName(id, StateProcessing))))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "acme_1_00.123"+tmpExt), []byte("half a batc"), 0o600))

	q2 := openAt(t, dir, Options{})
	require.Equal(t, []string{name}, filesIn(t, dir), "files after Open, want only %s", name)
	assert.Equal(t, 1, q2.Stats().Files, "Stats.Files after recovery")
	sk := newSink()
	scan(t, q2, sk.insert)
	assert.Equal(t, 2, sk.total(), "records delivered after recovery")
}

func TestOpen_RefusesNegativeOptionsNamingTheField(t *testing.T) {
	cases := []struct {
		name  string
		opts  Options
		field string
	}{
		{"a negative scan interval is refused", Options{ScanInterval: -time.Second}, "scan_interval"},
		{"a negative failure limit is refused", Options{MaxFailures: -1}, "max_failures"},
		{"a negative byte cap is refused", Options{MaxBytes: -1}, "max_bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(t.TempDir(), tc.opts)
			assert.ErrorContains(t, err, tc.field, "Open, want an error naming %s", tc.field)
		})
	}
}

func TestOpen_FillsDefaults(t *testing.T) {
	q := openTest(t, Options{})
	assert.Equal(t, 60*time.Second, q.opts.ScanInterval, "defaults = %+v", q.opts)
	assert.Equal(t, 10, q.opts.MaxFailures, "defaults = %+v", q.opts)
	assert.EqualValues(t, 1<<30, q.opts.MaxBytes, "defaults = %+v", q.opts)
	assert.EqualValues(t, 1<<30, q.Stats().MaxBytes, "Stats.MaxBytes")
}
