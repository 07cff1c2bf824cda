package dlq

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, os.WriteFile(filepath.Join(q.Dir(), torn), data[:len(data)-10], 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(q.Dir(), "notes.txt"), []byte("operator notes"), 0o600))

	got, err := List(q.Dir())
	require.NoError(t, err)
	require.Len(t, got, 3, "List = %+v, want 3 entries (notes.txt is not a batch)", got)
	assert.Equal(t, dead, got[0].Name, "dead entry = %+v", got[0])
	assert.Equal(t, StateDead, got[0].State, "dead entry = %+v", got[0])
	assert.Equal(t, "acme", got[0].Tenant, "dead entry = %+v", got[0])
	assert.Equal(t, 2, got[0].Records, "dead entry = %+v", got[0])
	assert.Equal(t, 1, got[0].Failures, "dead entry = %+v", got[0])
	assert.Equal(t, "invalid record", got[0].LastError, "dead entry = %+v", got[0])
	assert.Empty(t, got[0].Problem, "dead entry = %+v", got[0])

	assert.Equal(t, StateBatch, got[1].State, "pending entry = %+v", got[1])
	assert.Equal(t, "globex", got[1].Tenant, "pending entry = %+v", got[1])
	assert.Equal(t, 3, got[1].Records, "pending entry = %+v", got[1])
	assert.Equal(t, 0, got[1].Failures, "pending entry = %+v", got[1])
	assert.NotZero(t, got[1].Bytes, "pending entry = %+v", got[1])

	assert.Equal(t, torn, got[2].Name, "torn entry = %+v", got[2])
	assert.NotEmpty(t, got[2].Problem, "torn entry = %+v, want a problem and the tenant from its intact header", got[2])
	assert.Equal(t, "acme", got[2].Tenant, "torn entry = %+v, want a problem and the tenant from its intact header", got[2])
}

func TestList_OfAMissingDirectoryIsAnError(t *testing.T) {
	got, err := List(filepath.Join(t.TempDir(), "nope"))
	assert.ErrorIs(t, err, os.ErrNotExist, "want an error wrapping os.ErrNotExist: a mistyped directory is not an empty queue")
	assert.Empty(t, got, "List of a missing directory")
}

func TestInspect_FindsABatchByFileNameOrByIDInAnyState(t *testing.T) {
	q, dead := deadQueue(t)
	id, _, _ := splitName(dead)
	for _, name := range []string{dead, id} {
		in, err := Inspect(q.Dir(), name)
		require.NoErrorf(t, err, "Inspect(%s)", name)
		assert.Equal(t, dead, in.Name, "Inspect(%s) = %+v", name, in)
		assert.Equal(t, StateDead, in.State, "Inspect(%s) = %+v", name, in)
		assert.Equal(t, "acme", in.Header.Tenant, "Inspect(%s) = %+v", name, in)
		if assert.Len(t, in.Records, 2, "Inspect(%s) = %+v", name, in) {
			assert.Equal(t, "dead-0000", in.Records[0].ID, "Inspect(%s) = %+v", name, in)
		}
	}
}

func TestInspect_RefusesNamesOutsideTheDirectory(t *testing.T) {
	q, _ := deadQueue(t)
	for _, name := range []string{"../x.batch", "/etc/passwd", "a/b.dead", "..", "", "x\x00.dead", "missing.dead"} {
		_, err := Inspect(q.Dir(), name)
		assert.ErrorIs(t, err, ErrNotFound, "Inspect(%q)", name)
	}
}

func TestRequeue_ADeadBatchGoesBackWithItsFailureCountResetAndIsDelivered(t *testing.T) {
	q, dead := deadQueue(t)
	name, err := Requeue(q.Dir(), dead)
	require.NoError(t, err)
	id, _, _ := splitName(dead)
	assert.Equal(t, fileName(id, StateBatch), name, "Requeue")
	h := header(t, filepath.Join(q.Dir(), name))
	assert.Equal(t, 0, h.Failures, "header after requeue = %+v, want failures 0, requeues 1, last error kept", h)
	assert.Equal(t, 1, h.Requeues, "header after requeue = %+v, want failures 0, requeues 1, last error kept", h)
	assert.Equal(t, "invalid record", h.LastError, "header after requeue = %+v, want failures 0, requeues 1, last error kept", h)
	s := newSink()
	scan(t, q, s.insert)
	assert.Len(t, s.got["acme"], 2, "delivered %v", s.got)
	assert.Len(t, s.got["globex"], 3, "delivered %v", s.got)
	st := q.Stats()
	assert.Equal(t, 0, st.DeadFiles, "Stats after requeue and delivery = %+v", st)
	assert.Equal(t, 0, st.Files, "Stats after requeue and delivery = %+v", st)
}

func TestRequeue_RefusesABatchThatIsNotDead(t *testing.T) {
	q, _ := deadQueue(t)
	pending := only(t, q.Dir(), StateBatch)
	_, err := Requeue(q.Dir(), pending)
	assert.ErrorIs(t, err, ErrNotDead, "Requeue(%s)", pending)
	_, err = Requeue(q.Dir(), "nothing_1_0000000000000000")
	assert.ErrorIs(t, err, ErrNotFound, "Requeue(missing)")
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
	require.NoError(t, err, "RequeueAllDead")
	require.Len(t, names, 3, "RequeueAllDead = %v; want 3 names", names)
	entries, _ := List(q.Dir())
	for _, e := range entries {
		assert.Equal(t, StateBatch, e.State, "%s after RequeueAllDead", e.Name)
	}
	assert.Len(t, entries, 4)
}
