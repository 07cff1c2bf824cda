package auditqueryextension

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/coder/websocket"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/livetail"
)

// Control messages a WebSocket client may send on an open stream. One today: a new filter.
//
//	{"type":"filter","filter":{"min_level":"warn","tag":["pci","eu"],"q":"disk"}}
//
// filter holds the stream's query parameters (streamFilterParams) by name, each a string or,
// for those that repeat (level, tag), a list of strings; the parameters left out no longer
// filter: the message replaces the whole filter, as a reconnect would. The server answers
// {"type":"filter","filter":{...}} (the filter as sent) once every record sent after it
// matches the new filter, or {"type":"error","error":{"code":...,"message":...}} and keeps the
// old filter.
const controlFilter = "filter"

// maxControlMessage bounds what a client may send in one message; a filter is far smaller.
const maxControlMessage = 16 << 10

// maxControlPerSecond paces a client's control messages: each one re-filters its queue, and
// a person changing a filter sends a few a minute.
const maxControlPerSecond = 10

type controlMessage struct {
	Type   string                     `json:"type"`
	Filter map[string]json.RawMessage `json:"filter"`
}

type filterAppliedMessage struct {
	Type   string                     `json:"type"`
	Filter map[string]json.RawMessage `json:"filter"`
}

type controlErrorMessage struct {
	Type  string       `json:"type"`
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// readControl reads the client's messages in its own goroutine (answering pings and the close
// handshake on the way) and hands text messages to the stream. The returned context ends when
// the client goes away or breaks the protocol.
func readControl(ctx context.Context, conn *websocket.Conn) (context.Context, <-chan []byte) {
	ctx, cancel := context.WithCancel(ctx)
	conn.SetReadLimit(maxControlMessage)
	out := make(chan []byte)
	go func() {
		defer cancel()
		for {
			typ, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if typ != websocket.MessageText {
				_ = conn.Close(websocket.StatusUnsupportedData, "control messages are JSON text")
				return
			}
			select {
			case out <- data:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ctx, out
}

// applyControl obeys one control message and answers it. Only a failed write is an error: a
// bad message is answered with an error message and the stream goes on.
func (a *api) applyControl(ctx context.Context, t streamTransport, sub *livetail.Subscription, caller principal, msg []byte) error {
	answer := func(v any) error {
		body, _ := json.Marshal(v)
		return t.send(ctx, "", "", body)
	}
	refuse := func(e *apiError) error {
		return answer(controlErrorMessage{Type: "error", Error: errorPayload{Code: e.Code, Message: e.Message}})
	}
	var m controlMessage
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return refuse(&apiError{Status: http.StatusBadRequest, Code: codeBadRequest, Message: "control message: expected {\"type\":\"filter\",\"filter\":{...}}: " + err.Error()})
	}
	if m.Type != controlFilter {
		return refuse(&apiError{Status: http.StatusBadRequest, Code: codeBadRequest, Message: fmt.Sprintf("control message: unknown type %s; the only one is %q", quote(m.Type), controlFilter)})
	}
	values, e := filterValues(m.Filter)
	if e != nil {
		return refuse(e)
	}
	p := newParams(values, streamFilterParams)
	filter := p.parseFilter()
	if p.err != nil {
		return refuse(p.err)
	}
	if filter.TenantID, e = caller.scope(filter.TenantID); e != nil {
		return refuse(e)
	}
	sub.SetMatcher(livetail.NewMatcher(filter))
	if m.Filter == nil {
		m.Filter = map[string]json.RawMessage{}
	}
	return answer(filterAppliedMessage{Type: controlFilter, Filter: m.Filter})
}

// filterValues turns a control message's filter into query values: each entry a string or a
// list of strings.
func filterValues(f map[string]json.RawMessage) (url.Values, *apiError) {
	values := url.Values{}
	for name, raw := range f {
		var one string
		if err := json.Unmarshal(raw, &one); err == nil {
			values[name] = []string{one}
			continue
		}
		var many []string
		if err := json.Unmarshal(raw, &many); err != nil {
			return nil, badParam(name, "expected a string or a list of strings")
		}
		values[name] = many
	}
	return values, nil
}
