package sqlitestore

import (
	"context"
	"fmt"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
)

var _ chain.UnchainedSinceSource = (*Store)(nil)

const (
	selectLastSeq = `SELECT COALESCE(MAX(seq), 0) FROM audit_logs`
	// selectUnchainedSince is selectUnchained over the rows after a seq: a range of the rowid.
	// The unary + keeps the planner off the tenant's indexes, which it would otherwise prefer,
	// scanning every row of the tenant instead of the new ones.
	selectUnchainedSince = `SELECT l.id FROM audit_logs l
		WHERE l.seq > ? AND l.seq <= ? AND +l.tenant_id = ? AND l.seq >= (SELECT from_seq FROM audit_chain_start)
		AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.record_id = l.id AND c.tenant_id = l.tenant_id)
		LIMIT ?`
)

// UnchainedSince is Unchained over the rows stored after the seq after, through the last seq
// stored now, which it returns: an incremental verification looks only at what was stored
// since the last one. Rows inserted directly with a seq at or before after are found only by
// Unchained (a full verification).
func (s *Store) UnchainedSince(ctx context.Context, tenant string, after int64, limit int) ([]string, int64, error) {
	var through int64
	if err := s.read.QueryRowContext(ctx, selectLastSeq).Scan(&through); err != nil {
		return nil, 0, fmt.Errorf("sqlitestore: unchained records: %w", err)
	}
	rows, err := s.read.QueryContext(ctx, selectUnchainedSince, after, through, tenant, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlitestore: unchained records: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, 0, err
		}
		ids = append(ids, id)
	}
	return ids, through, rows.Err()
}
