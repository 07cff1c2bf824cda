package chaindigest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
)

// Sink receives each tenant's digests in seq order.
type Sink interface {
	Deliver(ctx context.Context, tenant string, seq uint64, digest []byte) error
}

// Writer collects the checkpoints the collector signs and delivers, per tenant and period,
// one digest of them to every sink. The directory, when there is one, holds the digest
// chain's state (its last file), so the chain continues across restarts; without one, each
// start begins a new chain at seq 1, which a receiver sees.
type Writer struct {
	dir    *Dir
	others []Sink
	period time.Duration

	mu        sync.Mutex
	pending   map[string][]chain.Checkpoint
	state     map[string]link // per tenant: the last digest delivered
	lastFlush time.Time
}

type link struct {
	seq  uint64
	hash chain.Hash
}

// NewWriter delivers to dir (nil for none) first, then to others.
func NewWriter(dir *Dir, others []Sink, period time.Duration, now time.Time) *Writer {
	return &Writer{dir: dir, others: others, period: period, pending: map[string][]chain.Checkpoint{},
		state: map[string]link{}, lastFlush: now}
}

// Add queues a signed (or unsigned) checkpoint for the tenant's next digest.
func (w *Writer) Add(cp chain.Checkpoint) {
	w.mu.Lock()
	w.pending[cp.Tenant] = append(w.pending[cp.Tenant], cp)
	w.mu.Unlock()
}

// Flush delivers a digest for every tenant with queued checkpoints, when a period has passed
// since the last flush or force is set (shutdown). A tenant whose digest the directory
// refused keeps its checkpoints queued for the next flush, so the chain has no gap; a digest
// the other sinks refused is their loss to retry (see Webhook).
func (w *Writer) Flush(ctx context.Context, now time.Time, force bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !force && now.Sub(w.lastFlush) < w.period {
		return nil
	}
	w.lastFlush = now
	var errs []error
	for tenant, cps := range w.pending {
		st, ok := w.state[tenant]
		if !ok && w.dir != nil {
			seq, hash, err := w.dir.Last(tenant)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			st = link{seq: seq, hash: hash}
		}
		digest := Encode(tenant, st.seq+1, st.hash, now, cps)
		if w.dir != nil {
			if err := w.dir.Deliver(ctx, tenant, st.seq+1, digest); err != nil {
				errs = append(errs, fmt.Errorf("tenant %q: %w", tenant, err))
				continue
			}
		}
		w.state[tenant] = link{seq: st.seq + 1, hash: sha256Of(digest)}
		delete(w.pending, tenant)
		for _, s := range w.others {
			if err := s.Deliver(ctx, tenant, st.seq+1, digest); err != nil {
				errs = append(errs, fmt.Errorf("tenant %q: %w", tenant, err))
			}
		}
	}
	return errors.Join(errs...)
}
