package sqlitestore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// OpenStore opens the store cfg.Tenancy asks for: one file (Open) or one file per tenant
// (OpenPerTenant). It is the constructor the exporter calls.
func OpenStore(ctx context.Context, cfg Config) (store.Store, error) {
	switch {
	case cfg.Tenancy == TenancyDatabasePerTenant:
		return OpenPerTenant(ctx, cfg)
	case cfg.partitioned():
		return OpenPartitioned(ctx, cfg)
	}
	if err := refusePartitioned(cfg.Path); err != nil {
		return nil, err
	}
	return Open(ctx, cfg)
}

// refusePartitioned fails when path has partitions: opened as one file, its newer records
// would be out of sight and new ones would land beside them in the old file.
func refusePartitioned(path string) error {
	if path == memoryPath {
		return nil
	}
	has, err := HasPartitions(path)
	if err != nil {
		return fmt.Errorf("sqlitestore: look for partitions of %q: %w", path, err)
	}
	if has {
		return fmt.Errorf("sqlitestore: %q has partitions in %q: set partition_max_rows above 0 to open it (partitioning cannot be turned off once files exist)", path, partitionDir(path))
	}
	return nil
}

// tenantFileSuffix names a tenant's file: <directory>/<tenant>.db.
const tenantFileSuffix = ".db"

// maxTenantIDLen bounds a tenant id, and so a file name (well below the usual 255 bytes).
const maxTenantIDLen = 128

// ValidTenantID reports whether id may name a tenant's file: 1 to 128 characters among
// A-Z a-z 0-9 . _ -, and not "." or "..". Nothing else can reach a path, so no id can
// escape the directory or name a device, whatever the platform.
func ValidTenantID(id string) error {
	if id == "" || len(id) > maxTenantIDLen {
		return fmt.Errorf("tenant id %q must have 1 to %d characters", id, maxTenantIDLen)
	}
	if id == "." || id == ".." {
		return fmt.Errorf("tenant id %q is not allowed", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("tenant id %q: character %q at %d is not one of A-Z a-z 0-9 . _ -", id, c, i)
		}
	}
	return nil
}

// PerTenant is a store.Store with one SQLite file per tenant in one directory, each a full
// Store (same schema, same tenant_id column, so a file holds only its tenant's rows and a
// misplaced row would still be filtered out).
//
// Open files are kept in an LRU pool of at most MaxActiveConnections entries. An operation
// acquires its tenant's entry (opening and migrating the file on a miss) and releases it when
// done; opening one more file evicts the least recently used entry, which is closed as soon
// as no operation holds it. So the pool exceeds its bound only by files still in use by
// operations that began before they were evicted.
//
// Reads of a tenant without a file return nothing and create no file; only Insert creates.
//
// Tenant "" (an admin's view) visits every file of the directory; see Query for the cost.
type PerTenant struct {
	cfg Config

	mu     sync.Mutex
	pool   *simplelru.LRU[string, *tenantHandle]
	closed bool
	// evicted collects handles that left the pool while in use, to close on release.
	toClose []*tenantHandle
}

type tenantHandle struct {
	tenant  string
	st      *Store
	refs    int
	evicted bool
}

var _ store.Store = (*PerTenant)(nil)

// OpenPerTenant validates cfg and creates its directory. Files are opened on demand.
func OpenPerTenant(ctx context.Context, cfg Config) (*PerTenant, error) {
	cfg.Tenancy = TenancyDatabasePerTenant
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sqlitestore: invalid config: %w", err)
	}
	if err := os.MkdirAll(cfg.Directory, 0o750); err != nil {
		return nil, fmt.Errorf("sqlitestore: create directory %q: %w", cfg.Directory, err)
	}
	p := &PerTenant{cfg: cfg}
	pool, err := simplelru.NewLRU(cfg.MaxActiveConnections, p.onEvict)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: max_active_connections: %w", err)
	}
	p.pool = pool
	return p, ctx.Err()
}

// onEvict runs under p.mu when the pool drops a handle.
func (p *PerTenant) onEvict(_ string, h *tenantHandle) {
	h.evicted = true
	if h.refs == 0 {
		p.toClose = append(p.toClose, h)
	}
}

func (p *PerTenant) path(tenant string) string {
	return filepath.Join(p.cfg.Directory, tenant+tenantFileSuffix)
}

// acquire returns tenant's open store, opening it on a miss. With create false, a tenant
// without a file yields (nil, nil). The caller must release a non-nil handle.
//
// The pool's lock is held while a file is opened (and migrated), so two operations never open
// the same file twice; opening an existing file takes about a millisecond.
func (p *PerTenant) acquire(ctx context.Context, tenant string, create bool) (*tenantHandle, error) {
	p.mu.Lock()
	defer p.closeEvicted()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("store is closed")
	}
	if h, ok := p.pool.Get(tenant); ok {
		h.refs++
		return h, nil
	}
	path := p.path(tenant)
	if !create {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	cfg := p.cfg
	cfg.Tenancy, cfg.Path = TenancySingleDatabase, path
	st, err := Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", tenant, err)
	}
	h := &tenantHandle{tenant: tenant, st: st, refs: 1}
	p.pool.Add(tenant, h)
	return h, nil
}

func (p *PerTenant) release(h *tenantHandle) {
	p.mu.Lock()
	h.refs--
	if h.evicted && h.refs == 0 {
		p.toClose = append(p.toClose, h)
	}
	p.mu.Unlock()
	p.closeEvicted()
}

// closeEvicted closes the handles that left the pool and are no longer used, outside the lock
// (closing checkpoints the file's WAL).
func (p *PerTenant) closeEvicted() {
	p.mu.Lock()
	list := p.toClose
	p.toClose = nil
	p.mu.Unlock()
	for _, h := range list {
		_ = h.st.Close() // a close error loses nothing: every write was committed
	}
}

// openFiles reports how many tenant files are open (tests).
func (p *PerTenant) openFiles() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.pool.Len()
	for _, h := range p.toClose {
		if !h.st.isClosed() {
			n++
		}
	}
	return n
}

// tenants lists the tenants that have a file, sorted.
func (p *PerTenant) tenants() ([]string, error) {
	entries, err := os.ReadDir(p.cfg.Directory)
	if err != nil {
		return nil, fmt.Errorf("list tenants in %q: %w", p.cfg.Directory, err)
	}
	var out []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), tenantFileSuffix)
		if !ok || !e.Type().IsRegular() || ValidTenantID(name) != nil {
			continue // -wal and -shm files, and anything an operator put there
		}
		out = append(out, name)
	}
	return out, nil
}

// withTenant runs fn on tenant's store; fn is not called for a tenant without a file when
// create is false.
func (p *PerTenant) withTenant(ctx context.Context, tenant string, create bool, fn func(*Store) error) error {
	h, err := p.acquire(ctx, tenant, create)
	if err != nil || h == nil {
		return err
	}
	defer p.release(h)
	return fn(h.st)
}

// eachTenant runs fn on every tenant's store in turn.
func (p *PerTenant) eachTenant(ctx context.Context, fn func(tenant string, st *Store) error) error {
	list, err := p.tenants()
	if err != nil {
		return err
	}
	for _, tenant := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := p.withTenant(ctx, tenant, false, func(st *Store) error { return fn(tenant, st) }); err != nil {
			return err
		}
	}
	return nil
}

func invalidTenantQuery(op, tenant string) error {
	if err := ValidTenantID(tenant); err != nil {
		return fmt.Errorf("sqlitestore: %s: %w: %w", op, store.ErrInvalidQuery, err)
	}
	return nil
}

// Migrate migrates every tenant's file (each is also migrated when first opened).
func (p *PerTenant) Migrate(ctx context.Context) error {
	return p.eachTenant(ctx, func(_ string, st *Store) error { return st.Migrate(ctx) })
}

// Insert writes records to their tenants' files, creating a file for a new tenant. Records
// take their tenant as Store.Insert does (the record's, else the batch's, else
// record.DefaultTenant) and every tenant id must pass ValidTenantID, else the batch fails
// with store.ErrInvalidRecord before anything is written.
//
// A batch of one tenant (the exporter forms batches per tenant) is one transaction. A batch
// with tenant "" holding several tenants is one transaction per tenant: if a later one fails,
// the earlier ones stay committed, and a retry of the whole batch is harmless because inserts
// are idempotent by id.
func (p *PerTenant) Insert(ctx context.Context, tenant string, records []record.Record) (int, error) {
	if len(records) == 0 {
		return 0, nil
	}
	groups := map[string][]record.Record{}
	var order []string
	for i := range records {
		r := &records[i]
		rowTenant, err := store.RowTenant(tenant, i, r)
		if err != nil {
			return 0, fmt.Errorf("sqlitestore: %w", err)
		}
		if err := ValidTenantID(rowTenant); err != nil {
			return 0, fmt.Errorf("sqlitestore: insert: record %d (id %q): %w: %w", i, r.ID, store.ErrInvalidRecord, err)
		}
		if _, ok := groups[rowTenant]; !ok {
			order = append(order, rowTenant)
		}
		groups[rowTenant] = append(groups[rowTenant], *r)
	}
	total := 0
	for _, t := range order {
		err := p.withTenant(ctx, t, true, func(st *Store) error {
			n, err := st.Insert(ctx, t, groups[t])
			total += n
			return err
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Query returns one page of f. For one tenant it is that file's Query.
//
// For tenant "" it asks every tenant's file for its own page after the same cursor and keeps
// the newest Limit records of their union: the cursor is a position in the (timestamp, id)
// order, which means the same thing in every file, so the merged walk visits every record once.
// The cost is one query per tenant file per page, and with more tenants than
// max_active_connections, files opened and closed in turn: acceptable for an admin's
// occasional cross-tenant view, not for a dashboard polling every second.
func (p *PerTenant) Query(ctx context.Context, f store.Filter, pg store.Page) (store.Result, error) {
	// Checked before any file is touched, so a bad cursor or search is an error even when no
	// tenant has a file.
	if _, _, err := store.DecodeCursor(pg.Cursor); err != nil {
		return store.Result{}, fmt.Errorf("sqlitestore: query: cursor: %w", err)
	}
	if _, err := ftsQuery(f.Text); err != nil {
		return store.Result{}, fmt.Errorf("sqlitestore: query: %w", err)
	}
	if f.TenantID != "" {
		if err := invalidTenantQuery("query", f.TenantID); err != nil {
			return store.Result{}, err
		}
		var res store.Result
		err := p.withTenant(ctx, f.TenantID, false, func(st *Store) (err error) {
			res, err = st.Query(ctx, f, pg)
			return err
		})
		return res, err
	}

	limit := pg.EffectiveLimit()
	var all []record.Record
	more := false
	err := p.eachTenant(ctx, func(_ string, st *Store) error {
		res, err := st.Query(ctx, f, store.Page{Limit: limit, Cursor: pg.Cursor})
		if err != nil {
			return err
		}
		all = append(all, res.Records...)
		more = more || res.NextCursor != ""
		return nil
	})
	if err != nil {
		return store.Result{}, fmt.Errorf("sqlitestore: query across tenants: %w", err)
	}
	slices.SortFunc(all, func(a, b record.Record) int {
		if c := b.Timestamp.Compare(a.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	var res store.Result
	if len(all) > limit {
		all, more = all[:limit], true
	}
	if more && len(all) > 0 {
		last := all[len(all)-1]
		res.NextCursor = store.Cursor{TimestampNanos: last.Timestamp.UnixNano(), ID: last.ID}.Encode()
	}
	res.Records = all
	return res, nil
}

// Get returns one record; tenant "" looks in every file until found.
func (p *PerTenant) Get(ctx context.Context, tenant, id string) (record.Record, error) {
	notFound := fmt.Errorf("sqlitestore: get %q: %w", id, store.ErrNotFound)
	if tenant != "" {
		if err := invalidTenantQuery("get", tenant); err != nil {
			return record.Record{}, err
		}
		rec, found := record.Record{}, false
		err := p.withTenant(ctx, tenant, false, func(st *Store) (err error) {
			rec, err = st.Get(ctx, tenant, id)
			found = err == nil
			return err
		})
		if err == nil && !found {
			err = notFound
		}
		return rec, err
	}
	// Ids are unique per tenant only: every tenant's file is asked, and a second holder makes
	// the id ambiguous rather than one of them picked by file order.
	var rec record.Record
	holders := 0
	ambiguous := errors.New("ambiguous")
	err := p.eachTenant(ctx, func(_ string, st *Store) error {
		r, err := st.Get(ctx, "", id)
		switch {
		case err == nil:
			rec = r
			if holders++; holders > 1 {
				return ambiguous
			}
			return nil
		case errors.Is(err, store.ErrNotFound):
			return nil
		}
		return err
	})
	switch {
	case errors.Is(err, ambiguous):
		return record.Record{}, fmt.Errorf("sqlitestore: get %q across tenants: %w", id, store.ErrAmbiguousID)
	case err != nil:
		return record.Record{}, fmt.Errorf("sqlitestore: get %q across tenants: %w", id, err)
	case holders == 1:
		return rec, nil
	}
	return record.Record{}, notFound
}

// Trace returns a trace's records oldest first; tenant "" gathers them from every file.
func (p *PerTenant) Trace(ctx context.Context, tenant, traceID string) ([]record.Record, error) {
	if traceID == "" {
		return nil, fmt.Errorf("sqlitestore: trace: %w: trace id is empty", store.ErrInvalidQuery)
	}
	if tenant != "" {
		if err := invalidTenantQuery("trace", tenant); err != nil {
			return nil, err
		}
		var out []record.Record
		err := p.withTenant(ctx, tenant, false, func(st *Store) (err error) {
			out, err = st.Trace(ctx, tenant, traceID)
			return err
		})
		return out, err
	}
	var out []record.Record
	err := p.eachTenant(ctx, func(_ string, st *Store) error {
		recs, err := st.Trace(ctx, "", traceID)
		out = append(out, recs...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: trace %q across tenants: %w", traceID, err)
	}
	slices.SortFunc(out, func(a, b record.Record) int {
		return cmp.Or(a.Timestamp.Compare(b.Timestamp), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Stats returns the aggregates of q; tenant "" adds up every file's. To keep the merged top
// lists exact, each file lists all of its events and users in the range, so an admin's stats
// cost grows with the number of distinct users as well as with the tenants.
func (p *PerTenant) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	q, err := q.Normalize()
	if err != nil {
		return store.Stats{}, fmt.Errorf("sqlitestore: %w", err)
	}
	if q.TenantID != "" {
		if err := invalidTenantQuery("stats", q.TenantID); err != nil {
			return store.Stats{}, err
		}
		out := mergeStats(q, nil) // zeros, for a tenant without a file
		err := p.withTenant(ctx, q.TenantID, false, func(st *Store) (err error) {
			out, err = st.stats(ctx, q, q.Top)
			return err
		})
		if err != nil {
			return store.Stats{}, fmt.Errorf("sqlitestore: stats: %w", err)
		}
		return out, nil
	}
	var parts []store.Stats
	err = p.eachTenant(ctx, func(_ string, st *Store) error {
		part, err := st.stats(ctx, q, -1)
		parts = append(parts, part)
		return err
	})
	if err != nil {
		return store.Stats{}, fmt.Errorf("sqlitestore: stats across tenants: %w", err)
	}
	return mergeStats(q, parts), nil
}

// Prune applies policy to every tenant's file in turn. A tenant whose prune fails does not
// stop the others; the errors are joined, and the result counts what was removed.
func (p *PerTenant) Prune(ctx context.Context, policy store.RetentionPolicy, now time.Time) (store.PruneResult, error) {
	total := store.PruneResult{RemovedByLevel: store.LevelCounts()}
	var errs []error
	list, err := p.tenants()
	if err != nil {
		return total, fmt.Errorf("sqlitestore: prune: %w", err)
	}
	for _, tenant := range list {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		err := p.withTenant(ctx, tenant, false, func(st *Store) error {
			res, err := st.Prune(ctx, policy, now)
			total.Add(res)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %q: %w", tenant, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return total, fmt.Errorf("sqlitestore: prune: %w", err)
	}
	return total, nil
}

// Close closes every open file. Operations still running on a file finish with an error;
// later calls fail. Calling it twice is safe.
func (p *PerTenant) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var list []*tenantHandle
	for _, tenant := range p.pool.Keys() {
		if h, ok := p.pool.Peek(tenant); ok {
			list = append(list, h)
		}
	}
	p.pool.Purge() // onEvict queues the idle ones in toClose; closed here instead
	list = append(list, p.toClose...)
	p.toClose = nil
	p.mu.Unlock()

	var errs []error
	seen := map[*tenantHandle]bool{}
	for _, h := range list {
		if seen[h] {
			continue
		}
		seen[h] = true
		if err := h.st.Close(); err != nil {
			errs = append(errs, fmt.Errorf("tenant %q: %w", h.tenant, err))
		}
	}
	return errors.Join(errs...)
}
