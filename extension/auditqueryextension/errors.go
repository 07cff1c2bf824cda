package auditqueryextension

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/httpjson"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Error codes of the API. A client branches on the code; the message is for people.
const (
	codeBadRequest       = "bad_request"
	codeInvalidParameter = "invalid_parameter"
	codeInvalidQuery     = "invalid_query"
	codeInvalidCursor    = "invalid_cursor"
	codeUnauthenticated  = "unauthenticated"
	codeForbidden        = "forbidden"
	codeNotFound         = "not_found"
	codeAmbiguousID      = "ambiguous_id"
	codeMethodNotAllowed = "method_not_allowed"
	codeTooLarge         = "request_too_large"
	codeRateLimited      = "rate_limited"
	codeUnavailable      = "unavailable"
	codeTimeout          = "timeout"
	codeInternal         = "internal"
	codeNotImplemented   = "not_implemented"
)

// apiError is an error the API answers with. Handlers return it instead of writing, so that one
// place decides the body shape.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func badParam(name, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: codeInvalidParameter, Message: name + ": " + fmt.Sprintf(format, args...)}
}

func forbidden(msg string) *apiError {
	return &apiError{Status: http.StatusForbidden, Code: codeForbidden, Message: msg}
}

func notFound(msg string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: msg}
}

var errNoBackend = &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: "the audit store is not open (the collector is starting or stopping)"}

// storeError turns an error from the store into the answer. Only the errors the store contract
// names reach the caller, and only from the sentinel's text on: what a backend wraps around it
// names its own packages. Anything else is the store's own failure, logged in full and answered
// with a generic message, because driver errors carry paths, SQL and hosts.
func (a *api) storeError(op string, err error) *apiError {
	switch {
	case errors.Is(err, store.ErrInvalidCursor):
		return &apiError{Status: http.StatusBadRequest, Code: codeInvalidCursor, Message: "cursor: not a cursor this API handed out, or it was altered"}
	case errors.Is(err, store.ErrInvalidQuery):
		return &apiError{Status: http.StatusBadRequest, Code: codeInvalidQuery, Message: fromSentinel(err, store.ErrInvalidQuery)}
	case errors.Is(err, store.ErrNotFound):
		return notFound("record not found")
	case errors.Is(err, store.ErrAmbiguousID):
		// Only an admin reads across tenants, so only an admin learns that several hold the id.
		return &apiError{Status: http.StatusConflict, Code: codeAmbiguousID,
			Message: "the id exists in more than one tenant (identity is tenant and id): pass tenant= to choose"}
	case errors.Is(err, context.DeadlineExceeded):
		a.logger.Warn("audit query timed out", zap.String("operation", op), zap.Duration("query_timeout", a.queryTimeout))
		return &apiError{Status: http.StatusServiceUnavailable, Code: codeTimeout,
			Message: fmt.Sprintf("the query did not finish within %s; narrow the filter or the time range", a.queryTimeout)}
	}
	a.logger.Error("audit store failed", zap.String("operation", op), zap.Error(err))
	return &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: "the audit store failed to answer; see the collector's log"}
}

// fromSentinel returns err's message from the sentinel's text on.
func fromSentinel(err, sentinel error) string {
	msg := err.Error()
	if i := strings.Index(msg, sentinel.Error()); i > 0 {
		return msg[i:]
	}
	return msg
}

// codeForStatus names the statuses that reach writeTransportError from confighttp (auth,
// decompression, body size) and from future limiters, so that they get the same body shape.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return codeBadRequest
	case http.StatusUnauthorized:
		return codeUnauthenticated
	case http.StatusForbidden:
		return codeForbidden
	case http.StatusNotFound:
		return codeNotFound
	case http.StatusMethodNotAllowed:
		return codeMethodNotAllowed
	case http.StatusRequestEntityTooLarge:
		return codeTooLarge
	case http.StatusTooManyRequests:
		return codeRateLimited
	case http.StatusServiceUnavailable:
		return codeUnavailable
	}
	return codeInternal
}

// writeTransportError is handed to confighttp (WithErrorHandler): failures it detects before our
// handler runs, such as a rejected credential (401) or an oversized body (413), answer in the
// API's JSON shape instead of plain text.
func writeTransportError(w http.ResponseWriter, _ *http.Request, msg string, status int) {
	if status == http.StatusUnauthorized {
		// RFC 9110 requires a challenge with 401; Bearer is what the auth extensions we expect
		// (JWT, OIDC, bearer token) take.
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	writeError(w, &apiError{Status: status, Code: codeForStatus(status), Message: msg})
}

func writeError(w http.ResponseWriter, e *apiError) {
	httpjson.Write(w, e.Status, struct {
		Error *apiError `json:"error"`
	}{e})
}
