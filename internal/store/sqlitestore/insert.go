package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// rowsPerStatement is how many records one INSERT carries. Multi-row statements amortise
// SQLite's per-statement work (DESIGN.md measured 25k rows/s at one row per INSERT, 29k at 50);
// beyond about 50 the gain flattens while the statement (32 parameters a row) keeps growing.
const rowsPerStatement = 50

// insertSQL returns the INSERT for n rows:
//
//	INSERT OR ROLLBACK INTO audit_logs (id, timestamp, ...) VALUES (?, ?, ...), (?, ?, ...)
//	ON CONFLICT (id, tenant_id) DO NOTHING
//
// A record's identity is (tenant_id, id). ON CONFLICT DO NOTHING rather than INSERT OR IGNORE:
// both skip a record whose tenant already stored its id (a replay), but OR IGNORE would also silently skip a row that breaks any other
// constraint, and a store must never drop a record without an error. With returning, the
// statement ends in RETURNING id, which lists the rows it stored and not the replays: those
// are the records to link onto the chain.
//
// OR ROLLBACK: any other constraint failure rolls the whole transaction back, which Insert
// would do anyway when the statement fails. Under SQLite's default (ABORT) a failing statement
// must undo only its own changes, so every statement of the transaction keeps a statement
// journal: a copy of each page it changes that an earlier statement had changed, and with 20
// statements a batch writing the same index pages, that copying was most of what the writer
// wrote (270 MB for 10 batches of 1,000 load generator records against 100 MB with ROLLBACK).
func insertSQL(n int, returning bool) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", columnCount), ", ") + ")"
	var b strings.Builder
	b.WriteString("INSERT OR ROLLBACK INTO audit_logs (")
	b.WriteString(insertColumnList)
	b.WriteString(") VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(" ON CONFLICT (id, tenant_id) DO NOTHING")
	if returning {
		b.WriteString(" RETURNING id")
	}
	return b.String()
}

// insertFullText indexes the rows a transaction stored, all in one statement and as the
// transaction's last statement. Until schema v7 a trigger indexed each row as its INSERT ran,
// and that cost most of the writer's time on a growing file: every multi-row INSERT is a
// statement transaction (it may fail half-way), and FTS5 writes its pending rows to disk as a
// new segment at each statement savepoint, so a batch of 1,000 records made one tiny segment
// per 50-row statement and per chain-links statement after it, some 30 a batch, which FTS5
// then merged (reading and deleting the segments again) on every commit. One statement at the
// end leaves FTS5 one segment per transaction, written at commit.
const insertFullText = `INSERT INTO audit_fts (rowid, message, event, search_text)
	SELECT seq, message, event, search_text FROM audit_logs WHERE seq > ?`

// statementCache prepares each statement once on db and reuses it (database/sql prepares it
// again on each new connection of the pool). The store keeps one on the writer for the insert
// statements (a batch of n records runs n/50 executions of the 50-row statement and one of the
// (n%50)-row statement, and its chain links likewise) and one on the readers for Trace.
type statementCache struct {
	db *sql.DB

	mu     sync.Mutex
	bySQL  map[string]*sql.Stmt
	closed bool
}

func (p *statementCache) get(ctx context.Context, n int, returning bool) (*sql.Stmt, error) {
	return p.prepare(ctx, insertSQL(n, returning))
}

func (p *statementCache) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("store is closed")
	}
	if st, ok := p.bySQL[query]; ok {
		return st, nil
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if p.bySQL == nil {
		p.bySQL = make(map[string]*sql.Stmt)
	}
	p.bySQL[query] = st
	return st, nil
}

func (p *statementCache) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return p.closeStatementsLocked()
}

// release closes the cached statements and forgets them; the cache stays usable and prepares
// again what is asked for after it. The caller makes sure no statement is in use.
func (p *statementCache) release() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closeStatementsLocked()
}

// size is the number of statements cached.
func (p *statementCache) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.bySQL)
}

func (p *statementCache) closeStatementsLocked() error {
	var errs []error
	for _, st := range p.bySQL {
		errs = append(errs, st.Close())
	}
	p.bySQL = nil
	return errors.Join(errs...)
}

// Insert writes records in one transaction, which concurrent calls may share (insert_group.go):
// all of them or, on error, none. A record whose id is already stored is skipped, so a replay
// of the same batch changes nothing.
//
// tenant is the batch's tenant: a record without a TenantID is stored under it, and a record
// whose TenantID differs from a non-empty tenant is refused (the whole batch fails: batches
// are formed per tenant, so a mismatch is a bug upstream, not data to guess about). A record
// with neither is stored under record.DefaultTenant, as the mapping would have done.
//
// With the chain on (Config.Chain), the records stored (not the replays) are linked onto the
// tenant's chain in the same transaction, in batch order.
//
// The stats counts (rollup.go) grow in the same transaction by the rows stored: summed in Go
// over the batch, each key written once. When the conflict clause skipped replays, the counts
// are taken from the rows read back instead of from the batch.
//
// The records are not modified.
func (s *Store) Insert(ctx context.Context, tenant string, records []record.Record) (int, error) {
	if len(records) == 0 {
		return 0, nil
	}
	n, err := s.insert(ctx, tenant, records)
	s.noteWrite(err)
	return n, err
}

// encodedBatch is one Insert call's records, encoded and with their statements prepared: all
// the work that needs no transaction, done by the caller's goroutine before it joins the
// write group (insert_group.go).
type encodedBatch struct {
	records    []record.Record
	rowTenants []string
	args       []any
	// counts are the stats counts of the whole batch, summed while encoding: what the batch
	// adds when every record is stored, the usual case (see rollup.go).
	counts     *rollupDelta
	hashes     []chain.Hash // with the chain on: each record's chain.RecordHash
	full, tail *sql.Stmt    // the rowsPerStatement-row INSERT, and the one for the rest
	linksFull  *sql.Stmt    // the linksPerStatement-link INSERT, with the chain on and enough records
	rollups    map[rollupTable][]*sql.Stmt
	ftsInsert  *sql.Stmt // nil when the full-text index is not Insert's to keep
}

func (s *Store) insert(ctx context.Context, tenant string, records []record.Record) (int, error) {
	s.group.encodeBegins()
	b, err := s.encodeBatch(ctx, tenant, records)
	if err != nil {
		s.group.encodeFailed()
		return 0, err
	}
	return s.group.write(ctx, s, b)
}

// encodeBatch encodes records and prepares the statements their transaction runs.
func (s *Store) encodeBatch(ctx context.Context, tenant string, records []record.Record) (*encodedBatch, error) {
	b := &encodedBatch{
		records:    records,
		args:       make([]any, 0, len(records)*columnCount),
		rowTenants: make([]string, len(records)),
		counts:     newRollupDelta(),
	}
	for i := range records {
		r := &records[i]
		rowTenant, err := store.RowTenant(tenant, i, r)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: %w", err)
		}
		b.rowTenants[i] = rowTenant
		if b.args, err = encodeRecord(b.args, r, rowTenant); err != nil {
			// No id, a time out of range: retrying cannot help, so the DLQ sets it aside at once.
			return nil, fmt.Errorf("sqlitestore: insert: record %d (id %q): %w: %w", i, r.ID, store.ErrInvalidRecord, err)
		}
		ts, _ := encodeTime("timestamp", r.Timestamp) // encodeRecord accepted it
		b.counts.add(rowTenant, ts, int64(r.Level), r.Event, r.UserID, 1)
	}

	// Statements are prepared, and the records' chain hashes computed, before the transaction
	// begins: the writer pool has one connection, which the transaction holds until it ends,
	// and another flush can use it meanwhile.
	chained := s.cfg.Chain
	if chained {
		b.hashes = recordHashes(records, b.rowTenants)
	}
	var err error
	if b.full, err = s.inserts.get(ctx, min(rowsPerStatement, len(records)), chained); err != nil {
		return nil, fmt.Errorf("sqlitestore: insert: prepare statement: %w", err)
	}
	b.tail = b.full
	if rest := len(records) % rowsPerStatement; rest != 0 && len(records) > rowsPerStatement {
		if b.tail, err = s.inserts.get(ctx, rest, chained); err != nil {
			return nil, fmt.Errorf("sqlitestore: insert: prepare statement: %w", err)
		}
	}
	if chained && len(records) >= linksPerStatement {
		if b.linksFull, err = s.inserts.prepare(ctx, insertLinksSQL(linksPerStatement)); err != nil {
			return nil, fmt.Errorf("sqlitestore: insert: prepare statement: %w", err)
		}
	}
	if b.rollups, err = s.prepareRollups(ctx); err != nil {
		return nil, fmt.Errorf("sqlitestore: insert: prepare statement: %w", err)
	}
	if !s.skipFullTextInsert {
		if b.ftsInsert, err = s.inserts.prepare(ctx, insertFullText); err != nil {
			return nil, fmt.Errorf("sqlitestore: insert: prepare statement: %w", err)
		}
	}
	return b, nil
}

// commitBatches writes batches in one transaction and returns how many rows each stored; on
// error nothing of any batch is stored.
func (s *Store) commitBatches(ctx context.Context, batches []*encodedBatch) ([]int, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: insert: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit

	// The rows a batch stores are those above the largest seq before it (SQLite gives a new
	// row the largest rowid plus one, and this transaction is the only writer): the stats
	// counts of a batch with replays and the full-text index read them back.
	var firstSeq int64
	stored := make([]int, len(batches))
	total := 0
	for i, b := range batches {
		var lastSeq int64
		if err := tx.QueryRowContext(ctx, selectMaxSeq).Scan(&lastSeq); err != nil {
			return nil, fmt.Errorf("sqlitestore: insert: read the last seq: %w", err)
		}
		if i == 0 {
			firstSeq = lastSeq
		}
		if stored[i], err = s.writeBatch(ctx, tx, b, lastSeq); err != nil {
			return nil, err
		}
		total += stored[i]
	}
	// Last, so that no statement of the transaction begins after the full-text table has
	// pending rows (see insertFullText); one statement for every batch of the group.
	if fts := batches[0].ftsInsert; fts != nil && total > 0 {
		if _, err := tx.StmtContext(ctx, fts).ExecContext(ctx, firstSeq); err != nil {
			return nil, fmt.Errorf("sqlitestore: insert: full-text index: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlitestore: insert: commit: %w", err)
	}
	s.checkpoints.committed()
	return stored, nil
}

// writeBatch runs one batch's statements in tx and returns how many rows it stored. lastSeq
// is the largest seq before the batch: its rows are those above it.
func (s *Store) writeBatch(ctx context.Context, tx *sql.Tx, b *encodedBatch, lastSeq int64) (int, error) {
	records, perRow := b.records, columnCount
	var inserted map[string]bool
	if b.hashes != nil {
		inserted = make(map[string]bool, len(records))
	}
	total := 0
	for start := 0; start < len(records); start += rowsPerStatement {
		n := min(rowsPerStatement, len(records)-start)
		st := b.full
		if n < rowsPerStatement {
			st = b.tail
		}
		stored, err := execInsert(ctx, tx.StmtContext(ctx, st), b.args[start*perRow:(start+n)*perRow], inserted)
		if err != nil {
			return 0, fmt.Errorf("sqlitestore: insert: records %d to %d: %w", start, start+n-1, err)
		}
		total += stored
	}
	counts := b.counts
	if total < len(records) {
		// Some records were replays, which the conflict clause skipped: count the rows this
		// batch stored instead, so that a replay is never counted twice.
		counts = newRollupDelta()
		n, err := countRowsAfter(ctx, tx, lastSeq, counts)
		if err != nil {
			return 0, fmt.Errorf("sqlitestore: insert: read back the stored rows: %w", err)
		}
		if n != total {
			return 0, fmt.Errorf("sqlitestore: insert: %d rows stored but %d found after seq %d", total, n, lastSeq)
		}
	}
	if err := counts.write(ctx, inTx(ctx, tx, b.rollups)); err != nil {
		return 0, fmt.Errorf("sqlitestore: insert: stats counts: %w", err)
	}
	if b.hashes != nil {
		if err := s.appendLinks(ctx, tx, b.linksFull, records, b.rowTenants, b.hashes, inserted); err != nil {
			return 0, fmt.Errorf("sqlitestore: insert: %w", err)
		}
	}
	return total, nil
}

// recordHashes is each record's chain.RecordHash, under the tenant it is stored for.
func recordHashes(records []record.Record, tenants []string) []chain.Hash {
	hashes := make([]chain.Hash, len(records))
	for i := range records {
		r := records[i]
		r.TenantID = tenants[i]
		hashes[i] = chain.RecordHash(r)
	}
	return hashes
}

// execInsert runs one insert statement and returns how many rows it stored (replays are
// skipped by the conflict clause); with inserted not nil, the statement returns the ids it
// stored, which are added to inserted.
func execInsert(ctx context.Context, st *sql.Stmt, args []any, inserted map[string]bool) (int, error) {
	if inserted == nil {
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		return int(n), err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return 0, err
		}
		inserted[id] = true
		n++
	}
	return n, rows.Err()
}
