package auditreceiver // import "github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/httpjson"
)

// errInvalidEvents is what the receiver telemetry records for events refused by the schema.
var errInvalidEvents = errors.New("audit events failed validation")

// handleEvents serves POST /v1/events. The answer is 202 only after the next consumer accepted
// the events, so that a sender which got 202 may forget them.
func (r *auditReceiver) handleEvents(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s; use POST", req.Method, eventsPath))
		return
	}
	format, err := parseContentType(req.Header.Get("Content-Type"))
	if err != nil {
		writeError(w, http.StatusUnsupportedMediaType, codeUnsupportedMediaType, err.Error())
		return
	}

	body, err := io.ReadAll(req.Body)
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			writeError(w, http.StatusRequestEntityTooLarge, codeBodyTooLarge, fmt.Sprintf(
				"request body exceeds max_request_body_size (%d bytes, counted after decompression)", r.cfg.ServerConfig.MaxRequestBodySize))
			return
		}
		// Most often a corrupt compressed stream; the body never was a valid request.
		writeError(w, http.StatusBadRequest, codeInvalidBody, "read request body: "+err.Error())
		return
	}

	cc := clientContext{
		address:   r.resolver.clientAddress(req.RemoteAddr, req.Header.Values("X-Forwarded-For")),
		userAgent: truncateUserAgent(req.UserAgent()),
	}
	d, rerr := decodeRequest(body, format, decodeOptions{
		maxEvents:      r.cfg.MaxEventsPerRequest,
		idempotencyKey: strings.TrimSpace(req.Header.Get("Idempotency-Key")),
		sender:         cc.address,
		endUserFields:  r.resolver.mayNameEndUser(cc.address),
	})
	if rerr != nil {
		r.recordInvalid(req.Context(), format, 0)
		writeError(w, rerr.status, rerr.code, rerr.message)
		return
	}
	if len(d.problems) > 0 {
		if !r.cfg.PartialSuccess || len(d.events) == 0 {
			// The good events of the batch are refused with the bad ones, and counted so.
			r.recordInvalid(req.Context(), format, d.total)
			writeError(w, http.StatusBadRequest, codeInvalidEvent, invalidEventsMessage(d), d.problems...)
			return
		}
		r.recordInvalid(req.Context(), format, d.rejected())
	}

	ld, ids := buildLogs(d.events, cc, time.Now())

	ctx := r.obsrep.StartLogsOp(req.Context())
	err = r.next.ConsumeLogs(ctx, ld)
	r.obsrep.EndLogsOp(ctx, format.String(), len(d.events), err)
	if err != nil {
		f := classifyConsumerError(err)
		// Debug, not Warn: during an outage every request fails, and the receiver telemetry
		// already counts them; the sender has the error in its answer.
		r.settings.Logger.Debug("Audit events refused by the pipeline",
			zap.Int("events", len(d.events)), zap.Int("status", f.status), zap.Error(err))
		if f.retry {
			w.Header().Set("Retry-After", retryAfterSeconds(r.cfg.RetryAfter))
		}
		writeError(w, f.status, f.code, pipelineMessage(f, err))
		return
	}

	resp := acceptedResponse{Accepted: len(ids), IDs: ids}
	if len(d.problems) > 0 {
		resp.Rejected = d.problems
	}
	httpjson.Write(w, http.StatusAccepted, resp)
}

// recordInvalid counts events refused before the pipeline in the standard receiver telemetry, so
// that a sender stuck on a schema error shows up in the collector's own metrics.
func (r *auditReceiver) recordInvalid(ctx context.Context, format bodyFormat, n int) {
	opCtx := r.obsrep.StartLogsOp(ctx)
	r.obsrep.EndLogsOp(opCtx, format.String(), n, errInvalidEvents)
}

func invalidEventsMessage(d decoded) string {
	if d.total == 1 {
		return "the event is invalid; see details"
	}
	return fmt.Sprintf("%d of %d events are invalid; see details (the whole batch was rejected)", d.rejected(), d.total)
}

// parseContentType accepts application/json (one object or an array) and application/x-ndjson,
// each with an optional charset parameter that must name UTF-8, the only encoding JSON allows
// between systems (RFC 8259, section 8.1).
func parseContentType(header string) (bodyFormat, error) {
	const supported = "use application/json (an object or an array of objects) or application/x-ndjson (one object per line)"
	if header == "" {
		return 0, errors.New("missing Content-Type; " + supported)
	}
	mediaType, params, err := mime.ParseMediaType(header)
	if err != nil {
		return 0, fmt.Errorf("malformed Content-Type %q: %w; %s", header, err, supported)
	}
	var format bodyFormat
	switch mediaType {
	case "application/json":
		format = formatJSON
	case "application/x-ndjson":
		format = formatNDJSON
	default:
		return 0, fmt.Errorf("unsupported Content-Type %q; %s", mediaType, supported)
	}
	for name, value := range params {
		if name != "charset" {
			return 0, fmt.Errorf("unsupported Content-Type parameter %q; only charset is accepted", name)
		}
		if !strings.EqualFold(value, "utf-8") && !strings.EqualFold(value, "utf8") {
			return 0, fmt.Errorf("unsupported charset %q; send UTF-8", value)
		}
	}
	return format, nil
}

// pipelineMessage is what the sender reads about a refusal. A client error (4xx: a record beyond
// a limit, a bad tenant id) is the sender's to fix and is told in full; a server error's text
// comes from the WAL, the DLQ or the store and names files and hosts, which an unauthenticated
// sender must not learn: it gets a generic message, and the collector's log has the detail.
func pipelineMessage(f pipelineFailure, err error) string {
	if f.status < http.StatusInternalServerError {
		return "pipeline: " + err.Error()
	}
	if f.retry {
		return "pipeline: the events cannot be stored right now; retry later"
	}
	return "pipeline: the events could not be stored; see the collector's log"
}
