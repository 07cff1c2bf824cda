package auditqueryextension

import (
	"context"

	"github.com/otelcol-audit/otelcol-audit/internal/auditstore"
	"github.com/otelcol-audit/otelcol-audit/internal/chain"

	"github.com/otelcol-audit/otelcol-audit/internal/health"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Backend is what the API serves: the auditstore extension's store, its health (the writers'
// included), its retention and its chain. Tests build one over a bare store.
type Backend struct {
	Store  store.Store
	Health health.Source
	// Retention runs the retention policy on demand (admin API); nil on a read-only store.
	Retention RetentionRunner
	// Verifier recomputes a tenant's hash chain (GET /api/v1/verify); nil, or answering
	// auditstore.ErrNoChain, when none is kept.
	Verifier ChainVerifier
}

// backendOf is what the API serves of an auditstore extension's handle.
func backendOf(h auditstore.Handle) Backend {
	b := Backend{Store: h.Store(), Health: h, Verifier: h}
	if !h.ReadOnly() {
		b.Retention = h
	}
	return b
}

// ChainVerifier recomputes a tenant's tamper-evident chain over a range of commit times.
type ChainVerifier interface {
	VerifyChain(ctx context.Context, tenant string, r chain.Range) (chain.Report, error)
}

// RetentionRunner applies the retention policy now and reports what it removed.
type RetentionRunner interface {
	RunRetention(ctx context.Context) (store.PruneResult, error)
}
