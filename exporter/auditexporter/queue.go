package auditexporter

import (
	"slices"
	"sync"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// item is one tenant's share of one acknowledged entry: one of its parts.
type item struct {
	entry    *ackedEntry
	tenant   string
	records  []record.Record
	bytes    int // record.ApproxBytes(records)
	enqueued time.Time
}

// batchQueue holds items per tenant in memory until a flush worker takes them; its capacity is
// counted in bytes (record.ApproxBytes), because records differ in weight by an order of
// magnitude. A batch is one tenant's
// whole items, up to maxSize records (a single larger item is a batch of its own), because a
// store transaction holds one tenant and an item's records must commit together for its entry
// to be done.
type batchQueue struct {
	mu       sync.Mutex
	tenants  map[string][]*item
	counts   map[string]int // records per tenant
	records  int
	bytes    int
	closed   bool
	stopped  bool          // abandon was called: next hands out nothing more
	notify   chan struct{} // wakes one waiting worker; capacity 1
	room     chan struct{} // signalled when a batch is taken (room freed); capacity 1
	closing  chan struct{} // closed by close: wakes every worker
	maxSize  int
	maxBytes int // capacity (max_queue_bytes)
	interval time.Duration
	now      func() time.Time
}

func newBatchQueue(maxSize, maxBytes int, interval time.Duration, now func() time.Time) *batchQueue {
	return &batchQueue{
		tenants: map[string][]*item{}, counts: map[string]int{},
		notify: make(chan struct{}, 1), room: make(chan struct{}, 1), closing: make(chan struct{}),
		maxSize: maxSize, maxBytes: maxBytes, interval: interval, now: now,
	}
}

// depth is the number of records waiting.
func (q *batchQueue) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.records
}

// heldBytes is the estimated memory of the records waiting.
func (q *batchQueue) heldBytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// push adds items; it never refuses (capacity is checked by the caller, with fits).
func (q *batchQueue) push(items ...*item) {
	q.mu.Lock()
	for _, it := range items {
		it.enqueued = q.now()
		q.tenants[it.tenant] = append(q.tenants[it.tenant], it)
		q.counts[it.tenant] += len(it.records)
		q.records += len(it.records)
		q.bytes += it.bytes
	}
	q.mu.Unlock()
	q.wake()
}

// fits reports whether n more bytes fit in the queue's capacity. An empty queue always
// accepts, so that a single request larger than the queue is not refused forever.
func (q *batchQueue) fits(n int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.records == 0 || q.bytes+n <= q.maxBytes
}

// hasRoom reports whether the records waiting weigh less than the capacity: room for at least
// part of one more entry (the loader may overshoot the bound by one entry, as intake may by
// one request).
func (q *batchQueue) hasRoom() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes < q.maxBytes
}

func (q *batchQueue) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// close makes next return the remaining batches without waiting for them to fill, then nil.
func (q *batchQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.closing)
	}
}

// abandon closes the queue and stops handing out batches: what it still holds is left (in
// durable mode it is in the WAL, and the next start replays it).
func (q *batchQueue) abandon() {
	q.close()
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
}

// next blocks until a batch is ready: a tenant has maxSize records, or its oldest item has
// waited flush interval, or the queue is full, or it is closing. It returns nil when closed
// and empty.
func (q *batchQueue) next() []*item {
	for {
		q.mu.Lock()
		if q.stopped {
			q.mu.Unlock()
			return nil
		}
		batch, wait := q.takeReadyLocked()
		closed := q.closed
		q.mu.Unlock()
		if batch != nil {
			q.wake() // another worker may find another ready tenant
			return batch
		}
		if closed {
			return nil
		}
		timer := time.NewTimer(wait)
		select {
		case <-q.notify:
		case <-q.closing:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// takeReadyLocked removes and returns one ready batch, or says how long until the oldest item
// is due.
func (q *batchQueue) takeReadyLocked() ([]*item, time.Duration) {
	now := q.now()
	var dueTenant string
	var oldest time.Time
	for tenant, items := range q.tenants {
		if q.counts[tenant] >= q.maxSize || q.closed {
			return q.takeLocked(tenant), 0
		}
		if oldest.IsZero() || items[0].enqueued.Before(oldest) {
			oldest, dueTenant = items[0].enqueued, tenant
		}
	}
	if dueTenant == "" {
		return nil, q.interval
	}
	if q.bytes >= q.maxBytes {
		// Nothing more comes in until a batch leaves, so waiting for a fuller one would only
		// idle the writer: with records of several tenants, a queue smaller than maxSize
		// records per tenant would otherwise hand out one batch per flush interval.
		return q.takeLocked(q.largestTenantLocked()), 0
	}
	if wait := oldest.Add(q.interval).Sub(now); wait > 0 {
		return nil, wait
	}
	return q.takeLocked(dueTenant), 0
}

// largestTenantLocked is the tenant with the most records waiting: the fullest batch.
func (q *batchQueue) largestTenantLocked() string {
	var largest string
	for tenant, n := range q.counts {
		if largest == "" || n > q.counts[largest] {
			largest = tenant
		}
	}
	return largest
}

func (q *batchQueue) takeLocked(tenant string) []*item {
	items := q.tenants[tenant]
	n, cut := 0, 0
	for cut < len(items) {
		if cut > 0 && n+len(items[cut].records) > q.maxSize {
			break
		}
		n += len(items[cut].records)
		cut++
	}
	// The batch is copied out and its items cleared from the tenant's array: the items left
	// waiting keep that array alive, and would keep every taken item, records included, with
	// it for as long as the tenant has records waiting.
	batch := slices.Clone(items[:cut])
	clear(items[:cut])
	if cut == len(items) {
		delete(q.tenants, tenant)
		delete(q.counts, tenant)
	} else {
		q.tenants[tenant] = items[cut:]
		q.counts[tenant] -= n
	}
	q.records -= n
	for _, it := range batch {
		q.bytes -= it.bytes
	}
	select {
	case q.room <- struct{}{}:
	default:
	}
	return batch
}
