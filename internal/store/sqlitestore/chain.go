package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

var _ store.ChainStore = (*Store)(nil)

const (
	selectChainHead = `SELECT seq, record_id, timestamp, level, record_hash, hash FROM audit_chain
		WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1`
	selectChainLinks = `SELECT seq, record_id, timestamp, level, record_hash, hash FROM audit_chain
		WHERE tenant_id = ? AND seq >= ? AND seq <= ? ORDER BY seq LIMIT ?`
	selectChainTenants = `SELECT DISTINCT tenant_id FROM audit_chain ORDER BY tenant_id`
	insertCheckpoint   = `INSERT INTO audit_checkpoints (tenant_id, seq, time, document) VALUES (?, ?, ?, ?)`
	selectCheckpoints  = `SELECT document FROM audit_checkpoints WHERE tenant_id = ? ORDER BY seq, time`
	// selectUnchained finds rows stored since chaining began without a link of their tenant.
	selectUnchained = `SELECT l.id FROM audit_logs l
		WHERE l.tenant_id = ? AND l.seq >= (SELECT from_seq FROM audit_chain_start)
		AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.record_id = l.id AND c.tenant_id = l.tenant_id)
		LIMIT ?`
)

// linksPerStatement is how many links one INSERT into audit_chain carries (7 parameters each).
const linksPerStatement = 100

// chainLinksPage is how many links ChainLinks reads per query, with their records.
const chainLinksPage = 1000

// appendLinks links the records this transaction inserted (ids in inserted) onto their
// tenants' chains (tenants[i] is records[i]'s), in batch order, after the heads stored in the
// same transaction. Running in the insert's transaction makes the links commit with their
// records or not at all, and reading the heads there makes each chain follow commit order,
// even across processes.
//
// full is the prepared statement for linksPerStatement links, nil for batches smaller than
// that: statements cannot be prepared inside the transaction, which holds the writer's only
// connection, so a shorter remainder runs unprepared.
func (s *Store) appendLinks(ctx context.Context, tx *sql.Tx, full *sql.Stmt, records []record.Record, tenants []string, hashes []chain.Hash, inserted map[string]bool) error {
	if len(inserted) == 0 {
		return nil
	}
	heads := map[string]chain.Link{}
	args := make([]any, 0, len(inserted)*7)
	for i := range records {
		r, tenant := records[i], tenants[i]
		if !inserted[r.ID] {
			continue
		}
		delete(inserted, r.ID) // a second record with the same id in the batch was not stored
		head, ok := heads[tenant]
		if !ok {
			var err error
			head, err = scanLink(tx.QueryRowContext(ctx, selectChainHead, tenant), tenant)
			if err != nil && err != sql.ErrNoRows {
				return fmt.Errorf("read chain head of %q: %w", tenant, err)
			}
		}
		r.TenantID = tenant
		head = chain.NextHashed(head, r, hashes[i])
		heads[tenant] = head
		args = append(args, tenant, int64(head.Seq), head.RecordID, clampNanos(head.Timestamp),
			int64(head.Level), head.RecordHash[:], head.Hash[:])
	}
	for start := 0; start < len(args); start += linksPerStatement * 7 {
		end := min(len(args), start+linksPerStatement*7)
		var err error
		if n := (end - start) / 7; n == linksPerStatement && full != nil {
			_, err = tx.StmtContext(ctx, full).ExecContext(ctx, args[start:end]...)
		} else {
			_, err = tx.ExecContext(ctx, insertLinksSQL(n), args[start:end]...)
		}
		if err != nil {
			return fmt.Errorf("insert chain links: %w", err)
		}
	}
	return nil
}

func insertLinksSQL(n int) string {
	// OR ROLLBACK for the reason insertSQL gives: no statement journal.
	return "INSERT OR ROLLBACK INTO audit_chain (tenant_id, seq, record_id, timestamp, level, record_hash, hash) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?), ", n), ", ")
}

func scanLink(sc rowScanner, tenant string) (chain.Link, error) {
	var (
		l                chain.Link
		seq, ts, level   int64
		recordHash, hash []byte
	)
	if err := sc.Scan(&seq, &l.RecordID, &ts, &level, &recordHash, &hash); err != nil {
		return chain.Link{}, err
	}
	if len(recordHash) != len(l.RecordHash) || len(hash) != len(l.Hash) {
		// A hash of the wrong length is tampering too: keep what is there, and verify reports
		// the mismatch at this link.
		recordHash, hash = append(recordHash, make([]byte, 32)...), append(hash, make([]byte, 32)...)
	}
	l.Tenant, l.Seq, l.Timestamp, l.Level = tenant, uint64(seq), decodeTime(ts), record.Level(level)
	copy(l.RecordHash[:], recordHash)
	copy(l.Hash[:], hash)
	return l, nil
}

// ChainHead returns the tenant's last link, the zero Link when it has none.
func (s *Store) ChainHead(ctx context.Context, tenant string) (chain.Link, error) {
	l, err := scanLink(s.read.QueryRowContext(ctx, selectChainHead, tenant), tenant)
	if err == sql.ErrNoRows {
		return chain.Link{}, nil
	}
	if err != nil {
		return chain.Link{}, fmt.Errorf("sqlitestore: chain head: %w", err)
	}
	return l, nil
}

// ChainLinks calls fn for the tenant's links from..to in seq order, each with its record or
// nil. A link's record is the tenant's record of that id; only when the tenant has none is
// another tenant's record of the id given, so that a record moved to another tenant is seen as
// such (ids are unique per tenant, not across tenants).
func (s *Store) ChainLinks(ctx context.Context, tenant string, from, to uint64, fn func(chain.Link, *record.Record) error) error {
	for next := from; next <= to; {
		links, err := s.linkPage(ctx, tenant, next, to)
		if err != nil {
			return fmt.Errorf("sqlitestore: chain links: %w", err)
		}
		if len(links) == 0 {
			return nil
		}
		recs, err := s.recordsByID(ctx, tenant, links)
		if err != nil {
			return fmt.Errorf("sqlitestore: chain records: %w", err)
		}
		for _, l := range links {
			var rec *record.Record
			if r, ok := recs[l.RecordID]; ok {
				rec = &r
			}
			if err := fn(l, rec); err != nil {
				return err
			}
		}
		next = links[len(links)-1].Seq + 1
	}
	return nil
}

func (s *Store) linkPage(ctx context.Context, tenant string, from, to uint64) ([]chain.Link, error) {
	rows, err := s.read.QueryContext(ctx, selectChainLinks, tenant, int64(from), int64(min(to, 1<<63-1)), chainLinksPage)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var links []chain.Link
	for rows.Next() {
		l, err := scanLink(rows, tenant)
		if err != nil {
			return nil, err
		}
		links = append(links, l)
	}
	return links, rows.Err()
}

func (s *Store) recordsByID(ctx context.Context, tenant string, links []chain.Link) (map[string]record.Record, error) {
	ids := make([]any, len(links))
	for i, l := range links {
		ids[i] = l.RecordID
	}
	query := "SELECT " + columnList + " FROM audit_logs WHERE id IN (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + ")"
	recs, err := s.selectRecords(ctx, query, ids, 0)
	if err != nil {
		return nil, err
	}
	out := make(map[string]record.Record, len(recs))
	for _, r := range recs {
		if have, ok := out[r.ID]; !ok || (have.TenantID != tenant && r.TenantID == tenant) {
			out[r.ID] = r
		}
	}
	return out, nil
}

// SaveCheckpoint stores a checkpoint of cp.Tenant's chain.
func (s *Store) SaveCheckpoint(ctx context.Context, cp chain.Checkpoint) error {
	doc, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("sqlitestore: save checkpoint: %w", err)
	}
	if _, err := s.write.ExecContext(ctx, insertCheckpoint, cp.Tenant, int64(cp.Seq), clampNanos(cp.Time), string(doc)); err != nil {
		return fmt.Errorf("sqlitestore: save checkpoint: %w", err)
	}
	return nil
}

// Checkpoints returns the tenant's checkpoints in seq order.
func (s *Store) Checkpoints(ctx context.Context, tenant string) ([]chain.Checkpoint, error) {
	rows, err := s.read.QueryContext(ctx, selectCheckpoints, tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: checkpoints: %w", err)
	}
	defer rows.Close()
	var out []chain.Checkpoint
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("sqlitestore: checkpoints: %w", err)
		}
		var cp chain.Checkpoint
		if err := json.Unmarshal([]byte(doc), &cp); err != nil {
			return nil, fmt.Errorf("sqlitestore: checkpoints of %q: %w", tenant, err)
		}
		out = append(out, cp)
	}
	return out, rows.Err()
}

// Unchained returns ids of the tenant's records stored since chaining began that have no link.
func (s *Store) Unchained(ctx context.Context, tenant string, limit int) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, selectUnchained, tenant, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: unchained records: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ChainTenants lists the tenants that have a chain.
func (s *Store) ChainTenants(ctx context.Context) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, selectChainTenants)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: chain tenants: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
