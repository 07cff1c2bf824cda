package otlpguardextension // import "github.com/otelcol-audit/otelcol-audit/extension/otlpguardextension"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// prefixLimit is how much of a body the guard reads to decide: every OTLP encoder writes
// resourceLogs (resourceSpans, ...) as the first field, and an audit event's or an array's
// verdict shows in its first fields too, so a larger body is decided on its first 64 KiB and
// the rest streams to the receiver unread by the guard.
const prefixLimit = 64 << 10

// GetHTTPHandler wraps the OTLP receiver's handler. confighttp runs it after decompression and
// after the body size limit. The guard reads at most prefixLimit+1 bytes (the one more says
// whether the body ended) and hands the receiver those bytes followed by the unread rest.
func (g *guard) GetHTTPHandler(context.Context) (extensionmiddleware.WrapHTTPHandlerFunc, error) {
	return func(_ context.Context, next http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || !isJSON(r.Header.Get("Content-Type")) {
				next.ServeHTTP(w, r)
				return
			}
			var prefix bytes.Buffer
			_, err := prefix.ReadFrom(io.LimitReader(r.Body, prefixLimit+1))
			if err != nil {
				// The receiver reports a body it cannot read (too large, corrupt) in its own words.
				r.Body = readCloser{io.MultiReader(&prefix, errReader{err}), r.Body}
				next.ServeHTTP(w, r)
				return
			}
			complete := prefix.Len() <= prefixLimit
			if msg := g.check(prefix.Bytes(), complete); msg != "" {
				_ = r.Body.Close()
				writeStatus(w, msg)
				return
			}
			rest := r.Body
			if complete {
				rest = http.NoBody
			}
			r.Body = readCloser{io.MultiReader(&prefix, rest), r.Body}
			next.ServeHTTP(w, r)
		}), nil
	}, nil
}

// readCloser reads the guard's prefix and then the rest of the body, and closes the body.
type readCloser struct {
	io.Reader
	io.Closer
}

// check returns why body is not an OTLP JSON request, or "" when it may be one. body is the
// whole request when complete, else its first prefixLimit+1 bytes. Malformed JSON passes: the
// receiver's decoder reports it itself. Only the first top-level field is read when it is an
// OTLP field, which is how every OTLP encoder writes a request, so a real request costs one
// token of parsing. A prefix that ends before any OTLP field, after fields OTLP does not know,
// is refused: no encoder writes 64 KiB of unknown fields before resourceLogs, and passing it on
// could store nothing of an audit event whose action comes later.
func (g *guard) check(body []byte, complete bool) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return ""
	}
	switch tok {
	case json.Delim('['):
		if looksLikeAuditEvents(body, complete) {
			return g.auditEventMessage("an array of audit events")
		}
		return "an OTLP/HTTP JSON body is one object with resourceLogs (resourceSpans, resourceMetrics), not an array; nothing was stored"
	case json.Delim('{'):
	default:
		return ""
	}
	var unknown []string
	truncated := false
	for dec.More() {
		keyTok, err := dec.Token()
		if err != nil {
			if truncated = endsEarly(err, complete); !truncated {
				return ""
			}
			break
		}
		key, _ := keyTok.(string)
		if otlpRequestFields[key] {
			return ""
		}
		unknown = append(unknown, key)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			if truncated = endsEarly(err, complete); !truncated {
				return ""
			}
			break
		}
	}
	if len(unknown) == 0 {
		return "" // {} is an empty request, which OTLP allows
	}
	slices.Sort(unknown)
	if slices.Contains(unknown, "action") {
		return g.auditEventMessage("an audit event")
	}
	if truncated {
		return fmt.Sprintf("the first %d KiB of the body hold no resourceLogs (resourceSpans, resourceMetrics), only %s, which OTLP ignores; an OTLP request names resourceLogs first; nothing was stored",
			prefixLimit>>10, strings.Join(unknown, ", "))
	}
	return fmt.Sprintf("the body has no resourceLogs (resourceSpans, resourceMetrics), only %s, which OTLP ignores; nothing would be stored, so nothing was",
		strings.Join(unknown, ", "))
}

// endsEarly reports whether a decoding error is the end of a prefix rather than malformed JSON,
// which the receiver reports itself.
func endsEarly(err error, complete bool) bool {
	return !complete && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF))
}

func (g *guard) auditEventMessage(what string) string {
	return fmt.Sprintf("this is %s (the audit receiver's JSON schema), not an OTLP request: nothing was stored. "+
		"Post it to the audit receiver's /v1/events (%s), or send OTLP log records (resourceLogs) here", what, g.auditEventsURL)
}

// looksLikeAuditEvents reports whether an array's first element is an object with an action.
// A complete body must be an array of objects; of a prefix, the first element's fields are read
// until action or the prefix's end.
func looksLikeAuditEvents(body []byte, complete bool) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	if complete {
		var first []map[string]json.RawMessage
		if err := dec.Decode(&first); err != nil || len(first) == 0 {
			return false
		}
		_, ok := first[0]["action"]
		return ok
	}
	for _, want := range []json.Delim{'[', '{'} {
		if tok, err := dec.Token(); err != nil || tok != want {
			return false
		}
	}
	for dec.More() {
		keyTok, err := dec.Token()
		if err != nil {
			return false
		}
		if keyTok == "action" {
			return true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return false
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
