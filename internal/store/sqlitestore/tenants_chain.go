package sqlitestore

import (
	"context"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// With database_per_tenant each tenant's file holds its own chain and checkpoints: the methods
// below route to it. A tenant without a file has no chain.

var _ store.ChainStore = (*PerTenant)(nil)

// ChainHead returns the tenant's last link.
func (p *PerTenant) ChainHead(ctx context.Context, tenant string) (head chain.Link, err error) {
	if err := invalidTenantQuery("chain head", tenant); err != nil {
		return chain.Link{}, err
	}
	err = p.withTenant(ctx, tenant, false, func(st *Store) (err error) {
		head, err = st.ChainHead(ctx, tenant)
		return err
	})
	return head, err
}

// ChainLinks calls fn for the tenant's links from..to in seq order.
func (p *PerTenant) ChainLinks(ctx context.Context, tenant string, from, to uint64, fn func(chain.Link, *record.Record) error) error {
	if err := invalidTenantQuery("chain links", tenant); err != nil {
		return err
	}
	return p.withTenant(ctx, tenant, false, func(st *Store) error { return st.ChainLinks(ctx, tenant, from, to, fn) })
}

// Checkpoints returns the tenant's checkpoints.
func (p *PerTenant) Checkpoints(ctx context.Context, tenant string) (cps []chain.Checkpoint, err error) {
	if err := invalidTenantQuery("checkpoints", tenant); err != nil {
		return nil, err
	}
	err = p.withTenant(ctx, tenant, false, func(st *Store) (err error) {
		cps, err = st.Checkpoints(ctx, tenant)
		return err
	})
	return cps, err
}

// SaveCheckpoint stores a checkpoint in the tenant's file.
func (p *PerTenant) SaveCheckpoint(ctx context.Context, cp chain.Checkpoint) error {
	if err := invalidTenantQuery("save checkpoint", cp.Tenant); err != nil {
		return err
	}
	return p.withTenant(ctx, cp.Tenant, false, func(st *Store) error { return st.SaveCheckpoint(ctx, cp) })
}

// Unchained returns ids of the tenant's records without a link.
func (p *PerTenant) Unchained(ctx context.Context, tenant string, limit int) (ids []string, err error) {
	if err := invalidTenantQuery("unchained records", tenant); err != nil {
		return nil, err
	}
	err = p.withTenant(ctx, tenant, false, func(st *Store) (err error) {
		ids, err = st.Unchained(ctx, tenant, limit)
		return err
	})
	return ids, err
}

// ChainTenants lists the tenants whose file has a chain.
func (p *PerTenant) ChainTenants(ctx context.Context) ([]string, error) {
	var out []string
	err := p.eachTenant(ctx, func(tenant string, st *Store) error {
		list, err := st.ChainTenants(ctx)
		if len(list) > 0 {
			out = append(out, tenant)
		}
		return err
	})
	return out, err
}
