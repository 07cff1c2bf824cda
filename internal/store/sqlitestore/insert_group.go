package sqlitestore

import (
	"context"
	"slices"
	"sync"
)

// groupMaxRows bounds the records of one group transaction. Rows per transaction are the
// writer's main lever on a growing file: a commit writes every page the transaction dirtied,
// and the indexes written at random positions (user, event, trace, IP, full text) dirty about
// one leaf each per row until a transaction holds enough rows to share leaves. Measured with
// BenchmarkInsertGrowthPartitioned over 300k load-generator records (README.md, Group
// commit): 5,000 rows per transaction ran 1.39x the rate of 1,000.
var groupMaxRows = 10_000 // a var for benchmarks

// writeGroup commits concurrent Insert calls together (group commit). SQLite has one writer:
// while one transaction runs, the calls that arrive wait, and the next transaction takes all
// of them (up to groupMaxRows records), so that with several flush workers each commit carries
// several batches. Each call still stores all of its records or none: when a group's
// transaction fails, each of its calls is tried again alone, so that one batch's failure is
// never another's.
//
// Leadership passes from call to call: the call that finds no transaction running runs one for
// the calls waiting then (its own among them), and hands the next to the oldest call still
// waiting, whose goroutine runs it. No goroutine of the store's own is needed, and a caller
// never runs transactions for others once its own result is known and no one waits.
type writeGroup struct {
	mu      sync.Mutex
	waiting []*groupCall
	running bool // a call's goroutine is running a group transaction
	// encoding counts the Insert calls encoding their batch, about to join waiting. A leader
	// that would start a transaction with fewer than groupMaxRows records waits for them
	// (joined is signalled as each joins): encoding takes a fraction of a transaction's time,
	// and without the wait the flush workers that a commit released all at once would
	// alternate between a group of one (the first to finish encoding) and a group of the rest.
	encoding int
	joined   sync.Cond
}

// encodeBegins counts a call as encoding; the call then joins with write, or says it will not
// with encodeFailed.
func (g *writeGroup) encodeBegins() {
	g.lock()
	g.encoding++
	g.mu.Unlock()
}

func (g *writeGroup) encodeFailed() {
	g.lock()
	g.encoding--
	g.joined.Broadcast()
	g.mu.Unlock()
}

// lock takes g.mu; the zero writeGroup is ready for use, so its condition is tied to the
// mutex here.
func (g *writeGroup) lock() {
	g.mu.Lock()
	if g.joined.L == nil {
		g.joined.L = &g.mu
	}
}

type groupCall struct {
	ctx   context.Context
	batch *encodedBatch
	done  chan groupResult // capacity 1: a turn to lead, then the call's result
}

type groupResult struct {
	lead bool // no result yet: run the next group
	n    int
	err  error
}

// write stores b with the next group transaction and returns its rows stored.
func (g *writeGroup) write(ctx context.Context, s *Store, b *encodedBatch) (int, error) {
	call := &groupCall{ctx: ctx, batch: b, done: make(chan groupResult, 1)}
	g.lock()
	g.encoding--
	g.waiting = append(g.waiting, call)
	lead := !g.running
	g.running = true
	g.joined.Broadcast()
	g.mu.Unlock()
	for {
		if lead {
			g.runNext(s)
		}
		// The caller waits for its turn or its result even when its ctx ends: the group
		// transaction that holds its records is bounded by the leader's ctx, and leaving would
		// strand a turn to lead.
		r := <-call.done
		if !r.lead {
			return r.n, r.err
		}
		lead = true
	}
}

// runNext runs one group transaction for the oldest waiting calls, delivers their results and
// passes the turn to lead to the oldest call still waiting, if any.
func (g *writeGroup) runNext(s *Store) {
	g.lock()
	for g.encoding > 0 && waitingRows(g.waiting) < groupMaxRows {
		g.joined.Wait()
	}
	take, rows := 0, 0
	for take < len(g.waiting) && (take == 0 || rows+len(g.waiting[take].batch.records) <= groupMaxRows) {
		rows += len(g.waiting[take].batch.records)
		take++
	}
	// The taken calls are copied out and cleared from the queue's array: a slice keeps its
	// whole array alive, and with it every call still referenced there, its records and
	// encoded rows included, until an append happens to reallocate it.
	calls := slices.Clone(g.waiting[:take])
	clear(g.waiting[:take])
	g.waiting = g.waiting[take:]
	g.mu.Unlock()

	s.commitGroup(calls)

	g.lock()
	defer g.mu.Unlock()
	if len(g.waiting) == 0 {
		g.running = false
		return
	}
	g.waiting[0].done <- groupResult{lead: true}
}

func waitingRows(calls []*groupCall) int {
	n := 0
	for _, c := range calls {
		n += len(c.batch.records)
	}
	return n
}

// commitGroup writes the calls' batches in one transaction under the first call's ctx (the
// leader's; a call whose own ctx already ended is answered with its error and left out), and
// delivers each call's result. If the transaction fails and held more than one batch, each is
// written again in a transaction of its own.
func (s *Store) commitGroup(calls []*groupCall) {
	live := calls[:0:0]
	for _, c := range calls {
		if err := c.ctx.Err(); err != nil {
			c.done <- groupResult{err: err}
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	batches := make([]*encodedBatch, len(live))
	for i, c := range live {
		batches[i] = c.batch
	}
	stored, err := s.commitBatches(live[0].ctx, batches)
	if err == nil {
		for i, c := range live {
			c.done <- groupResult{n: stored[i]}
		}
		return
	}
	if len(live) == 1 {
		live[0].done <- groupResult{err: err}
		return
	}
	for _, c := range live {
		n, err := s.commitBatches(c.ctx, []*encodedBatch{c.batch})
		if err != nil {
			c.done <- groupResult{err: err}
			continue
		}
		c.done <- groupResult{n: n[0]}
	}
}
