package dlq

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

var t0 = time.Date(2026, 11, 23, 1, 40, 0, 123456789, time.UTC)

// openTest opens a queue in a fresh temp dir whose clock advances 1ms per call, so that
// batches get distinct, ordered creation times.
func openTest(t *testing.T, opts Options) *Queue {
	t.Helper()
	return openAt(t, t.TempDir(), opts)
}

func openAt(t *testing.T, dir string, opts Options) *Queue {
	t.Helper()
	q, err := Open(dir, opts)
	require.NoErrorf(t, err, "Open(%s)", dir)
	var mu sync.Mutex
	now := t0
	q.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Millisecond)
		return now
	}
	t.Cleanup(q.Stop)
	return q
}

func records(prefix, tenant string, n int) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = storetest.FullRecord(fmt.Sprintf("%s-%04d", prefix, i), tenant, t0.Add(time.Duration(i)*time.Second))
	}
	return out
}

func mustPut(t *testing.T, q *Queue, tenant string, recs []record.Record) {
	t.Helper()
	require.NoErrorf(t, q.Put(tenant, recs, errors.New("store: connection refused")), "Put(%q, %d records)", tenant, len(recs))
}

// sink is an InsertFunc target that keeps what it was given and fails while fail is set.
type sink struct {
	mu      sync.Mutex
	calls   int
	got     map[string][]record.Record // by tenant
	tenants []string                   // in call order
	fail    error
}

func newSink() *sink { return &sink{got: map[string][]record.Record{}} }

func (s *sink) insert(_ context.Context, tenant string, recs []record.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		return s.fail
	}
	s.got[tenant] = append(s.got[tenant], recs...)
	s.tenants = append(s.tenants, tenant)
	return nil
}

func (s *sink) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

func (s *sink) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.got {
		n += len(r)
	}
	return n
}

// filesIn returns the file names in dir, sorted.
func filesIn(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// only returns the one file of state s in dir, failing otherwise.
func only(t *testing.T, dir string, s State) string {
	t.Helper()
	var found []string
	for _, n := range filesIn(t, dir) {
		if _, st, ok := splitName(n); ok && st == s {
			found = append(found, n)
		}
	}
	require.Len(t, found, 1, "want exactly one .%s file in %s, have %v", s, dir, filesIn(t, dir))
	return found[0]
}

func header(t *testing.T, path string) Header {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	b, err := decodeFile(data)
	require.NoErrorf(t, err, "decode %s", filepath.Base(path))
	return b.Header
}

func scan(t *testing.T, q *Queue, insert InsertFunc) ScanResult {
	t.Helper()
	res, err := q.Scan(context.Background(), insert)
	require.NoError(t, err, "Scan")
	return res
}
