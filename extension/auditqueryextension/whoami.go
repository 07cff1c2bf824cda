package auditqueryextension

import (
	"net/http"

	"github.com/otelcol-audit/otelcol-audit/internal/httpjson"
)

const whoamiPath = "/api/v1/whoami"

// whoamiResponse is the caller as the API sees it. The viewer reads it to decide whether to
// offer a tenant selector (admins) or show the caller's fixed tenant (viewers); it carries
// nothing the caller did not present itself.
type whoamiResponse struct {
	User   string `json:"user"`
	Tenant string `json:"tenant,omitempty"`
	Role   string `json:"role"`
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
	httpjson.Write(w, http.StatusOK, whoamiResponse(caller))
	return nil
}
