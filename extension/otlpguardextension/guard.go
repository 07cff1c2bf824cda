package otlpguardextension // import "github.com/otelcol-audit/otelcol-audit/extension/otlpguardextension"

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/extensionmiddleware"
)

// otlpRequestFields are the top-level fields of the OTLP/HTTP JSON requests of every signal, in
// both spellings the protobuf JSON mapping accepts.
var otlpRequestFields = map[string]bool{
	"resourceLogs": true, "resource_logs": true,
	"resourceSpans": true, "resource_spans": true,
	"resourceMetrics": true, "resource_metrics": true,
	"resourceProfiles": true, "resource_profiles": true,
	"dictionary": true,
}

type guard struct {
	component.StartFunc
	component.ShutdownFunc
	auditEventsURL string
}

var _ extensionmiddleware.HTTPServer = (*guard)(nil)

// GetHTTPHandler wraps the OTLP receiver's handler. confighttp runs it after decompression and
// after the body size limit, so it reads at most max_request_body_size bytes.
func (g *guard) GetHTTPHandler(context.Context) (extensionmiddleware.WrapHTTPHandlerFunc, error) {
	return func(_ context.Context, next http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || !isJSON(r.Header.Get("Content-Type")) {
				next.ServeHTTP(w, r)
				return
			}
			body, err := io.ReadAll(r.Body)
			_ = r.Body.Close()
			if err != nil {
				// The receiver reports a body it cannot read (too large, corrupt) in its own words.
				r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
				next.ServeHTTP(w, r)
				return
			}
			if msg := g.check(body); msg != "" {
				writeStatus(w, msg)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
		}), nil
	}, nil
}

// check returns why body is not an OTLP JSON request, or "" when it may be one. Malformed JSON
// passes: the receiver's decoder reports it itself. Only the first top-level field is read when
// it is an OTLP field, which is how every OTLP encoder writes a request, so a real request costs
// one token of parsing.
func (g *guard) check(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return ""
	}
	switch tok {
	case json.Delim('['):
		if looksLikeAuditEvents(body) {
			return g.auditEventMessage("an array of audit events")
		}
		return "an OTLP/HTTP JSON body is one object with resourceLogs (resourceSpans, resourceMetrics), not an array; nothing was stored"
	case json.Delim('{'):
	default:
		return ""
	}
	var unknown []string
	for dec.More() {
		keyTok, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := keyTok.(string)
		if otlpRequestFields[key] {
			return ""
		}
		unknown = append(unknown, key)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	if len(unknown) == 0 {
		return "" // {} is an empty request, which OTLP allows
	}
	slices.Sort(unknown)
	if slices.Contains(unknown, "action") {
		return g.auditEventMessage("an audit event")
	}
	return fmt.Sprintf("the body has no resourceLogs (resourceSpans, resourceMetrics), only %s, which OTLP ignores; nothing would be stored, so nothing was",
		strings.Join(unknown, ", "))
}

func (g *guard) auditEventMessage(what string) string {
	return fmt.Sprintf("this is %s (the audit receiver's JSON schema), not an OTLP request: nothing was stored. "+
		"Post it to the audit receiver's /v1/events (%s), or send OTLP log records (resourceLogs) here", what, g.auditEventsURL)
}

// looksLikeAuditEvents reports whether an array's first element is an object with an action.
func looksLikeAuditEvents(body []byte) bool {
	var first []map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&first); err != nil || len(first) == 0 {
		return false
	}
	_, ok := first[0]["action"]
	return ok
}

func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && mediaType == "application/json"
}

// writeStatus answers 400 with a google.rpc.Status in JSON, the error body OTLP/HTTP specifies
// for a JSON request; code 3 is INVALID_ARGUMENT.
func writeStatus(w http.ResponseWriter, msg string) {
	body, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{3, msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(body)
}

// errReader hands the receiver the read error that the guard met, after the bytes it read.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
