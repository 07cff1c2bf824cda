package sqlitestore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// storedTS is the timestamp as the files store and order it.
func storedTS(r *record.Record) int64 {
	ts, _ := encodeTime("timestamp", r.Timestamp)
	return ts
}

// newestFirst orders records as Query does: (timestamp, id) descending.
func newestFirst(a, b record.Record) int {
	return cmp.Or(cmp.Compare(storedTS(&b), storedTS(&a)), strings.Compare(b.ID, a.ID))
}

// Query returns one page of f, newest first. It asks the partitions whose time range
// overlaps the filter (and lies before the cursor), newest range first, each for a page after
// the same cursor, and keeps the newest Limit records of their union: the cursor is a position
// in the (timestamp, id) order, which means the same in every file, so pages are exact and a
// walk visits every record once. It stops when the page is full and the next partition's
// newest row is older than the page's last: that partition and every later one (older ranges)
// can only hold later pages. Whether a later page exists is then known from a partition that
// had more, or from one row of the next partition.
func (p *Partitioned) Query(ctx context.Context, f store.Filter, pg store.Page) (store.Result, error) {
	cur, hasCursor, err := store.DecodeCursor(pg.Cursor)
	if err != nil {
		return store.Result{}, fmt.Errorf("sqlitestore: query: cursor: %w", err)
	}
	if _, err := ftsQuery(f.Text); err != nil {
		return store.Result{}, fmt.Errorf("sqlitestore: query: %w", err)
	}
	parts, release, err := p.snapshot(ctx)
	if err != nil {
		return store.Result{}, err
	}
	defer release()

	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !f.Start.IsZero() {
		lo = clampNanos(f.Start)
	}
	if !f.End.IsZero() {
		hi = clampNanos(f.End) // exclusive: a row at hi is not asked for, so hi-1 would do; kept simple
	}
	if hasCursor {
		hi = min(hi, cur.TimestampNanos)
	}
	var cands []partitionView
	for _, v := range parts {
		if v.overlaps(lo, hi) {
			cands = append(cands, v)
		}
	}
	slices.SortStableFunc(cands, func(a, b partitionView) int { return cmp.Compare(b.maxTS, a.maxTS) })

	limit := pg.EffectiveLimit()
	var all []record.Record
	more := false
	for _, v := range cands {
		if len(all) == limit && v.maxTS < storedTS(&all[limit-1]) {
			// v and the partitions after it hold only rows after this page.
			if more {
				break
			}
			res, err := v.st.Query(ctx, f, store.Page{Limit: 1, Cursor: pg.Cursor})
			if err != nil {
				return store.Result{}, err
			}
			if more = len(res.Records) > 0; more {
				break
			}
			continue
		}
		res, err := v.st.Query(ctx, f, store.Page{Limit: limit, Cursor: pg.Cursor})
		if err != nil {
			return store.Result{}, err
		}
		more = more || res.NextCursor != ""
		all = append(all, res.Records...)
		slices.SortFunc(all, newestFirst)
		if len(all) > limit {
			all, more = all[:limit], true
		}
	}
	res := store.Result{Records: all}
	if more && len(all) > 0 {
		last := all[len(all)-1]
		res.NextCursor = store.Cursor{TimestampNanos: storedTS(&last), ID: last.ID}.Encode()
	}
	return res, nil
}

// idTimeSlack is how far a record's timestamp is looked for from the time in its id first.
const idTimeSlack = time.Hour

// idTime reads the millisecond time in the first 48 bits of a UUIDv7 or of a content id
// (record.ContentID's layout): 8-4-4-4-12 hex digits.
func idTime(id string) (int64, bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return 0, false
	}
	ms, err := strconv.ParseUint(id[:8]+id[9:13], 16, 64)
	if err != nil {
		return 0, false
	}
	return int64(ms) * int64(time.Millisecond), true
}

// Get returns one record. For one tenant, the partitions whose range is near the time in the
// id (UUIDv7 and content ids carry one) are asked first, then the others: an id's time is
// usually its record's, but a sender may stamp records long after minting their ids. Across
// tenants every partition is asked, since a second holder makes the id ambiguous.
func (p *Partitioned) Get(ctx context.Context, tenant, id string) (record.Record, error) {
	parts, release, err := p.snapshot(ctx)
	if err != nil {
		return record.Record{}, err
	}
	defer release()
	if t, ok := idTime(id); ok && tenant != "" {
		near := func(v partitionView) bool {
			return v.overlaps(t-int64(idTimeSlack), t+int64(idTimeSlack))
		}
		slices.SortStableFunc(parts, func(a, b partitionView) int {
			switch na, nb := near(a), near(b); {
			case na && !nb:
				return -1
			case nb && !na:
				return 1
			}
			return 0
		})
	}
	var found []record.Record
	for _, v := range parts {
		if v.empty() {
			continue
		}
		r, err := v.st.Get(ctx, tenant, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return record.Record{}, err
		}
		found = append(found, r)
		if tenant != "" || len(found) > 1 {
			break
		}
	}
	switch {
	case len(found) == 0:
		return record.Record{}, fmt.Errorf("sqlitestore: get %q: %w", id, store.ErrNotFound)
	case len(found) > 1:
		return record.Record{}, fmt.Errorf("sqlitestore: get %q: %w", id, store.ErrAmbiguousID)
	}
	return found[0], nil
}

// Trace returns the trace's records from every partition, oldest first.
func (p *Partitioned) Trace(ctx context.Context, tenant, traceID string) ([]record.Record, error) {
	if traceID == "" {
		return nil, fmt.Errorf("sqlitestore: trace: %w: trace id is empty", store.ErrInvalidQuery)
	}
	parts, release, err := p.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var out []record.Record
	for _, v := range parts {
		if v.empty() {
			continue
		}
		if f := p.traceFilterOf(ctx, v); f != nil && !f.mayHold(traceID) {
			continue
		}
		recs, err := v.st.Trace(ctx, tenant, traceID)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	slices.SortFunc(out, func(a, b record.Record) int { return newestFirst(b, a) })
	return out, nil
}

// Stats adds up the stats of the partitions whose range overlaps [Start, End), each listing
// all its events and users so that the merged top lists are exact. Each partition answers
// from its own snapshot.
func (p *Partitioned) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	q, err := q.Normalize()
	if err != nil {
		return store.Stats{}, fmt.Errorf("sqlitestore: %w", err)
	}
	parts, release, err := p.snapshot(ctx)
	if err != nil {
		return store.Stats{}, err
	}
	defer release()
	lo, hi := clampNanos(q.Start), clampNanos(q.End)
	var cands []partitionView
	for _, v := range parts {
		if v.overlaps(lo, hi) {
			cands = append(cands, v)
		}
	}
	if len(cands) == 1 {
		out, err := cands[0].st.stats(ctx, q, q.Top)
		if err != nil {
			return store.Stats{}, fmt.Errorf("sqlitestore: stats: %w", err)
		}
		return out, nil
	}
	// The partitions are read side by side: a day spans several at 10M rows, and the first
	// stats over an old day waits mostly for its partitions' index pages to come from disk,
	// waits that overlap (BENCHMARKS.md, 10M rows). Each partition has its own connections.
	results := make([]store.Stats, len(cands))
	errs := make([]error, len(cands))
	sem := make(chan struct{}, statsParallelPartitions)
	var wg sync.WaitGroup
	for i, v := range cands {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if results[i], errs[i] = v.st.stats(ctx, q, -1); errs[i] != nil {
				errs[i] = fmt.Errorf("sqlitestore: stats of %q: %w", v.path, errs[i])
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return store.Stats{}, err
	}
	return mergeStats(q, results), nil
}

// statsParallelPartitions bounds the partitions one Stats reads at once.
const statsParallelPartitions = 4

// traceFilterOf is the trace filter of a sealed partition, or nil: the active partition takes
// inserts, and a sealed one's filter may not be there yet. A read-only store reads the filter
// the writer stored when a lookup first needs it (one row; a partition the writer has not
// finished is asked again next time).
func (p *Partitioned) traceFilterOf(ctx context.Context, v partitionView) *traceFilter {
	if v.active {
		return nil
	}
	if f := v.traces.Load(); f != nil || !p.readOnly {
		return f
	}
	f, err := loadTraceFilter(ctx, v.st)
	if err != nil || f == nil {
		return nil
	}
	v.traces.Store(f)
	return f
}
