package auditqueryextension

import (
	"context"
	"github.com/otelcol-audit/otelcol-audit/internal/chain"

	"github.com/otelcol-audit/otelcol-audit/internal/health"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Backend is what the exporter that owns a store hands to this extension: the store's read side
// and the pipeline's health. The extension never opens a second writer on the same database.
type Backend struct {
	Store  store.Store
	Health health.Source
	// Retention runs the exporter's retention policy on demand (admin API); nil when the
	// exporter has none.
	Retention RetentionRunner
	// Verifier recomputes a tenant's hash chain (GET /api/v1/verify); nil when the exporter
	// keeps no chain.
	Verifier ChainVerifier
}

// ChainVerifier recomputes a tenant's tamper-evident chain over a range of commit times.
type ChainVerifier interface {
	VerifyChain(ctx context.Context, tenant string, r chain.Range) (chain.Report, error)
}

// RetentionRunner applies the retention policy now and reports what it removed.
type RetentionRunner interface {
	RunRetention(ctx context.Context) (store.PruneResult, error)
}

// BackendRegistry is implemented by the query extension. The auditexporter finds it among the
// host's extensions (its `query` setting names the extension) and registers at Start, and
// unregisters at Shutdown before it closes the store; between the two the API answers 503.
type BackendRegistry interface {
	RegisterBackend(b Backend) error
	UnregisterBackend()
}

// RecordPublisher is implemented by the query extension to feed its live stream. The exporter
// calls Publish once per batch after the batch is committed to the store, so a subscriber never
// sees a record that a query could not find. Publish must not block: slow subscribers are the
// extension's problem, never the write path's.
type RecordPublisher interface {
	Publish(records []record.Record)
}
