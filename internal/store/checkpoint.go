package store

import (
	"context"
	"fmt"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// WriteCheckpoint signs (with signer; unsigned when nil) and saves a checkpoint of the
// tenant's chain head at now. It writes nothing and returns false when the tenant has no chain
// yet, or when the head is at or before since (the caller's last checkpoint; 0 for none), so a
// head that has not moved is not signed twice without reading the stored checkpoints back.
// A prune checkpoint carries cutoffs: which records the run was allowed to remove.
func WriteCheckpoint(ctx context.Context, cs ChainStore, signer *chain.Signer, tenant, kind string,
	cutoffs map[record.Level]time.Time, since uint64, now time.Time) (chain.Checkpoint, bool, error) {
	head, err := cs.ChainHead(ctx, tenant)
	if err != nil {
		return chain.Checkpoint{}, false, err
	}
	if head.Seq == 0 || head.Seq <= since {
		return chain.Checkpoint{}, false, nil
	}
	cp := signer.Sign(chain.Checkpoint{Tenant: tenant, Seq: head.Seq, Head: head.Hash,
		Time: now.UTC(), Kind: kind, Cutoffs: cutoffs})
	if err := cs.SaveCheckpoint(ctx, cp); err != nil {
		return chain.Checkpoint{}, false, fmt.Errorf("checkpoint of %q: %w", tenant, err)
	}
	return cp, true, nil
}
