// Package storefollow feeds the live tail from the shared store, so that every collector of a
// fleet writing one store (and every read-only query node over it) streams every collector's
// records, not only the batches it committed itself.
//
// It follows the store's insertion order (store.InsertionLog) from a watermark: each poll reads
// what was written from the watermark minus an overlap window on, publishes the records it has
// not published yet, and moves the watermark to the latest write time it saw. The overlap is
// what catches a batch that commits late: its write time is stamped by its writer before the
// commit, so it can land behind records already read. Records are remembered by (tenant, id)
// for as long as the overlap can return them, so each is published once, whether it came
// through a poll, a re-read, or this collector's own commit (Local).
//
// Latency bound: a record is published at most poll_interval (plus one poll's query time) after
// its commit, provided its commit lag (commit time minus its writer's stamp, clock skew
// between the writer and this node included) is below the overlap. A record committed later
// than that is not streamed; queries still find it.
package storefollow

import (
	"context"
	"sync"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Options configure a Follower.
type Options struct {
	PollInterval time.Duration
	// Overlap is how far behind the watermark each poll starts reading again.
	Overlap time.Duration
	// PageSize is the records one store read returns (store.MaxLimit when 0).
	PageSize int
	// MaxRecentIDs bounds the remembered (tenant, id) pairs.
	MaxRecentIDs int
	// PollTimeout bounds one poll of Run (no bound when 0): a store that hangs must not stop
	// the tail for good.
	PollTimeout time.Duration
}

// Metrics receives what a Follower does; any field may be nil.
type Metrics struct {
	// Published counts records a poll found and published (not those committed locally).
	Published func(n int)
	// Duplicates counts records a poll found that were published already.
	Duplicates func(n int)
	// Evicted counts remembered records forced out by MaxRecentIDs before the overlap passed.
	Evicted func(n int)
	// PollFailed is called with the error of a failed poll.
	PollFailed func(err error)
}

// Follower publishes the records of a store.InsertionLog to a live feed, each once.
type Follower struct {
	log     store.InsertionLog
	publish func([]record.Record)
	opts    Options
	metrics Metrics

	// mu orders publishing: Local and Poll both check and publish under it, so a record the
	// poll finds while its local commit is being announced goes out once. It is never held
	// across a store read: Local runs on the writer's commit path and must not wait for one.
	mu     sync.Mutex
	recent *recentIDs

	polling   sync.Mutex // one poll at a time; guards watermark
	watermark time.Time
}

// New returns a Follower that publishes what log lists from now on (minus the overlap).
func New(log store.InsertionLog, publish func([]record.Record), opts Options, m Metrics) *Follower {
	if opts.PageSize <= 0 {
		opts.PageSize = store.MaxLimit
	}
	return &Follower{log: log, publish: publish, opts: opts, metrics: m,
		recent: newRecentIDs(opts.MaxRecentIDs), watermark: time.Now()}
}

// Local publishes records this collector committed (the store handle's feed) at once, and
// remembers them so that the poll that later finds them publishes nothing.
func (f *Follower) Local(recs []record.Record) {
	now := time.Now() // after the commit, so no earlier than the writer's stamp of these rows
	f.mu.Lock()
	defer f.mu.Unlock()
	fresh := f.admit(recs, func(int) time.Time { return now })
	if len(fresh) > 0 {
		f.publish(fresh)
	}
}

// admit keeps the records not yet published and remembers them. Caller holds mu.
func (f *Follower) admit(recs []record.Record, at func(i int) time.Time) []record.Record {
	var fresh []record.Record
	evicted := 0
	for i := range recs {
		isNew, ev := f.recent.admit(&recs[i], at(i))
		evicted += ev
		if isNew {
			fresh = append(fresh, recs[i])
		}
	}
	if evicted > 0 && f.metrics.Evicted != nil {
		f.metrics.Evicted(evicted)
	}
	return fresh
}

// Poll reads the store once from the watermark minus the overlap to the end of what is
// written, and publishes what is new. It returns how many records it published.
func (f *Follower) Poll(ctx context.Context) (int, error) {
	f.polling.Lock()
	defer f.polling.Unlock()
	now := time.Now()
	latest := f.watermark
	pos := store.Position{At: f.watermark.Add(-f.opts.Overlap)}
	published, dups := 0, 0
	var err error
	for {
		var page []store.Inserted
		if page, err = f.log.InsertedAfter(ctx, pos, f.opts.PageSize); err != nil {
			break
		}
		recs := make([]record.Record, len(page))
		for i := range page {
			recs[i] = page[i].Record
			if page[i].InsertedAt.After(latest) {
				latest = page[i].InsertedAt
			}
		}
		f.mu.Lock()
		fresh := f.admit(recs, func(i int) time.Time { return page[i].InsertedAt })
		if len(fresh) > 0 {
			f.publish(fresh)
		}
		f.mu.Unlock()
		published += len(fresh)
		dups += len(page) - len(fresh)
		if len(page) < f.opts.PageSize {
			break
		}
		pos = store.PositionOf(page[len(page)-1])
	}
	// A writer whose clock runs ahead must not drag the window past rows that writers with
	// correct clocks are still stamping: the watermark never passes this node's own clock.
	if latest.After(now) {
		latest = now
	}
	f.watermark = latest
	f.mu.Lock()
	f.recent.forget(latest.Add(-f.opts.Overlap))
	f.mu.Unlock()
	if f.metrics.Published != nil && published > 0 {
		f.metrics.Published(published)
	}
	if f.metrics.Duplicates != nil && dups > 0 {
		f.metrics.Duplicates(dups)
	}
	if err != nil && f.metrics.PollFailed != nil {
		f.metrics.PollFailed(err)
	}
	return published, err
}

// Run polls every PollInterval until ctx ends. A failed poll is reported (Metrics.PollFailed)
// and retried at the next tick: the watermark has not moved past what was read.
func (f *Follower) Run(ctx context.Context) {
	t := time.NewTicker(f.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pollCtx, cancel := ctx, context.CancelFunc(func() {})
			if f.opts.PollTimeout > 0 {
				pollCtx, cancel = context.WithTimeout(ctx, f.opts.PollTimeout)
			}
			_, _ = f.Poll(pollCtx)
			cancel()
		}
	}
}

// remembered is how many records are remembered, for tests.
func (f *Follower) remembered() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.recent.len()
}
