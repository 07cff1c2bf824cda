// Package livetail fans committed audit records out to live subscribers (the query API's
// WebSocket and SSE streams).
//
// The write path must never wait for a reader: Publish only appends to each matching
// subscriber's bounded queue and never blocks. A subscriber whose queue is full loses the newest
// records and is told how many, at the position where they were lost, once it catches up.
package livetail

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// DefaultBufferSize is how many records a subscriber may fall behind before it starts losing
// records. The exporter publishes a whole committed batch at once, so the buffer must hold
// several of the largest batches (the distribution's default config commits up to 1,000) or a
// subscriber that keeps up would still lose part of a batch. A queued record is a pointer
// shared by every subscriber, so 4,096 cost about 32 KiB per stream.
const DefaultBufferSize = 4096

// ErrClosed is returned by Next when the hub was closed (the server shuts down).
var ErrClosed = errors.New("livetail: hub closed")

// ErrTooFarBehind is returned by Next once a subscriber has lost more records than the hub's
// MaxSkipped allows; the stream should end so the client can reconnect with a replay.
var ErrTooFarBehind = errors.New("livetail: subscriber fell too far behind")

// Options configure a Hub.
type Options struct {
	// BufferSize bounds each subscriber's queue (records). Zero means DefaultBufferSize.
	BufferSize int
	// MaxSkipped ends a subscription once it has lost more than this many records in total.
	// Zero never ends one for lagging: a lagging subscriber costs at most BufferSize records of
	// memory, and it is told what it lost.
	MaxSkipped int64
}

// Hub distributes published records to subscribers. The zero value is not usable; use New.
type Hub struct {
	opts Options

	mu     sync.RWMutex
	subs   map[*Subscription]struct{}
	closed bool
}

// New returns an open hub.
func New(opts Options) *Hub {
	if opts.BufferSize <= 0 {
		opts.BufferSize = DefaultBufferSize
	}
	return &Hub{opts: opts, subs: map[*Subscription]struct{}{}}
}

// Entry is one published record, shared by every subscriber that receives it, so that the
// record is encoded at most once however many streams carry it.
type Entry struct {
	Record record.Record

	once sync.Once
	json []byte
	err  error
}

// JSON is the record encoded as the query API encodes it. A record read from a store has
// tags, attributes and resource decoded from "[]" and "{}"; a live record comes straight from
// the exporter and may hold nil there, which would encode as null. The copy gets the store's
// empty values instead, so that clients see one shape.
func (e *Entry) JSON() ([]byte, error) {
	e.once.Do(func() {
		r := e.Record
		if r.Tags == nil {
			r.Tags = []string{}
		}
		if r.Attributes == nil {
			r.Attributes = map[string]any{}
		}
		if r.Resource == nil {
			r.Resource = map[string]any{}
		}
		e.json, e.err = json.Marshal(r)
	})
	return e.json, e.err
}

// Publish hands records to every subscriber whose filter matches them, in order. It never
// blocks on a subscriber and never fails; the records must not be modified afterwards, since
// subscribers encode them later.
func (h *Hub) Publish(records []record.Record) {
	if len(records) == 0 {
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed || len(h.subs) == 0 {
		return
	}
	entries := make([]*Entry, len(records))
	for i := range records {
		entries[i] = &Entry{Record: records[i]}
	}
	for sub := range h.subs {
		sub.offer(entries)
	}
}

// Subscribe registers a subscriber for the records matching m. It fails once the hub is closed.
// The caller must call Close on the subscription when done.
func (h *Hub) Subscribe(m Matcher) (*Subscription, error) {
	sub := &Subscription{
		hub:        h,
		match:      m,
		capacity:   h.opts.BufferSize,
		maxSkipped: h.opts.MaxSkipped,
		wake:       make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	h.subs[sub] = struct{}{}
	return sub, nil
}

// Subscribers is the number of open subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs)
}

// Close ends every subscription (their Next returns ErrClosed at once, without draining what is
// queued: shutdown must not wait for slow readers) and refuses new ones. Safe to call twice.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for sub := range h.subs {
		sub.end(ErrClosed)
		delete(h.subs, sub)
	}
}

// Event is what a subscriber reads: either a record, or a notice that Skipped records were lost
// at this position of the stream.
type Event struct {
	Entry   *Entry
	Skipped int64
}

// item is a queued record. skippedBefore counts the records lost just before it, so the lag
// notice is delivered exactly where the gap is.
type item struct {
	entry         *Entry
	skippedBefore int64
}

// Subscription is one subscriber's queue.
//
// Invariant: queue holds at most capacity items; records that arrive while it is full are
// counted in tailSkipped and become the skippedBefore of the next record that fits (or a bare
// notice once the queue drains), so the reader sees records in publish order with every gap
// marked where it happened.
type Subscription struct {
	hub        *Hub
	match      Matcher
	capacity   int
	maxSkipped int64

	mu           sync.Mutex
	queue        []item
	tailSkipped  int64
	totalSkipped int64
	endErr       error

	wake chan struct{} // capacity 1: "the queue changed"
	done chan struct{} // closed by end
}

func (s *Subscription) offer(entries []*Entry) {
	added := false
	s.mu.Lock()
	if s.endErr != nil {
		s.mu.Unlock()
		return
	}
	for _, e := range entries {
		if !s.match.Match(&e.Record) {
			continue
		}
		if len(s.queue) >= s.capacity {
			s.tailSkipped++
			s.totalSkipped++
			continue
		}
		s.queue = append(s.queue, item{entry: e, skippedBefore: s.tailSkipped})
		s.tailSkipped = 0
		added = true
	}
	tooFar := s.maxSkipped > 0 && s.totalSkipped > s.maxSkipped
	lagged := s.tailSkipped > 0
	s.mu.Unlock()
	if tooFar {
		s.end(ErrTooFarBehind)
		return
	}
	if added || lagged {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// SetMatcher replaces the subscription's filter (a client changed it on an open stream).
// Records published from now on are matched against m, and queued records m does not match
// are dropped, so that every record read after SetMatcher returns matches m. A lag notice of
// a dropped record moves to the record after it, so no gap goes unreported.
func (s *Subscription) SetMatcher(m Matcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.match = m
	kept := s.queue[:0]
	var carried int64
	for _, it := range s.queue {
		if !m.Match(&it.entry.Record) {
			carried += it.skippedBefore
			continue
		}
		it.skippedBefore += carried
		carried = 0
		kept = append(kept, it)
	}
	clear(s.queue[len(kept):])
	s.queue = kept
	s.tailSkipped += carried
}

// end stops the subscription with err; the first reason wins.
func (s *Subscription) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.endErr == nil {
		s.endErr = err
		close(s.done)
	}
}

// Done is closed when the subscription ends (hub closed, subscriber too far behind, or Close).
func (s *Subscription) Done() <-chan struct{} { return s.done }

// TryNext returns the next event without waiting; ok is false when none is queued. err is
// ErrClosed once the hub closed and ErrTooFarBehind once the subscriber lost more than
// MaxSkipped records. Queued records are not delivered after the subscription ended: a
// shutting-down server closes streams promptly instead of draining them.
func (s *Subscription) TryNext() (ev Event, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.endErr != nil {
		return Event{}, false, s.endErr
	}
	if len(s.queue) > 0 {
		it := s.queue[0]
		if it.skippedBefore > 0 {
			// Deliver the notice first and leave the record for the next call.
			s.queue[0].skippedBefore = 0
			return Event{Skipped: it.skippedBefore}, true, nil
		}
		s.queue[0] = item{}
		s.queue = s.queue[1:]
		if len(s.queue) == 0 {
			s.queue = nil // let the backing array go
		}
		return Event{Entry: it.entry}, true, nil
	}
	if s.tailSkipped > 0 {
		n := s.tailSkipped
		s.tailSkipped = 0
		return Event{Skipped: n}, true, nil
	}
	return Event{}, false, nil
}

// Ready receives a value after the queue changed. A reader that found nothing with TryNext waits
// on Ready (and Done, and its own timers) and then calls TryNext again.
func (s *Subscription) Ready() <-chan struct{} { return s.wake }

// Next waits for the next event, or until ctx ends (returning its error) or the subscription
// ends (see TryNext).
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		ev, ok, err := s.TryNext()
		if err != nil || ok {
			return ev, err
		}
		select {
		case <-s.wake:
		case <-s.done:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// Close unregisters the subscription. Safe to call twice and after the hub closed.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	delete(s.hub.subs, s)
	s.hub.mu.Unlock()
	s.end(ErrClosed)
}
