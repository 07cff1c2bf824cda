package auditreceiver // import "github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver"

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
)

// bodyFormat is how a request body frames its events.
type bodyFormat int

const (
	// formatJSON is one JSON object or a JSON array of objects.
	formatJSON bodyFormat = iota
	// formatNDJSON is one JSON object per line; blank lines are skipped.
	formatNDJSON
)

// String is the format name reported to the receiver telemetry.
func (f bodyFormat) String() string {
	if f == formatNDJSON {
		return "ndjson"
	}
	return "json"
}

// problem is one reason an event was rejected. Index counts events in the body from 0 (for
// NDJSON: non-blank lines); Field is the top-level field at fault, empty when the event as a
// whole is.
type problem struct {
	Index   int    `json:"index"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// requestError rejects a request as a whole, before or instead of looking at single events.
type requestError struct {
	status  int
	code    string
	message string
}

func (e *requestError) Error() string { return e.message }

// decodeOptions are the per-request inputs of decodeRequest besides the body.
type decodeOptions struct {
	maxEvents int
	// idempotencyKey is the Idempotency-Key header, empty when absent. It applies only to a body
	// holding exactly one event.
	idempotencyKey string
	// sender is the address the request came from (after trusted_proxies; empty for a Unix
	// socket), named in the refusal of end-user fields.
	sender string
	// endUserFields is whether the sender may name its end user's ip_address and user_agent.
	endUserFields bool
}

// decoded is the outcome of decodeRequest for a body that could be framed. Invariants: every
// index in [0,total) appears either in events or in problems (possibly several times), never in
// both; events and problems are in index order.
type decoded struct {
	events   []event
	problems []problem
	total    int
}

// rejected counts the events that had at least one problem.
func (d decoded) rejected() int { return d.total - len(d.events) }

// decodeRequest frames the body into events, validates each against the strict schema and applies
// the request-level rules (Idempotency-Key header, ids unique within the request). A framing
// failure, an empty body and too many events are request errors; everything wrong with a single
// event is a problem of that event.
func decodeRequest(body []byte, f bodyFormat, opts decodeOptions) (decoded, *requestError) {
	var (
		raws     []json.RawMessage
		problems []problem
		rerr     *requestError
	)
	if f == formatNDJSON {
		raws, rerr = splitNDJSON(body, opts.maxEvents)
	} else {
		raws, rerr = splitJSON(body, opts.maxEvents)
	}
	if rerr != nil {
		return decoded{}, rerr
	}
	if len(raws) == 0 {
		return decoded{}, &requestError{http.StatusBadRequest, codeInvalidBody, "request body holds no events"}
	}

	var key string
	if opts.idempotencyKey != "" {
		if len(raws) != 1 {
			return decoded{}, &requestError{http.StatusBadRequest, codeInvalidRequest, fmt.Sprintf(
				"Idempotency-Key header: applies to a body holding one event, this one holds %d; put an \"id\" in each event instead", len(raws))}
		}
		if msg := checkID(opts.idempotencyKey); msg != "" {
			return decoded{}, &requestError{http.StatusBadRequest, codeInvalidRequest, "Idempotency-Key header: " + msg}
		}
		key = opts.idempotencyKey
	}

	d := decoded{total: len(raws), events: make([]event, 0, len(raws))}
	firstIndexOfID := make(map[string]int)
	for i, raw := range raws {
		ev, evProblems := decodeEvent(raw, i)
		evProblems = append(evProblems, refuseEndUserFields(ev, i, opts)...)
		if key != "" {
			switch {
			case ev.id == "":
				ev.id = key
			case ev.id != key:
				evProblems = append(evProblems, problem{Index: i, Field: "id", Message: "differs from the Idempotency-Key header"})
			}
		}
		if ev.id != "" && len(evProblems) == 0 {
			// Two events with one id in one request: the store would keep only the first, silently.
			if j, seen := firstIndexOfID[ev.id]; seen {
				evProblems = append(evProblems, problem{Index: i, Field: "id", Message: fmt.Sprintf("duplicates the id of event %d in this request", j)})
			} else {
				firstIndexOfID[ev.id] = i
			}
		}
		if len(evProblems) > 0 {
			problems = append(problems, evProblems...)
			continue
		}
		d.events = append(d.events, ev)
	}
	sort.SliceStable(problems, func(a, b int) bool { return problems[a].Index < problems[b].Index })
	d.problems = problems
	return d, nil
}

// refuseEndUserFields reports the end user's fields of an event from a sender that may not set
// them. Refusing rather than dropping them: the sender meant them, and silently recording its own
// address instead would put a wrong address into the audit trail.
func refuseEndUserFields(ev event, index int, opts decodeOptions) []problem {
	if opts.endUserFields {
		return nil
	}
	sender := opts.sender
	if sender == "" {
		sender = "a Unix socket"
	}
	msg := fmt.Sprintf("not accepted from this sender (%s): only senders listed in the receiver's trusted_senders may name their end user's address and user agent", sender)
	var out []problem
	if ev.ipAddress != "" {
		out = append(out, problem{Index: index, Field: "ip_address", Message: msg})
	}
	if ev.userAgent != "" {
		out = append(out, problem{Index: index, Field: "user_agent", Message: msg})
	}
	return out
}

// splitJSON frames an application/json body: one object, or an array whose elements are each
// checked to be objects later (a non-object element is a problem of that element, not of the
// request). The array is read element by element so that a body of tiny elements ("[1,1,1,...")
// is refused at max_events_per_request + 1 instead of being materialised first.
func splitJSON(body []byte, maxEvents int) ([]json.RawMessage, *requestError) {
	trimmed := trimJSONSpace(body)
	if len(trimmed) == 0 {
		return nil, &requestError{http.StatusBadRequest, codeInvalidBody, "request body is empty"}
	}
	invalid := func() *requestError {
		return &requestError{http.StatusBadRequest, codeInvalidBody, "request body: " + syntaxMessage(trimmed)}
	}
	switch trimmed[0] {
	case '{':
		if !json.Valid(trimmed) {
			return nil, invalid()
		}
		return []json.RawMessage{trimmed}, nil
	case '[':
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if _, err := dec.Token(); err != nil {
			return nil, invalid()
		}
		var raws []json.RawMessage
		for dec.More() {
			if len(raws) == maxEvents {
				return nil, tooManyEvents(maxEvents)
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, invalid()
			}
			raws = append(raws, raw)
		}
		// The closing bracket, and nothing after it: trimmed ends without whitespace.
		if _, err := dec.Token(); err != nil || dec.InputOffset() != int64(len(trimmed)) {
			return nil, invalid()
		}
		return raws, nil
	default:
		return nil, &requestError{http.StatusBadRequest, codeInvalidBody, "request body: expected a JSON object or an array of objects"}
	}
}

// splitNDJSON frames an application/x-ndjson body. Lines are not parsed here: a line that is not
// valid JSON is a problem of that event, so that partial success can still take the other lines.
func splitNDJSON(body []byte, maxEvents int) ([]json.RawMessage, *requestError) {
	var raws []json.RawMessage
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = trimJSONSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(raws) == maxEvents {
			return nil, tooManyEvents(maxEvents)
		}
		raws = append(raws, line)
	}
	return raws, nil
}

func tooManyEvents(maxEvents int) *requestError {
	return &requestError{http.StatusRequestEntityTooLarge, codeTooManyEvents, fmt.Sprintf(
		"request holds more than max_events_per_request (%d) events; split it", maxEvents)}
}

// trimJSONSpace trims the four whitespace bytes JSON allows, and nothing else: a NUL or a
// Unicode space around a value is an error the JSON parser should report.
func trimJSONSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// syntaxMessage describes why b is not valid JSON, with the byte offset when the parser gives one.
func syntaxMessage(b []byte) string {
	var v any
	err := json.Unmarshal(b, &v)
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	}
	if err != nil {
		return "invalid JSON: " + err.Error()
	}
	return "invalid JSON"
}
