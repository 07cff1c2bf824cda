// Package auditstore is the contract between the auditstore extension, which opens and owns the
// audit store, and the components that use it: the audit exporter writes through it, the query
// extension reads through it. They find it on the host by the id their `store` setting names;
// no component imports another.
package auditstore

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/health"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Handle is the store an auditstore extension opened, shared by every component that names it.
// Its methods are safe for concurrent use between the extension's Start and Shutdown.
type Handle interface {
	// Store is the backend, for reads. Writers use Insert, so what follows a commit runs.
	Store() store.Store
	// ReadOnly is true for a query node over a store another collector writes.
	ReadOnly() bool
	// Insert stores one tenant's batch (store.Store.Insert) and then runs what follows a
	// commit: the chain checkpoint count and the live feed. It returns the rows newly stored.
	// A batch that can never be stored fails with a permanent error (consumererror).
	Insert(ctx context.Context, tenant string, recs []record.Record) (int, error)
	// Subscribe calls fn with every batch committed through this handle, after the commit, so
	// a subscriber never sees a record a query could not find. fn must not block. The returned
	// function ends the subscription.
	Subscribe(fn func([]record.Record)) (cancel func())
	// AddWriter adds a writer's pipeline state (queue, WAL, DLQ) to Health. The returned
	// function removes it.
	AddWriter(w health.Source) (remove func())
	// Health is the store's state merged with every writer's.
	Health() health.Snapshot
	// RunRetention applies the retention policy now (ErrReadOnly on a read-only store).
	RunRetention(ctx context.Context) (store.PruneResult, error)
	// VerifyChain recomputes a tenant's hash chain (ErrNoChain when none is kept).
	VerifyChain(ctx context.Context, tenant string, r chain.Range) (chain.Report, error)
}

var (
	// ErrReadOnly is returned by writes to a store opened with read_only.
	ErrReadOnly = errors.New("auditstore: the store is read-only (read_only: true): another collector writes it")
	// ErrNoChain is returned by VerifyChain when tamper_evidence is off or the store keeps no chain.
	ErrNoChain = errors.New("auditstore: tamper_evidence is off or the store keeps no chain")
)

// Find returns the Handle of the extension id names. The error says what to configure.
func Find(host component.Host, id component.ID) (Handle, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("extension %q is not configured in service.extensions; add an auditstore extension (extensions: {%s: {}}) and list it under service.extensions", id, id)
	}
	h, ok := ext.(Handle)
	if !ok {
		return nil, fmt.Errorf("extension %q is not an auditstore extension", id)
	}
	return h, nil
}
