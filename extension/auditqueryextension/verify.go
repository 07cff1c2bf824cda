package auditqueryextension

import (
	"errors"
	"net/http"

	"github.com/otelcol-audit/otelcol-audit/internal/auditstore"
	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/httpjson"
)

var errNoChain = &apiError{Status: http.StatusNotImplemented, Code: codeNotImplemented, Message: "the store keeps no hash chain (tamper_evidence is off, or the backend does not support it)"}

// paramFull asks verify to recompute the whole chain instead of resuming after the checkpoint
// the last intact verification reached.
const paramFull = "full"

// flag reads a boolean parameter: absent or "false" is false, "true" is true.
func (p *params) flag(name string) bool {
	switch v := p.single(name); v {
	case "", "false":
		return false
	case "true":
		return true
	default:
		p.fail(badParam(name, "must be true or false, got %q", v))
		return false
	}
}

// verify recomputes one tenant's hash chain between start and end (commit times, optional) and
// answers 200 with the report whether or not the chain is intact: "ok" and "first_broken" are
// the finding; an error status means the check could not run. A tenant caller verifies its own
// tenant; an admin names one. It runs under the request's context rather than the query
// timeout: a whole chain can take longer than a page of records.
func (a *api) verify(w http.ResponseWriter, r *http.Request) *apiError {
	caller, e := principalFromRequest(r, a.authConfigured)
	if e != nil {
		return e
	}
	p := newParams(r.URL.Query(), []string{paramTenant, paramStart, paramEnd, paramFull}, a.authParams)
	requested := p.tenant()
	rng := chain.Range{Start: p.time(paramStart), End: p.time(paramEnd), Full: p.flag(paramFull)}
	if p.err != nil {
		return p.err
	}
	if !rng.Start.IsZero() && !rng.End.IsZero() && !rng.End.After(rng.Start) {
		return badParam(paramEnd, "must be after start")
	}
	tenant, e := caller.scope(requested)
	if e != nil {
		return e
	}
	if tenant == "" {
		return badParam(paramTenant, "is required: a chain belongs to one tenant")
	}
	b, release, ok := a.backends.acquire()
	if !ok {
		return errNoBackend
	}
	defer release()
	if b.Verifier == nil {
		return errNoChain
	}
	rep, err := b.Verifier.VerifyChain(r.Context(), tenant, rng)
	if errors.Is(err, auditstore.ErrNoChain) {
		return errNoChain
	}
	if err != nil {
		return a.storeError("verify", err)
	}
	httpjson.Write(w, http.StatusOK, rep)
	return nil
}
