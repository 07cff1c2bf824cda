package auditqueryextension

import (
	"context"
	"net/http"
	"slices"

	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/httpjson"
)

const whoamiPath = "/api/v1/whoami"

// whoamiResponse is the caller as the API sees it. The viewer reads it to decide whether to
// offer a tenant selector (admins) or show the caller's fixed tenant (viewers); it carries
// nothing the caller did not present itself, except Tenants for an admin.
type whoamiResponse struct {
	User   string `json:"user"`
	Tenant string `json:"tenant,omitempty"`
	Role   string `json:"role"`
	// Tenants lists, for an admin only, the tenants the store keeps a hash chain for: every
	// tenant with records while tamper evidence is on (the default). Absent when the store
	// keeps no chain; the viewer then suggests the tenants it has seen.
	Tenants []string `json:"tenants,omitempty"`
}

// tenantLister is the part of a chained store (store.ChainStore) whoami needs.
type tenantLister interface {
	ChainTenants(ctx context.Context) ([]string, error)
}

func (a *api) whoami(w http.ResponseWriter, r *http.Request) *apiError {
	caller, e := principalFromRequest(r, a.authConfigured)
	if e != nil {
		return e
	}
	p := newParams(r.URL.Query(), a.authParams)
	if p.err != nil {
		return p.err
	}
	resp := whoamiResponse{User: caller.User, Tenant: caller.Tenant, Role: caller.Role}
	if caller.isAdmin() {
		resp.Tenants = a.tenants(r)
	}
	httpjson.Write(w, http.StatusOK, resp)
	return nil
}

// tenants is the chained store's tenant list, or nil. It is a convenience for the selector, so
// a store that cannot answer is logged and leaves the list out rather than failing whoami.
func (a *api) tenants(r *http.Request) []string {
	var out []string
	e := a.withStore(r, "tenants", func(ctx context.Context, b Backend) (err error) {
		if l, ok := b.Store.(tenantLister); ok {
			out, err = l.ChainTenants(ctx)
			slices.Sort(out)
		}
		return err
	})
	if e != nil {
		if e != errNoBackend { // starting or stopping: nothing to list, nothing to report
			a.logger.Warn("whoami: the store's tenants could not be listed", zap.String("error", e.Message))
		}
		return nil
	}
	return out
}
