package dlq

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"

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
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	q := openTest(t, Options{})
	recs := records("put", "acme", 5)
	mustPut(t, q, "acme", recs)
	if s := q.Stats(); s.Files != 1 || s.Put != 1 || s.Bytes <= 0 {
		t.Fatalf("after Put, Stats = %+v, want 1 file, 1 put, some bytes", s)
	}

	calls := 0
	insert := func(ctx context.Context, tenant string, rs []record.Record) error {
		calls++
		_, err := st.Insert(ctx, tenant, rs)
		return err
	}
	res := scan(t, q, insert)
	if res.Delivered != 1 || res.Stopped != nil {
		t.Fatalf("Scan = %+v, want 1 delivered", res)
	}
	for _, want := range recs {
		got, err := st.Get(ctx, "acme", want.ID)
		if err != nil {
			t.Fatalf("Get(%s) after delivery = %v", want.ID, err)
		}
		if d := storetest.RecordDiff(want, got); d != "" {
			t.Errorf("record %s changed on its way through the DLQ: %s", want.ID, d)
		}
	}
	if names := filesIn(t, q.Dir()); len(names) != 0 {
		t.Errorf("directory after delivery = %v, want empty", names)
	}
	scan(t, q, insert)
	if calls != 1 {
		t.Errorf("insert called %d times over two scans, want exactly 1", calls)
	}
	if s := q.Stats(); s.Files != 0 || s.Bytes != 0 || s.Recovered != 1 || s.Retried != 1 {
		t.Errorf("Stats after delivery = %+v, want 0 files, 0 bytes, 1 retried, 1 recovered", s)
	}
}

func TestPut_KeepsRecordsExactlyIncludingBigIntegersAndTheirTenant(t *testing.T) {
	q := openTest(t, Options{})
	recs := records("exact", "acme", 3)
	mustPut(t, q, "acme", recs)
	s := newSink()
	scan(t, q, s.insert)
	got := s.got["acme"]
	if len(got) != len(recs) {
		t.Fatalf("delivered %d records, want %d", len(got), len(recs))
	}
	for i := range recs {
		if d := storetest.RecordDiff(recs[i], got[i]); d != "" {
			t.Errorf("record %d: %s", i, d)
		}
		if v, ok := got[i].Attributes["share.big"].(int64); !ok || v != 1<<62+1 {
			t.Errorf("record %d: share.big = %#v, want int64 %d", i, got[i].Attributes["share.big"], int64(1<<62+1))
		}
	}
}

func TestPut_KeepsABatchWhoseNumbersJSONCannotRepresent(t *testing.T) {
	q := openTest(t, Options{})
	r := records("nan", "acme", 1)[0]
	r.DurationMS = math.NaN()
	r.Attributes["ratio"] = math.Inf(1)
	if err := q.Put("acme", []record.Record{r}, nil); err != nil {
		t.Fatalf("Put with NaN and +Inf = %v, want the batch kept", err)
	}
	s := newSink()
	scan(t, q, s.insert)
	got := s.got["acme"]
	if len(got) != 1 || got[0].ID != r.ID || got[0].DurationMS != 0 || got[0].Attributes["ratio"] != "+Inf" {
		t.Fatalf("delivered %+v, want the record with duration 0 and ratio \"+Inf\"", got)
	}
}

func TestPut_WithNoRecordsWritesNothing(t *testing.T) {
	q := openTest(t, Options{})
	if err := q.Put("acme", nil, errors.New("x")); err != nil {
		t.Fatal(err)
	}
	if names := filesIn(t, q.Dir()); len(names) != 0 {
		t.Errorf("files = %v, want none", names)
	}
}

func TestPut_RecordsCauseAndTenantInTheHeader(t *testing.T) {
	q := openTest(t, Options{})
	if err := q.Put("acme", records("h", "acme", 2), errors.New("database is locked")); err != nil {
		t.Fatal(err)
	}
	h := header(t, filepath.Join(q.Dir(), only(t, q.Dir(), StateBatch)))
	if h.Format != formatName || h.Version != formatVersion || h.Tenant != "acme" || h.Records != 2 || h.Failures != 0 ||
		h.LastError != "database is locked" || !h.CreatedAt.Equal(t0.Add(time.Millisecond)) {
		t.Errorf("header = %+v", h)
	}
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
	if !errors.Is(err, ErrFull) {
		t.Fatalf("third Put = %v, want ErrFull", err)
	}
	if n := len(filesIn(t, q.Dir())); n != 2 {
		t.Errorf("%d files after a refused Put, want 2 (nothing written)", n)
	}
	if s := q.Stats(); s.Full != 1 || s.Files != 2 {
		t.Errorf("Stats = %+v, want full_total 1 and 2 files", s)
	}
	scan(t, q, newSink().insert)
	if err := q.Put("acme", records("c", "acme", 4), errors.New("down")); err != nil {
		t.Errorf("Put after the backlog was delivered = %v, want room again", err)
	}
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
	if err := q.Put("acme", records("b", "acme", 4), nil); !errors.Is(err, ErrFull) {
		t.Errorf("Put beside a dead file filling the cap = %v, want ErrFull", err)
	}
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
				if err := q.Put(tenant, records(fmt.Sprintf("w%d-%d", w, i), tenant, size), nil); err != nil {
					t.Errorf("Put = %v", err)
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
				if _, err := q.Scan(context.Background(), s.insert); err != nil {
					t.Errorf("Scan = %v", err)
				}
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
			if r.TenantID != tenant {
				t.Errorf("record %s of tenant %s delivered under %s", r.ID, r.TenantID, tenant)
			}
		}
	}
	if len(seen) != writers*perWriter*size {
		t.Errorf("%d distinct records delivered, want %d", len(seen), writers*perWriter*size)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("record %s delivered %d times", id, n)
		}
	}
	if st := q.Stats(); st.Put != writers*perWriter || st.Recovered != writers*perWriter || st.Files != 0 || st.Bytes != 0 {
		t.Errorf("Stats = %+v, want %d put and recovered, nothing left", st, writers*perWriter)
	}
}

func TestOpen_ReturnsProcessingFilesToTheQueueAndRemovesUnfinishedTempFiles(t *testing.T) {
	dir := t.TempDir()
	q := openAt(t, dir, Options{})
	mustPut(t, q, "acme", records("crash", "acme", 2))
	name := only(t, dir, StateBatch)
	id, _, _ := splitName(name)
	// What a crash mid-insert and a crash mid-Put leave behind.
	if err := os.Rename(filepath.Join(dir, name), filepath.Join(dir, fileName(id, StateProcessing))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "acme_1_00.123"+tmpExt), []byte("half a batc"), 0o600); err != nil {
		t.Fatal(err)
	}

	q2 := openAt(t, dir, Options{})
	if got := filesIn(t, dir); len(got) != 1 || got[0] != name {
		t.Fatalf("files after Open = %v, want only %s", got, name)
	}
	if s := q2.Stats(); s.Files != 1 {
		t.Errorf("Stats after recovery = %+v, want 1 file", s)
	}
	sk := newSink()
	scan(t, q2, sk.insert)
	if sk.total() != 2 {
		t.Errorf("delivered %d records after recovery, want 2", sk.total())
	}
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
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("Open = %v, want an error naming %s", err, tc.field)
			}
		})
	}
}

func TestOpen_FillsDefaults(t *testing.T) {
	q := openTest(t, Options{})
	if q.opts.ScanInterval != 60*time.Second || q.opts.MaxFailures != 10 || q.opts.MaxBytes != 1<<30 {
		t.Errorf("defaults = %+v", q.opts)
	}
	if s := q.Stats(); s.MaxBytes != 1<<30 {
		t.Errorf("Stats.MaxBytes = %d", s.MaxBytes)
	}
}
