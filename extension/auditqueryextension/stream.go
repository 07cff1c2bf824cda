package auditqueryextension

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/livetail"
	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

const (
	paramReplay = "replay"
	// paramAccessToken carries the JWT for browsers, whose WebSocket and EventSource cannot set
	// an Authorization header. It is read on the stream endpoint only.
	paramAccessToken = "access_token"
)

// streamFilterParams are the /logs filters minus the time range: a live record is always "now".
var streamFilterParams = slices.DeleteFunc(slices.Clone(filterParams), func(p string) bool {
	return p == paramStart || p == paramEnd
})

// streamRetryAfter is the Retry-After of a refused stream: there is no telling when one of the
// caller's other streams ends, so it is a polite pause rather than a promise.
const streamRetryAfter = 10 * time.Second

// maxReplayScanPages bounds the store pages read to find replay records when q is set (q is a
// substring match on the stream, which the store's word index cannot answer): past this many
// pages of store.MaxLimit records, replay returns what it found.
const maxReplayScanPages = 10

// streamSettings are the stream's share of the configuration.
type streamSettings struct {
	maxPerUser        int
	heartbeatInterval time.Duration
	writeTimeout      time.Duration
	maxReplay         int
	// maxMessagesPerSecond bounds the live records one connection is sent; 0: no bound.
	maxMessagesPerSecond int
}

// laggedMessage tells a subscriber that Skipped records were lost at this point of the stream.
type laggedMessage struct {
	Type    string `json:"type"`
	Skipped int64  `json:"skipped"`
}

// throttledMessage tells a subscriber that Dropped live records were not sent at this point
// because the connection exceeded stream.max_messages_per_second.
type throttledMessage struct {
	Type    string `json:"type"`
	Dropped int64  `json:"dropped"`
}

// closedMessage is the last SSE event of a stream the server ends (WebSocket uses a close
// frame with the same reason).
type closedMessage struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// streamLimits counts each caller's open streams.
type streamLimits struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func newStreamLimits(maxPerUser int) *streamLimits {
	return &streamLimits{max: maxPerUser, open: map[string]int{}}
}

// acquire takes one of key's stream slots; ok is false when all are in use.
func (l *streamLimits) acquire(key string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] >= l.max {
		return nil, false
	}
	l.open[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[key]--; l.open[key] <= 0 {
				delete(l.open, key)
			}
		})
	}, true
}

// streamTransport is one way of carrying the stream to a client.
type streamTransport interface {
	// send writes one JSON message; id is the record id, "" for control messages.
	send(ctx context.Context, event, id string, body []byte) error
	heartbeat(ctx context.Context) error
	// end closes the stream from the server side with a reason the client can show.
	end(reason string, code websocket.StatusCode)
}

func (a *api) stream(w http.ResponseWriter, r *http.Request) *apiError {
	if r.Method == http.MethodHead {
		// A stream has no end, so there are no headers to preview.
		w.Header().Set("Allow", "GET")
		return &apiError{Status: http.StatusMethodNotAllowed, Code: codeMethodNotAllowed, Message: "HEAD is not allowed on a stream; use GET"}
	}
	caller, e := principalFromRequest(r, a.authConfigured)
	if e != nil {
		return e
	}
	allowed := [][]string{streamFilterParams, {paramReplay}, a.authParams}
	if a.jwt != nil {
		allowed = append(allowed, []string{paramAccessToken})
	}
	p := newParams(r.URL.Query(), allowed...)
	filter := p.parseFilter()
	replay := p.replayCount(a.streamCfg.maxReplay)
	if p.err != nil {
		return p.err
	}
	if filter.TenantID, e = caller.scope(filter.TenantID); e != nil {
		return e
	}
	isWebSocket := headerHasToken(r.Header, "Connection", "upgrade") && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	if !isWebSocket && !acceptsEventStream(r) {
		return &apiError{Status: http.StatusBadRequest, Code: codeBadRequest,
			Message: "the stream is served over WebSocket (an Upgrade request) or Server-Sent Events (Accept: text/event-stream)"}
	}

	release, ok := a.streamSlots.acquire(a.callerKey(r, caller))
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(streamRetryAfter/time.Second)))
		return &apiError{Status: http.StatusTooManyRequests, Code: codeRateLimited,
			Message: fmt.Sprintf("at most %d streams may be open per user; close one first", a.streamCfg.maxPerUser)}
	}
	defer release()
	hub := a.hub
	if hub == nil {
		return &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: "the live stream is not running"}
	}
	matcher := livetail.NewMatcher(filter)
	// Subscribe before reading the replay: a record committed meanwhile is then in the queue
	// and maybe also in the replay, never in neither. Duplicates are dropped by id below.
	sub, err := hub.Subscribe(matcher)
	if err != nil {
		return &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: "the server is shutting down"}
	}
	defer sub.Close()
	var replayed []record.Record
	if replay > 0 {
		if replayed, e = a.replayRecords(r.Context(), filter, matcher, replay); e != nil {
			return e
		}
	}

	var t streamTransport
	var control <-chan []byte // nil for SSE: a one-way transport
	ctx := r.Context()
	if isWebSocket {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			// Accept has answered the client already.
			a.logger.Debug("websocket upgrade refused", zap.Error(err))
			return nil
		}
		// The client may send control messages (a new filter); readControl also answers pings
		// and closes, and ends ctx when the client goes away.
		ctx, control = readControl(ctx, conn)
		t = &wsTransport{conn: conn, writeTimeout: a.streamCfg.writeTimeout}
	} else {
		st, e := newSSETransport(w, a.streamCfg.writeTimeout)
		if e != nil {
			return e
		}
		t = st
	}

	a.streamsRunning.add()
	defer a.streamsRunning.done()
	a.runStream(ctx, t, sub, replayed, streamControl{messages: control, caller: caller})
	return nil
}

// streamControl is what a stream needs to obey its client's control messages.
type streamControl struct {
	messages <-chan []byte
	caller   principal
}

// runStream writes the replay, then live events until the client leaves or the hub ends the
// subscription.
func (a *api) runStream(ctx context.Context, t streamTransport, sub *livetail.Subscription, replayed []record.Record, ctl streamControl) {
	seen := make(map[string]struct{}, len(replayed))
	for i := range replayed {
		e := livetail.Entry{Record: replayed[i]}
		body, err := e.JSON()
		if err != nil || t.send(ctx, "", replayed[i].ID, body) != nil {
			t.end("", websocket.StatusInternalError)
			return
		}
		seen[replayed[i].ID] = struct{}{}
	}

	heartbeat := time.NewTicker(a.streamCfg.heartbeatInterval)
	defer heartbeat.Stop()
	out := &liveSender{t: t, seen: seen, logger: a.logger, metrics: a.telemetry}
	controlPace := rate.NewLimiter(maxControlPerSecond, maxControlPerSecond)
	if n := a.streamCfg.maxMessagesPerSecond; n > 0 {
		out.limit = rate.NewLimiter(rate.Limit(n), n)
	}
	for {
		ev, ok, err := sub.TryNext()
		switch {
		case errors.Is(err, livetail.ErrTooFarBehind):
			t.end("the stream fell too far behind; reconnect with replay to catch up", websocket.StatusTryAgainLater)
			return
		case err != nil:
			t.end("the server is shutting down", websocket.StatusGoingAway)
			return
		case ok:
			if err := out.send(ctx, ev); err != nil {
				t.end("", websocket.StatusInternalError)
				return
			}
			continue
		}
		select {
		case <-sub.Ready():
		case <-sub.Done():
		case msg := <-ctl.messages:
			// Paced, not refused: a client that sends faster waits, and its messages queue in
			// its own socket.
			if controlPace.Wait(ctx) != nil {
				t.end("", websocket.StatusNormalClosure)
				return
			}
			if err := a.applyControl(ctx, t, sub, ctl.caller, msg); err != nil {
				t.end("", websocket.StatusInternalError)
				return
			}
		case <-heartbeat.C:
			// A throttled stream that went quiet still learns what it missed.
			if out.flushThrottled(ctx) != nil || t.heartbeat(ctx) != nil {
				t.end("", websocket.StatusGoingAway)
				return
			}
		case <-ctx.Done():
			t.end("", websocket.StatusNormalClosure)
			return
		}
	}
}

// liveSender writes a stream's live events: records (each id once: replayed ones are
// skipped), lag notices, and, when the connection's message bound is exceeded, throttled
// notices in place of the records it dropped.
type liveSender struct {
	t         streamTransport
	seen      map[string]struct{}
	logger    *zap.Logger
	metrics   *metadata.TelemetryBuilder
	limit     *rate.Limiter // nil: no bound
	throttled int64         // dropped since the last notice
}

func (o *liveSender) send(ctx context.Context, ev livetail.Event) error {
	if ev.Entry == nil {
		body, _ := json.Marshal(laggedMessage{Type: "lagged", Skipped: ev.Skipped})
		return o.t.send(ctx, "lagged", "", body)
	}
	id := ev.Entry.Record.ID
	if _, dup := o.seen[id]; dup {
		// Already sent by the replay. Each id is published once, so forget it.
		delete(o.seen, id)
		return nil
	}
	if o.limit != nil && !o.limit.Allow() {
		o.throttled++
		if o.metrics != nil {
			o.metrics.AuditqueryStreamRecordsThrottled.Add(ctx, 1)
		}
		return nil
	}
	if err := o.flushThrottled(ctx); err != nil {
		return err
	}
	body, err := ev.Entry.JSON()
	if err != nil {
		o.logger.Error("live record could not be encoded", zap.String("id", id), zap.Error(err))
		return nil
	}
	return o.t.send(ctx, "", id, body)
}

// flushThrottled sends the throttled notice for the records dropped since the last one.
func (o *liveSender) flushThrottled(ctx context.Context) error {
	if o.throttled == 0 {
		return nil
	}
	body, _ := json.Marshal(throttledMessage{Type: "throttled", Dropped: o.throttled})
	o.throttled = 0
	return o.t.send(ctx, "throttled", "", body)
}

// replayRecords returns the last n records matching the stream's filter, oldest first.
func (a *api) replayRecords(ctx context.Context, f store.Filter, m livetail.Matcher, n int) ([]record.Record, *apiError) {
	b, release, ok := a.backends.acquire()
	if !ok {
		return nil, errNoBackend
	}
	// The backend is released before streaming starts: a stream lasts for hours and must not
	// keep the exporter's UnregisterBackend waiting.
	defer release()
	ctx, cancel := context.WithTimeout(ctx, a.queryTimeout)
	defer cancel()

	// The stream's q is a substring match; the store's text search is a word match. Ask the
	// store without it and apply the stream's matcher to what comes back.
	page := store.Page{Limit: n}
	if f.Text != "" {
		f.Text = ""
		page.Limit = store.MaxLimit
	}
	var out []record.Record
	for range maxReplayScanPages {
		res, err := b.Store.Query(ctx, f, page)
		if err != nil {
			return nil, a.storeError("replay", err)
		}
		for i := range res.Records {
			if m.Match(&res.Records[i]) {
				out = append(out, res.Records[i])
				if len(out) == n {
					break
				}
			}
		}
		if len(out) == n || res.NextCursor == "" {
			break
		}
		page.Cursor = res.NextCursor
	}
	slices.Reverse(out)
	return out, nil
}

// replayCount reads replay=N (0 when absent).
func (p *params) replayCount(maxReplay int) int {
	s := p.single(paramReplay)
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxReplay {
		p.fail(badParam(paramReplay, "expected an integer from 0 to %d, got %s", maxReplay, quote(s)))
		return 0
	}
	return n
}

func acceptsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
				return true
			}
		}
	}
	return false
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// wsTransport sends each message as one WebSocket text message.
type wsTransport struct {
	conn         *websocket.Conn
	writeTimeout time.Duration
}

func (t *wsTransport) send(ctx context.Context, _, _ string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, t.writeTimeout)
	defer cancel()
	return t.conn.Write(ctx, websocket.MessageText, body)
}

func (t *wsTransport) heartbeat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, t.writeTimeout)
	defer cancel()
	return t.conn.Ping(ctx)
}

func (t *wsTransport) end(reason string, code websocket.StatusCode) {
	// Close waits for the client's close frame at most a few seconds, then drops the
	// connection.
	_ = t.conn.Close(code, reason)
}

// sseTransport writes Server-Sent Events: a record is `id: <record id>` + `data: <json>`, a lag
// notice is `event: lagged`, a heartbeat is a comment line.
type sseTransport struct {
	w            http.ResponseWriter
	rc           *http.ResponseController
	writeTimeout time.Duration
}

func newSSETransport(w http.ResponseWriter, writeTimeout time.Duration) (*sseTransport, *apiError) {
	t := &sseTransport{w: w, rc: http.NewResponseController(w), writeTimeout: writeTimeout}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// Stops nginx and similar proxies from buffering the stream.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := t.write([]byte(": connected\n\n")); err != nil {
		return nil, &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "the stream could not be started"}
	}
	return t, nil
}

// write sends p and flushes it, with its own deadline: the server's write_timeout would
// otherwise cut every stream after a few seconds, and no deadline at all would let a client
// that stopped reading hold the handler forever.
func (t *sseTransport) write(p []byte) error {
	if err := t.rc.SetWriteDeadline(time.Now().Add(t.writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := t.w.Write(p); err != nil {
		return err
	}
	return t.rc.Flush()
}

func (t *sseTransport) send(_ context.Context, event, id string, body []byte) error {
	var b strings.Builder
	b.Grow(len(body) + 64)
	if event != "" {
		b.WriteString("event: " + event + "\n")
	}
	if id != "" {
		b.WriteString("id: " + id + "\n")
	}
	// JSON from encoding/json holds no raw newline, so one data line is the whole message.
	b.WriteString("data: ")
	b.Write(body)
	b.WriteString("\n\n")
	return t.write([]byte(b.String()))
}

func (t *sseTransport) heartbeat(context.Context) error { return t.write([]byte(": heartbeat\n\n")) }

func (t *sseTransport) end(reason string, _ websocket.StatusCode) {
	if reason == "" {
		return
	}
	body, _ := json.Marshal(closedMessage{Type: "closed", Reason: reason})
	_ = t.send(context.Background(), "close", "", body)
}

// runningStreams counts running streams and lets Shutdown wait until none is left. (A
// sync.WaitGroup would not do: a stream may start while Shutdown already waits.)
type runningStreams struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0
}

func (s *runningStreams) add() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		s.zero = make(chan struct{})
	}
	s.n++
}

func (s *runningStreams) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n--; s.n == 0 {
		close(s.zero)
	}
}

// wait returns when no stream runs or ctx ends.
func (s *runningStreams) wait(ctx context.Context) {
	s.mu.Lock()
	if s.n == 0 {
		s.mu.Unlock()
		return
	}
	zero := s.zero
	s.mu.Unlock()
	select {
	case <-zero:
	case <-ctx.Done():
	}
}
