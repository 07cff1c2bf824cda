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
	q := newBatchQueue(2, 1<<20, time.Hour, time.Now)
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

// A full queue takes nothing more until a batch leaves, so waiting for a batch to fill would
// idle the writer: with records of several tenants and a queue smaller than max_size records
// per tenant, a worker got one batch per flush interval (max_queue_bytes 4 MiB at max load
// committed a third of what 16 MiB did). A full queue hands out its largest tenant at once.
func TestBatchQueue_AFullQueueHandsOutItsLargestTenantWithoutWaiting(t *testing.T) {
	q := newBatchQueue(1000, 300, time.Hour, time.Now)
	push := func(tenant string, n int) {
		q.push(&item{tenant: tenant, records: make([]record.Record, n), bytes: n})
	}
	push("acme", 50)
	push("globex", 100)
	push("initech", 80)
	assert.True(t, q.hasRoom(), "230 of 300 bytes")

	push("acme", 80) // 310 of 300: full
	require.False(t, q.hasRoom())
	got := make(chan []*item, 1)
	go func() { got <- q.next() }()
	select {
	case batch := <-got:
		require.Len(t, batch, 2, "both of acme's items")
		assert.Equal(t, "acme", batch[0].tenant, "the tenant with the most records (130)")
	case <-time.After(5 * time.Second):
		t.Fatal("a full queue waited for the flush interval")
	}
	assert.Equal(t, 180, q.depth())
	assert.True(t, q.hasRoom(), "room again once the batch left")
}
