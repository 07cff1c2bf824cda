package dlq

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// deadQueue returns a queue holding one dead batch (invalid records) and one pending batch.
func deadQueue(t *testing.T) (*Queue, string) {
	t.Helper()
	q := openTest(t, Options{})
	mustPut(t, q, "acme", records("dead", "acme", 2))
	scan(t, q, func(context.Context, string, []record.Record) error {
		return consumererror.NewPermanent(store.ErrInvalidRecord)
	})
	mustPut(t, q, "globex", records("queued", "globex", 3))
	return q, only(t, q.Dir(), StateDead)
}

func TestList_DescribesEveryFileOldestFirstAndFlagsCorruptOnes(t *testing.T) {
	q, dead := deadQueue(t)
	torn := "acme_9999999999999_0000000000000000.batch"
	data, _ := os.ReadFile(filepath.Join(q.Dir(), dead))
	if err := os.WriteFile(filepath.Join(q.Dir(), torn), data[:len(data)-10], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(q.Dir(), "notes.txt"), []byte("operator notes"), 0o600); err != nil {
		t.Fatal(err)
	}

	got, err := List(q.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("List = %+v, want 3 entries (notes.txt is not a batch)", got)
	}
	if got[0].Name != dead || got[0].State != StateDead || got[0].Tenant != "acme" || got[0].Records != 2 ||
		got[0].Failures != 1 || got[0].LastError != "invalid record" || got[0].Problem != "" {
		t.Errorf("dead entry = %+v", got[0])
	}
	if got[1].State != StateBatch || got[1].Tenant != "globex" || got[1].Records != 3 || got[1].Failures != 0 || got[1].Bytes == 0 {
		t.Errorf("pending entry = %+v", got[1])
	}
	if got[2].Name != torn || got[2].Problem == "" || got[2].Tenant != "acme" {
		t.Errorf("torn entry = %+v, want a problem and the tenant from its intact header", got[2])
	}
}

func TestList_OfAMissingDirectoryIsAnError(t *testing.T) {
	got, err := List(filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, os.ErrNotExist) || len(got) != 0 {
		t.Errorf("List = %v, %v; want an error wrapping os.ErrNotExist: a mistyped directory is not an empty queue", got, err)
	}
}

func TestInspect_FindsABatchByFileNameOrByIDInAnyState(t *testing.T) {
	q, dead := deadQueue(t)
	id, _, _ := splitName(dead)
	for _, name := range []string{dead, id} {
		in, err := Inspect(q.Dir(), name)
		if err != nil {
			t.Fatalf("Inspect(%s) = %v", name, err)
		}
		if in.Name != dead || in.State != StateDead || in.Header.Tenant != "acme" || len(in.Records) != 2 || in.Records[0].ID != "dead-0000" {
			t.Errorf("Inspect(%s) = %+v", name, in)
		}
	}
}

func TestInspect_RefusesNamesOutsideTheDirectory(t *testing.T) {
	q, _ := deadQueue(t)
	for _, name := range []string{"../x.batch", "/etc/passwd", "a/b.dead", "..", "", "x\x00.dead", "missing.dead"} {
		if _, err := Inspect(q.Dir(), name); !errors.Is(err, ErrNotFound) {
			t.Errorf("Inspect(%q) = %v, want ErrNotFound", name, err)
		}
	}
}

func TestRequeue_ADeadBatchGoesBackWithItsFailureCountResetAndIsDelivered(t *testing.T) {
	q, dead := deadQueue(t)
	name, err := Requeue(q.Dir(), dead)
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := splitName(dead)
	if name != fileName(id, StateBatch) {
		t.Errorf("Requeue = %s, want %s", name, fileName(id, StateBatch))
	}
	h := header(t, filepath.Join(q.Dir(), name))
	if h.Failures != 0 || h.Requeues != 1 || h.LastError != "invalid record" {
		t.Errorf("header after requeue = %+v, want failures 0, requeues 1, last error kept", h)
	}
	s := newSink()
	scan(t, q, s.insert)
	if len(s.got["acme"]) != 2 || len(s.got["globex"]) != 3 {
		t.Errorf("delivered %v", s.got)
	}
	if st := q.Stats(); st.DeadFiles != 0 || st.Files != 0 {
		t.Errorf("Stats after requeue and delivery = %+v", st)
	}
}

func TestRequeue_RefusesABatchThatIsNotDead(t *testing.T) {
	q, _ := deadQueue(t)
	pending := only(t, q.Dir(), StateBatch)
	if _, err := Requeue(q.Dir(), pending); !errors.Is(err, ErrNotDead) {
		t.Errorf("Requeue(%s) = %v, want ErrNotDead", pending, err)
	}
	if _, err := Requeue(q.Dir(), "nothing_1_0000000000000000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Requeue(missing) = %v, want ErrNotFound", err)
	}
}

func TestRequeueAllDead_RequeuesEveryDeadBatchAndNothingElse(t *testing.T) {
	q := openTest(t, Options{})
	for _, p := range []string{"a", "b", "c"} {
		mustPut(t, q, "acme", records(p, "acme", 1))
		scan(t, q, func(context.Context, string, []record.Record) error {
			return consumererror.NewPermanent(store.ErrInvalidRecord)
		})
	}
	mustPut(t, q, "acme", records("pending", "acme", 1))
	names, err := RequeueAllDead(q.Dir())
	if err != nil || len(names) != 3 {
		t.Fatalf("RequeueAllDead = %v, %v; want 3 names", names, err)
	}
	entries, _ := List(q.Dir())
	for _, e := range entries {
		if e.State != StateBatch {
			t.Errorf("%s is %s after RequeueAllDead", e.Name, e.State)
		}
	}
	if len(entries) != 4 {
		t.Errorf("%d entries, want 4", len(entries))
	}
}
