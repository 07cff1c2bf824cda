package clickhousestore

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

var _ store.ChainStore = (*Store)(nil)

// chainLinksPage is how many links ChainLinks reads per query, with their records.
const chainLinksPage = 1000

// tenantState is what Insert keeps per tenant. Its lock makes one tenant's inserts one at a
// time in this process: ClickHouse has no transaction, so reading the chain's head and
// appending after it must not interleave with another batch of the same tenant. head is the
// last link this process wrote, so that a batch does not read the head back from the server
// (a scan of the tenant's seq column on the legacy layout); it is forgotten after any failed
// write of links, whose outcome is then unknown, and read again on the next batch.
type tenantState struct {
	mu        sync.Mutex
	head      chain.Link
	headKnown bool
}

func (s *Store) tenantState(tenant string) *tenantState {
	s.tenantsMu.Lock()
	defer s.tenantsMu.Unlock()
	st, ok := s.tenants[tenant]
	if !ok {
		if s.tenants == nil {
			s.tenants = map[string]*tenantState{}
		}
		st = &tenantState{}
		s.tenants[tenant] = st
	}
	return st
}

// ensureChainStart records, before the first chained record is written, that chaining began:
// from then on Unchained requires a link of every record. Once known, it is not read again.
func (s *Store) ensureChainStart(ctx context.Context, d dialect) error {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.started {
		return nil
	}
	_, found, err := s.readChainStart(ctx, d)
	if err != nil {
		return err
	}
	if !found {
		batch, err := s.conn.PrepareBatch(ctx, d.insertChainStartSQL())
		if err != nil {
			return err
		}
		defer func() { _ = batch.Abort() }()
		if err := batch.Append(time.Now().UnixNano()); err != nil {
			return err
		}
		if err := batch.Send(); err != nil {
			return err
		}
	}
	s.started = true
	return nil
}

func (s *Store) readChainStart(ctx context.Context, d dialect) (nanos int64, found bool, err error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, d.chainStartSQL()).Scan(&nanos, &n); err != nil {
		return 0, false, fmt.Errorf("read chain start: %w", err)
	}
	return nanos, n > 0, nil
}

// linkBatch links the tenant's records of one Insert onto its chain, in batch order, after
// their rows were written. The chain table is the deduplication key: a record already on the
// chain is not linked again. Only records that were stored before this Insert can be (links are
// written after their records, see Insert), so only they are looked up; a batch of new records,
// the usual case, costs no lookup at all. hashes[i] is recs[i]'s chain.RecordHash (computed
// while the rows were written, see insertTenant). The caller holds st.mu.
func (s *Store) linkBatch(ctx context.Context, d dialect, st *tenantState, tenant string, recs []record.Record, hashes []chain.Hash, stored map[string]bool) error {
	var linked map[string]bool
	if len(stored) > 0 {
		ids := make([]string, 0, len(stored))
		for _, r := range recs {
			if stored[r.ID] {
				ids = append(ids, r.ID)
			}
		}
		var err error
		if linked, err = s.queryIDs(ctx, d.linkedIDsSQL(tenant, idsTable), ids); err != nil {
			return fmt.Errorf("look up linked records: %w", err)
		}
	}
	if len(linked) == len(recs) {
		return nil
	}
	if !st.headKnown {
		head, err := s.chainHead(ctx, d, tenant)
		if err != nil {
			return err
		}
		st.head, st.headKnown = head, true
	}
	links := make([]chain.Link, 0, len(recs)-len(linked))
	head := st.head
	for i := range recs {
		if linked[recs[i].ID] {
			continue
		}
		head = chain.NextHashed(head, recs[i], hashes[i])
		links = append(links, head)
	}
	if err := s.writeLinks(ctx, d, links); err != nil {
		st.headKnown = false
		return fmt.Errorf("write %d chain links: %w", len(links), err)
	}
	st.head = links[len(links)-1]
	return nil
}

func (s *Store) writeLinks(ctx context.Context, d dialect, links []chain.Link) error {
	batch, err := s.conn.PrepareBatch(ctx, d.insertLinksSQL())
	if err != nil {
		return err
	}
	defer func() { _ = batch.Abort() }()
	for _, l := range links {
		if err := batch.Append(l.Tenant, l.Seq, l.RecordID, encodedNanos(l.Timestamp), uint8(l.Level), l.RecordHash[:], l.Hash[:]); err != nil {
			return err
		}
	}
	return batch.Send()
}

// queryIDs runs sql, a one-String-column query over the table idsTable of ids (QueryIDs),
// and collects the ids it returns.
func (s *Store) queryIDs(ctx context.Context, sql string, ids []string) (map[string]bool, error) {
	r, err := s.conn.QueryIDs(ctx, sql, ids)
	if err != nil {
		return nil, err
	}
	found := map[string]bool{}
	if err := eachString(r, func(id string) { found[id] = true }); err != nil {
		return nil, err
	}
	return found, nil
}

// scanStrings calls fn with each row of a one-String-column query.
func (s *Store) scanStrings(ctx context.Context, sql string, fn func(string)) error {
	r, err := s.conn.Query(ctx, sql)
	if err != nil {
		return err
	}
	return eachString(r, fn)
}

// eachString calls fn with each row of r, one String column, and closes r.
func eachString(r rows, fn func(string)) error {
	defer r.Close()
	for r.Next() {
		var v string
		if err := r.Scan(&v); err != nil {
			return err
		}
		fn(v)
	}
	return r.Err()
}

// ChainHead returns the tenant's last link, the zero Link when it has none.
func (s *Store) ChainHead(ctx context.Context, tenant string) (chain.Link, error) {
	d, err := s.dialect(ctx)
	if err != nil {
		return chain.Link{}, fmt.Errorf("clickhousestore: chain head: %w", err)
	}
	head, err := s.chainHead(ctx, d, tenant)
	if err != nil {
		return chain.Link{}, fmt.Errorf("clickhousestore: %w", err)
	}
	return head, nil
}

func (s *Store) chainHead(ctx context.Context, d dialect, tenant string) (chain.Link, error) {
	var seq uint64
	if err := s.conn.QueryRow(ctx, d.chainHeadSeqSQL(tenant)).Scan(&seq); err != nil {
		return chain.Link{}, fmt.Errorf("chain head of %q: %w", tenant, err)
	}
	if seq == 0 {
		return chain.Link{}, nil
	}
	links, err := s.selectLinks(ctx, d.chainLinksSQL(tenant, seq, seq, 1), tenant)
	switch {
	case err != nil:
		return chain.Link{}, fmt.Errorf("chain head of %q at seq %d: %w", tenant, seq, err)
	case len(links) == 0:
		return chain.Link{}, fmt.Errorf("chain head of %q: the link at seq %d is gone", tenant, seq)
	}
	return links[0], nil
}

func (s *Store) selectLinks(ctx context.Context, sql, tenant string) ([]chain.Link, error) {
	rows, err := s.conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var links []chain.Link
	for rows.Next() {
		var (
			l                chain.Link
			ts               int64
			level            uint8
			recordHash, hash string
		)
		if err := rows.Scan(&l.Seq, &l.RecordID, &ts, &level, &recordHash, &hash); err != nil {
			return nil, err
		}
		l.Tenant, l.Timestamp, l.Level = tenant, decodeTime(ts), record.Level(level)
		// FixedString(32) always holds 32 bytes; a digest someone wrote shorter is padded with
		// zeros by the server, and then no longer matches, which verify reports at this link.
		copy(l.RecordHash[:], recordHash)
		copy(l.Hash[:], hash)
		links = append(links, l)
	}
	return links, rows.Err()
}

// ChainLinks calls fn for the tenant's links from..to in seq order, each with its record as
// stored (found by id in any tenant, so that a record moved to another tenant is seen as
// such), or nil when none is stored.
func (s *Store) ChainLinks(ctx context.Context, tenant string, from, to uint64, fn func(chain.Link, *record.Record) error) error {
	d, err := s.dialect(ctx)
	if err != nil {
		return fmt.Errorf("clickhousestore: chain links: %w", err)
	}
	for next := from; next <= to; {
		links, err := s.selectLinks(ctx, d.chainLinksSQL(tenant, next, to, chainLinksPage), tenant)
		if err != nil {
			return fmt.Errorf("clickhousestore: chain links: %w", err)
		}
		if len(links) == 0 {
			return nil
		}
		last := links[len(links)-1].Seq
		done := len(links) < chainLinksPage || last == math.MaxUint64
		next = last + 1
		if !done {
			// Links sharing the last seq (a fork) may go on in the next page: leave all of
			// them to it, so that verify sees them side by side. A page that is one seq only
			// is taken as it is.
			keep := len(links)
			for keep > 0 && links[keep-1].Seq == last {
				keep--
			}
			if keep > 0 {
				links, next = links[:keep], last
			}
		}
		recs, err := s.chainRecords(ctx, d, links)
		if err != nil {
			return fmt.Errorf("clickhousestore: chain records: %w", err)
		}
		for i, l := range links {
			if err := fn(l, recs[i]); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
	}
	return nil
}

// chainRecords returns the stored record of each link, nil when absent. When several rows
// carry a link's id, the one of the link's tenant and timestamp is preferred, then one of its
// tenant: a copy elsewhere is Unchained's to report, not this link's.
func (s *Store) chainRecords(ctx context.Context, d dialect, links []chain.Link) ([]*record.Record, error) {
	ids := make([]string, 0, len(links))
	seen := make(map[string]bool, len(links))
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, l := range links {
		if !seen[l.RecordID] {
			seen[l.RecordID] = true
			ids = append(ids, l.RecordID)
		}
		ts := encodedNanos(l.Timestamp)
		lo, hi = min(lo, ts), max(hi, ts)
	}
	byID := map[string][]record.Record{}
	for start := 0; start < len(ids); start += idsPerLookup {
		recs, err := s.selectRecords(ctx, d.chainRecordsSQL(ids[start:min(start+idsPerLookup, len(ids))], lo, hi))
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			byID[r.ID] = append(byID[r.ID], r)
		}
	}
	out := make([]*record.Record, len(links))
	for i, l := range links {
		best := -1
		for j, r := range byID[l.RecordID] {
			score := 0
			if r.TenantID == l.Tenant {
				score = 1
				if r.Timestamp.Equal(l.Timestamp) {
					score = 2
				}
			}
			if best < 0 || score > best {
				best = score
				rec := byID[l.RecordID][j]
				out[i] = &rec
			}
		}
	}
	return out, nil
}

// SaveCheckpoint stores a checkpoint of cp.Tenant's chain.
func (s *Store) SaveCheckpoint(ctx context.Context, cp chain.Checkpoint) error {
	d, err := s.dialect(ctx)
	if err != nil {
		return fmt.Errorf("clickhousestore: save checkpoint: %w", err)
	}
	doc, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("clickhousestore: save checkpoint: %w", err)
	}
	batch, err := s.conn.PrepareBatch(ctx, d.insertCheckpointSQL())
	if err != nil {
		return fmt.Errorf("clickhousestore: save checkpoint: %w", err)
	}
	defer func() { _ = batch.Abort() }()
	if err := batch.Append(cp.Tenant, cp.Seq, encodedNanos(cp.Time), string(doc)); err != nil {
		return fmt.Errorf("clickhousestore: save checkpoint: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("clickhousestore: save checkpoint: %w", err)
	}
	return nil
}

// Checkpoints returns the tenant's checkpoints in seq order, then time.
func (s *Store) Checkpoints(ctx context.Context, tenant string) ([]chain.Checkpoint, error) {
	d, err := s.dialect(ctx)
	if err != nil {
		return nil, fmt.Errorf("clickhousestore: checkpoints: %w", err)
	}
	var out []chain.Checkpoint
	var decodeErr error
	err = s.scanStrings(ctx, d.checkpointsSQL(tenant), func(doc string) {
		var cp chain.Checkpoint
		if err := json.Unmarshal([]byte(doc), &cp); err != nil && decodeErr == nil {
			decodeErr = err
		}
		out = append(out, cp)
	})
	if err == nil {
		err = decodeErr
	}
	if err != nil {
		return nil, fmt.Errorf("clickhousestore: checkpoints of %q: %w", tenant, err)
	}
	return out, nil
}

// Unchained returns up to limit ids of the tenant's rows written since chaining began that
// are on no link (see unchainedSQL for what "written since" can and cannot tell).
func (s *Store) Unchained(ctx context.Context, tenant string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	d, err := s.dialect(ctx)
	if err != nil {
		return nil, fmt.Errorf("clickhousestore: unchained records: %w", err)
	}
	start, found, err := s.readChainStart(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("clickhousestore: unchained records: %w", err)
	}
	if !found {
		return nil, nil // nothing was ever chained, so nothing is required to be
	}
	var ids []string
	err = s.scanStrings(ctx, d.unchainedSQL(tenant, insertVersion(time.Unix(0, start)), limit), func(id string) { ids = append(ids, id) })
	if err != nil {
		return nil, fmt.Errorf("clickhousestore: unchained records: %w", err)
	}
	return ids, nil
}

// ChainTenants lists the tenants that have a chain.
func (s *Store) ChainTenants(ctx context.Context) ([]string, error) {
	d, err := s.dialect(ctx)
	if err != nil {
		return nil, fmt.Errorf("clickhousestore: chain tenants: %w", err)
	}
	var out []string
	if err := s.scanStrings(ctx, d.chainTenantsSQL(), func(t string) { out = append(out, t) }); err != nil {
		return nil, fmt.Errorf("clickhousestore: chain tenants: %w", err)
	}
	return out, nil
}
