package auditqueryextension

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWhoami_TellsTheCallerItsRoleAndTenant(t *testing.T) {
	tests := []struct {
		name           string
		authConfigured bool
		auth           authData
		want           whoamiResponse
	}{
		{"a viewer has its tenant", true, viewerOf("acme"), whoamiResponse{User: "viewer@acme", Tenant: "acme", Role: roleViewer}},
		{"an admin may have no tenant", true, authData{"subject": "root", "role": "admin"}, whoamiResponse{User: "root", Role: roleAdmin}},
		{"without auth the loopback caller is the anonymous admin", false, nil, whoamiResponse{User: "anonymous", Role: roleAdmin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testAPI(t, nil, nil, tt.authConfigured)
			resp := serve(h, http.MethodGet, whoamiPath, tt.auth)
			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
			var got whoamiResponse
			resp.decode(t, &got)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestWhoami_AnAdminGetsTheChainedStoresTenantsAViewerDoesNot(t *testing.T) {
	f := newFixture(t) // a SQLite store with chains on, as by default
	h := testAPI(t, f.store, nil, true)

	var admin whoamiResponse
	serve(h, http.MethodGet, whoamiPath, authData{"subject": "root", "role": "admin"}).decode(t, &admin)
	assert.Equal(t, []string{"acme", "globex"}, admin.Tenants)

	resp := serve(h, http.MethodGet, whoamiPath, viewerOf("acme"))
	assert.NotContains(t, string(resp.body), "tenants", "a viewer learns no other tenant's name")
	assert.NotContains(t, string(resp.body), "globex")
}

func TestWhoami_RefusesAnUnauthenticatedCallerAndUnknownParameters(t *testing.T) {
	h := testAPI(t, nil, nil, true)
	resp := serve(h, http.MethodGet, whoamiPath, nil)
	assert.Equal(t, http.StatusUnauthorized, resp.status)
	assert.Equal(t, codeUnauthenticated, resp.apiError(t).Error.Code)

	resp = serve(h, http.MethodGet, whoamiPath+"?tenant=acme", viewerOf("acme"))
	assert.Equal(t, http.StatusBadRequest, resp.status)
	assert.Contains(t, resp.apiError(t).Error.Message, "tenant")
}
