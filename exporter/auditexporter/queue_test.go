package auditexporter

import (
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// A batch taken from a tenant's queue must not stay reachable through the items still
// waiting: the remainder was a reslice of the same array, so every taken item, and its
// records, lived on as long as the tenant kept records waiting, which under steady load is
// always (a heap profile of the benchmark's drain found several times the queue's bound in
// records decoded from the WAL still alive).
func TestBatchQueue_KeepsNoTakenItemAlive(t *testing.T) {
	q := newBatchQueue(2, time.Hour, time.Now)
	var ptrs []weak.Pointer[item]
	for range 3 {
		it := &item{tenant: "acme", records: make([]record.Record, 1), bytes: 100}
		ptrs = append(ptrs, weak.Make(it))
		q.push(it)
	}
	batch := q.next()
	require.Len(t, batch, 2, "a batch of max_size records")
	batch = nil
	_ = batch

	runtime.GC()
	runtime.GC()
	for i := range 2 {
		assert.Nil(t, ptrs[i].Value(), "taken item %d is still reachable from the queue", i)
	}
	assert.NotNil(t, ptrs[2].Value(), "the waiting item")
	assert.Equal(t, 1, q.depth())
}
