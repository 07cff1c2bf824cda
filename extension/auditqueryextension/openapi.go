package auditqueryextension

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes every route of the API (a test checks it against the mux).
//
//go:embed openapi.json
var openAPIDocument []byte

func (a *api) openAPI(w http.ResponseWriter, r *http.Request) *apiError {
	p := newParams(r.URL.Query())
	if p.err != nil {
		return p.err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDocument)
	return nil
}
