package auditqueryextension

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/metadatatest"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// liveServer is the extension on 127.0.0.1:0 with the fixture's store registered.
type liveServer struct {
	ext  *queryExtension
	base string
	f    fixture
}

func startLive(t *testing.T, edit func(*Config)) liveServer {
	t.Helper()
	cfg := loopbackConfig()
	if edit != nil {
		edit(cfg)
	}
	ext := startExtension(t, cfg, storeHost(t))
	f := newFixture(t)
	ext.serveBackend(t, Backend{Store: f.store})
	t.Cleanup(ext.unregisterBackend)
	return liveServer{ext: ext, base: "http://" + ext.address().String(), f: f}
}

// waitSubscribers waits until n streams are subscribed, so that a Publish reaches them all.
func (s liveServer) waitSubscribers(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		hub := s.ext.hub.Load()
		return hub != nil && hub.Subscribers() == n
	}, 5*time.Second, 5*time.Millisecond, "want %d subscribers", n)
}

// liveRecords are n records of tenant with ids "<prefix>-00000"... in publish order.
func liveRecords(tenant, prefix string, from, n, msgSize int) []record.Record {
	out := make([]record.Record, n)
	msg := strings.Repeat("x", msgSize)
	for i := range out {
		out[i] = record.Record{
			ID:        fmt.Sprintf("%s-%05d", prefix, from+i),
			Timestamp: time.Now().UTC(),
			Level:     record.LevelInfo,
			Event:     "live.event",
			Message:   "live " + msg,
			TenantID:  tenant,
			UserID:    "dave",
		}
	}
	return out
}

func TestStream_HundredSubscribersOverWebSocketAndSSEReceiveEveryRecordInOrder(t *testing.T) {
	const subscribers, total = 100, 120
	s := startLive(t, func(c *Config) {
		c.Stream.MaxPerUser = subscribers
		// Publish runs far ahead of 100 readers on 2 cores; the buffer absorbs the whole burst,
		// which is what it is for. Overflow is the next test's subject.
		c.Stream.BufferSize = total
	})

	clients := make([]*streamClient, subscribers)
	for i := range clients {
		if i%2 == 0 {
			c, _, err := dialWS(t, s.base, "", nil)
			require.NoError(t, err)
			clients[i] = c
		} else {
			c, resp := dialSSE(t, s.base, "", nil)
			require.NotNil(t, c, "status %d", resp.StatusCode)
			clients[i] = c
		}
	}
	s.waitSubscribers(t, subscribers)

	var wg sync.WaitGroup
	got := make([][]string, subscribers)
	for i, c := range clients {
		wg.Go(func() {
			for range total {
				m := c.next(t, 10*time.Second)
				require.Equal(t, "record", m.kind(), "message: %s", m.data)
				got[i] = append(got[i], m.id(t))
			}
		})
	}
	for i := 0; i < total; i += 10 {
		s.ext.publish(liveRecords("acme", "r", i, 10, 100))
	}
	wg.Wait()

	want := make([]string, total)
	for i := range want {
		want[i] = fmt.Sprintf("r-%05d", i)
	}
	for i := range got {
		require.Equal(t, want, got[i], "subscriber %d (ws: %v)", i, i%2 == 0)
	}
}

func TestStream_ASlowSubscriberIsToldWhatItLostAndSlowsNeitherPublishNorOthers(t *testing.T) {
	s := startLive(t, func(c *Config) {
		c.Stream.BufferSize = 64
		c.Stream.WriteTimeout = time.Minute // the slow reader must lag, not be cut off
	})
	// A batch smaller than the buffer: the fast subscribers absorb each one whole.
	const total, batch, msgSize = 10_000, 50, 2048

	slow, _, err := dialWS(t, s.base, "", nil) // reads nothing until every record is published
	require.NoError(t, err)
	fast := make([]*streamClient, 2)
	fast[0], _, err = dialWS(t, s.base, "", nil)
	require.NoError(t, err)
	fast[1], _ = dialSSE(t, s.base, "", nil)
	require.NotNil(t, fast[1])
	s.waitSubscribers(t, 3)

	received := make([]chan string, len(fast))
	for i, c := range fast {
		received[i] = make(chan string, total)
		go func() {
			for range total {
				select {
				case m := <-c.msgs:
					received[i] <- m.kind() + "|" + m.id(t)
				case <-time.After(30 * time.Second):
					return
				}
			}
		}()
	}

	var publishTime, slowest time.Duration
	for i := 0; i < total; i += batch {
		started := time.Now()
		s.ext.publish(liveRecords("acme", "r", i, batch, msgSize))
		d := time.Since(started)
		publishTime += d
		slowest = max(slowest, d)
		// The fast subscribers keep up batch by batch, so none of them ever lags; the slow one
		// stops reading from the start.
		for _, ch := range received {
			for j := range batch {
				select {
				case got := <-ch:
					want := fmt.Sprintf("r-%05d", i+j)
					require.Equal(t, "record|"+want, got, "a fast subscriber gets every record in order, never a lag notice")
				case <-time.After(30 * time.Second):
					t.Fatalf("a fast subscriber stalled at record %d", i+j)
				}
			}
		}
	}
	t.Logf("published %d records in %d calls: %s in Publish, slowest call %s", total, total/batch, publishTime, slowest)
	assert.Less(t, slowest, time.Second, "Publish must not wait for the slow subscriber")

	// Now the slow one reads: what it has buffered (the socket's and the hub's), then a lagged
	// notice, and every record is accounted for exactly once, in order.
	var records, skipped int64
	last := -1
	sawLag := false
	for records+skipped < total {
		m := slow.next(t, 10*time.Second)
		switch m.kind() {
		case "lagged":
			sawLag = true
			skipped += m.skipped(t)
		case "record":
			var n int
			_, err := fmt.Sscanf(m.id(t), "r-%05d", &n)
			require.NoError(t, err)
			require.Greater(t, n, last, "records stay in order")
			require.Equal(t, int64(n), records+skipped, "record %d arrives after %d records and %d skipped: no gap is unreported", n, records, skipped)
			last = n
			records++
		}
	}
	assert.True(t, sawLag, "the slow subscriber was told it lagged")
	assert.Equal(t, int64(total), records+skipped)
	t.Logf("slow subscriber: %d records delivered, %d skipped", records, skipped)
}

func TestStream_FiltersAndTenantIsolationApplyToLiveRecords(t *testing.T) {
	s := startLive(t, func(c *Config) { useJWT(t, c) })
	acmeViewer := sign(t, viewerClaims("alice", "acme"))
	admin := sign(t, adminClaims("root"))

	acmeWS, _, err := dialWS(t, s.base, "", bearerHeader(acmeViewer))
	require.NoError(t, err)
	acmeSSE, resp := dialSSE(t, s.base, "access_token="+acmeViewer+"&min_level=warn&q=DISK", nil)
	require.NotNil(t, acmeSSE, "status %d", resp.StatusCode)
	all, _, err := dialWS(t, s.base, "", bearerHeader(admin))
	require.NoError(t, err)
	s.waitSubscribers(t, 3)

	_, resp = dialSSE(t, s.base, "tenant=globex&access_token="+acmeViewer, nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "a viewer cannot ask for another tenant's stream")

	recs := []record.Record{
		{ID: "g-1", TenantID: "globex", Level: record.LevelError, Message: "disk full"},
		{ID: "a-1", TenantID: "acme", Level: record.LevelInfo, Message: "disk check"},
		{ID: "a-2", TenantID: "acme", Level: record.LevelError, Message: "Disk failed"},
		{ID: "g-2", TenantID: "globex", Level: record.LevelInfo, Message: "hello"},
		{ID: "a-3", TenantID: "acme", Level: record.LevelSecurity, Message: "login burst"},
	}
	s.ext.publish(recs)

	ids := func(c *streamClient, n int) []string {
		var out []string
		for range n {
			out = append(out, c.next(t, 5*time.Second).id(t))
		}
		return out
	}
	assert.Equal(t, []string{"a-1", "a-2", "a-3"}, ids(acmeWS, 3), "a viewer sees its tenant only")
	assert.Equal(t, []string{"a-2"}, ids(acmeSSE, 1), "min_level and q (case-insensitive substring) filter the stream")
	assert.Equal(t, []string{"g-1", "a-1", "a-2", "g-2", "a-3"}, ids(all, 5), "an admin sees every tenant")

	s.ext.publish([]record.Record{{ID: "g-3", TenantID: "globex", Level: record.LevelError, Message: "disk"}, {ID: "a-4", TenantID: "acme", Level: record.LevelWarn, Message: "disk"}})
	assert.Equal(t, []string{"a-4"}, ids(acmeWS, 1), "nothing of globex slipped in between")
	assert.Equal(t, []string{"a-4"}, ids(acmeSSE, 1))
}

func TestStream_AUserMayOpenAtMostMaxPerUserStreams(t *testing.T) {
	s := startLive(t, func(c *Config) { useJWT(t, c) })
	alice := sign(t, viewerClaims("alice", "acme"))
	bob := sign(t, viewerClaims("bob", "acme"))

	var open []*streamClient
	for i := range 5 {
		if i%2 == 0 {
			c, _, err := dialWS(t, s.base, "", bearerHeader(alice))
			require.NoError(t, err)
			open = append(open, c)
		} else {
			c, resp := dialSSE(t, s.base, "", bearerHeader(alice))
			require.NotNil(t, c, "status %d", resp.StatusCode)
			open = append(open, c)
		}
	}
	s.waitSubscribers(t, 5)

	_, resp := dialSSE(t, s.base, "", bearerHeader(alice))
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "10", resp.Header.Get("Retry-After"))
	_, resp, err := dialWS(t, s.base, "", bearerHeader(alice))
	require.Error(t, err)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "the WebSocket handshake is refused the same way")

	other, resp := dialSSE(t, s.base, "", bearerHeader(bob))
	require.NotNil(t, other, "another user has their own allowance (status %d)", resp.StatusCode)

	open[0].close()
	require.Eventually(t, func() bool {
		c, resp := dialSSE(t, s.base, "", bearerHeader(alice))
		if c != nil {
			c.close()
			return true
		}
		return resp.StatusCode != http.StatusTooManyRequests
	}, 5*time.Second, 20*time.Millisecond, "a closed stream frees its slot")
}

func TestStream_ShutdownClosesEveryStreamCleanly(t *testing.T) {
	s := startLive(t, nil)
	ws, _, err := dialWS(t, s.base, "", nil)
	require.NoError(t, err)
	sse, _ := dialSSE(t, s.base, "", nil)
	require.NotNil(t, sse)
	s.waitSubscribers(t, 2)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	started := time.Now()
	require.NoError(t, s.ext.Shutdown(ctx))
	assert.Less(t, time.Since(started), 5*time.Second, "Shutdown does not wait for streams to end by themselves")

	assert.Equal(t, websocket.StatusGoingAway, websocket.CloseStatus(ws.ended(t, 5*time.Second)), "WebSocket gets a going-away close frame")
	m := sse.next(t, 5*time.Second)
	assert.Equal(t, "close", m.event)
	assert.JSONEq(t, `{"type":"closed","reason":"the server is shutting down"}`, string(m.data))
	sse.ended(t, 5*time.Second)

	s.ext.publish(liveRecords("acme", "late", 0, 1, 10)) // harmless after Shutdown
}

func TestStream_ReplaySendsTheLastRecordsOldestFirstWithoutDuplicates(t *testing.T) {
	s := startLive(t, nil)
	// The fixture's acme records, oldest first: a1 a2 a3 a4.
	c, resp := dialSSE(t, s.base, "tenant=acme&replay=3", nil)
	require.NotNil(t, c, "status %d", resp.StatusCode)
	var got []string
	for range 3 {
		got = append(got, c.next(t, 5*time.Second).id(t))
	}
	assert.Equal(t, []string{"a2", "a3", "a4"}, s.f.names(got))

	// a4 was committed before the stream subscribed but is published only now (the exporter
	// publishes after the commit): it was replayed, so it is not sent again.
	a4, err := s.f.store.Get(context.Background(), "acme", s.f.ids["a4"])
	require.NoError(t, err)
	fresh := liveRecords("acme", "new", 0, 1, 10)
	s.ext.publish(append([]record.Record{a4}, fresh...))
	assert.Equal(t, "new-00000", c.next(t, 5*time.Second).id(t))

	ws, _, err := dialWS(t, s.base, "replay=2&q=LOGGED", nil)
	require.NoError(t, err)
	got = []string{ws.next(t, 5*time.Second).id(t), ws.next(t, 5*time.Second).id(t)}
	assert.Equal(t, []string{"a1", "g1"}, s.f.names(got), "replay applies the stream's substring q")
}

func TestStream_RefusesWhatItCannotServe(t *testing.T) {
	s := startLive(t, nil)
	tests := []struct {
		name   string
		query  string
		accept string
		want   int
		code   string
	}{
		{"a plain GET that is neither WebSocket nor SSE", "", "application/json", http.StatusBadRequest, codeBadRequest},
		{"a time range, which a live stream has no use for", "start=2026-01-01T00:00:00Z", "text/event-stream", http.StatusBadRequest, codeInvalidParameter},
		{"a replay above max_replay", "replay=1001", "text/event-stream", http.StatusBadRequest, codeInvalidParameter},
		{"an unknown filter", "user=alice", "text/event-stream", http.StatusBadRequest, codeInvalidParameter},
		{"access_token when no jwt is configured", "access_token=x", "text/event-stream", http.StatusBadRequest, codeInvalidParameter},
	}
	req, err := http.NewRequest(http.MethodHead, s.base+streamPath, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode, "HEAD cannot preview an endless stream")

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := httpGet(t, s.base+streamPath+"?"+tt.query, http.Header{"Accept": {tt.accept}})
			require.Equal(t, tt.want, resp.status, "body: %s", resp.body)
			assert.Equal(t, tt.code, resp.apiError(t).Error.Code)
		})
	}
}

func TestStream_IdleSSEStreamsSendHeartbeatComments(t *testing.T) {
	s := startLive(t, func(c *Config) { c.Stream.HeartbeatInterval = 30 * time.Millisecond })
	c, _ := dialSSE(t, s.base, "", nil)
	require.NotNil(t, c)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case line := <-c.comments:
			if line == ": heartbeat" {
				return
			}
		case <-deadline:
			t.Fatal("no SSE heartbeat comment")
		}
	}
}

func TestStream_IdleWebSocketsArePinged(t *testing.T) {
	s := startLive(t, func(c *Config) { c.Stream.HeartbeatInterval = 30 * time.Millisecond })
	pinged := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(s.base, "http://", "ws://", 1)+streamPath, &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool {
			select {
			case pinged <- struct{}{}:
			default:
			}
			return true // answer with a pong, so the server's Ping succeeds
		},
	})
	require.NoError(t, err)
	defer conn.CloseNow()
	go func() { _, _, _ = conn.Read(ctx) }() // control frames are handled while reading
	select {
	case <-pinged:
	case <-time.After(5 * time.Second):
		t.Fatal("no WebSocket ping on an idle stream")
	}
}

func TestStream_ALaggingStreamBeyondMaxSkippedIsClosedWithAReason(t *testing.T) {
	s := startLive(t, func(c *Config) {
		c.Stream.BufferSize = 1
		c.Stream.MaxSkipped = 10
		c.Stream.WriteTimeout = time.Minute
	})
	ws, _, err := dialWS(t, s.base, "", nil)
	require.NoError(t, err)
	s.waitSubscribers(t, 1)
	// Large enough to fill the socket buffers, so the queue of one overflows by far.
	for i := range 200 {
		s.ext.publish(liveRecords("acme", "r", i, 1, 200_000))
	}
	err = ws.ended(t, 30*time.Second)
	assert.Equal(t, websocket.StatusTryAgainLater, websocket.CloseStatus(err), "error: %v", err)
}

// A live record is the very JSON /api/v1/logs/{id} answers for it: a record without tags,
// attributes or severity has "tags":[] and "severity_text":"" on both, never null or absent.
func TestStream_ARecordIsTheSameJSONAsTheAPIAnswers(t *testing.T) {
	s := startLive(t, nil)
	ws, _, err := dialWS(t, s.base, "", nil)
	require.NoError(t, err)
	s.waitSubscribers(t, 1)

	ts := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	rec := record.Record{ID: "bare-1", TenantID: "acme", Timestamp: ts, ObservedTimestamp: ts, Level: record.LevelInfo, Event: "bare", Message: "no tags"}
	_, err = s.f.store.Insert(context.Background(), "acme", []record.Record{rec})
	require.NoError(t, err)
	s.ext.publish([]record.Record{rec})
	var live map[string]any
	require.NoError(t, json.Unmarshal(ws.next(t, 5*time.Second).data, &live))

	resp, err := http.Get(s.base + "/api/v1/logs/bare-1")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var stored map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&stored))

	assert.Equal(t, stored, live, "the stream's JSON differs from the API's")
	assert.Equal(t, []any{}, live["tags"], "tags of a record without tags")
	assert.Equal(t, map[string]any{}, live["attributes"], "attributes of a record without attributes")
	assert.Equal(t, map[string]any{}, live["resource"], "resource of a record without resource")
	assert.Contains(t, live, "severity_text", "an empty severity_text is \"\" like every other empty field")
	assert.Contains(t, live, "severity_number")
}

// A WebSocket client changes its filter on an open stream with a control message; the server
// acknowledges it, and every record after the acknowledgement matches the new filter. A bad
// filter, or one the caller may not use, is refused with an error message and the stream goes
// on with the old one.
func TestStream_AWebSocketClientChangesItsFilterOnAnOpenStream(t *testing.T) {
	s := startLive(t, func(c *Config) { useJWT(t, c) })
	ws, _, err := dialWS(t, s.base, "min_level=error", bearerHeader(sign(t, viewerClaims("alice", "acme"))))
	require.NoError(t, err)
	s.waitSubscribers(t, 1)
	control := func(msg string) streamMsg {
		t.Helper()
		require.NoError(t, ws.ws.Write(context.Background(), websocket.MessageText, []byte(msg)))
		return ws.next(t, 5*time.Second)
	}

	s.ext.publish([]record.Record{
		{ID: "a-1", TenantID: "acme", Level: record.LevelInfo, Scope: "db", Tags: []string{"pci"}},
		{ID: "a-2", TenantID: "acme", Level: record.LevelError, Scope: "auth"},
	})
	assert.Equal(t, "a-2", ws.next(t, 5*time.Second).id(t), "the filter of the query string")

	ack := control(`{"type":"filter","filter":{"scope":"db","tag":["pci"]}}`)
	assert.JSONEq(t, `{"type":"filter","filter":{"scope":"db","tag":["pci"]}}`, string(ack.data), "the acknowledgement")
	s.ext.publish([]record.Record{
		{ID: "a-3", TenantID: "acme", Level: record.LevelError, Scope: "auth"},
		{ID: "g-1", TenantID: "globex", Level: record.LevelInfo, Scope: "db", Tags: []string{"pci"}},
		{ID: "a-4", TenantID: "acme", Level: record.LevelInfo, Scope: "db", Tags: []string{"pci", "eu"}},
	})
	assert.Equal(t, "a-4", ws.next(t, 5*time.Second).id(t), "after the change: scope db with tag pci, still only acme's")

	for _, tc := range []struct{ msg, code, contains string }{
		{`{"type":"filter","filter":{"min_level":"loud"}}`, codeInvalidParameter, "min_level"},
		{`{"type":"filter","filter":{"tenant":"globex"}}`, "forbidden", ""},
		{`{"type":"filter","filter":{"replay":"10"}}`, codeInvalidParameter, "replay: unknown parameter"},
		{`{"type":"filter","filter":{"scope":1}}`, codeInvalidParameter, "scope: expected a string or a list of strings"},
		{`{"type":"subscribe"}`, codeBadRequest, "unknown type"},
		{`not json`, codeBadRequest, "control message"},
	} {
		reply := control(tc.msg)
		var e controlErrorMessage
		require.NoError(t, json.Unmarshal(reply.data, &e), "reply to %s: %s", tc.msg, reply.data)
		assert.Equal(t, "error", e.Type, "reply to %s: %s", tc.msg, reply.data)
		assert.Equal(t, tc.code, e.Error.Code, "reply to %s: %s", tc.msg, reply.data)
		assert.Contains(t, e.Error.Message, tc.contains, "reply to %s", tc.msg)
	}
	s.ext.publish([]record.Record{
		{ID: "a-5", TenantID: "acme", Level: record.LevelError, Scope: "auth"},
		{ID: "a-6", TenantID: "acme", Level: record.LevelDebug, Scope: "db", Tags: []string{"pci"}},
	})
	assert.Equal(t, "a-6", ws.next(t, 5*time.Second).id(t), "refused changes left the filter as it was")
}

// A connection beyond stream.max_messages_per_second loses the live records over its bound and
// is told how many where they are missing; the count is in the extension's telemetry.
func TestStream_AConnectionOverItsMessageBoundIsToldWhatWasDropped(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := loopbackConfig()
	cfg.Stream.MaxMessagesPerSecond = 5
	cfg.Stream.HeartbeatInterval = 100 * time.Millisecond
	ext, err := NewFactory().Create(context.Background(), metadatatest.NewSettings(tel), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), storeHost(t)))
	t.Cleanup(func() { assert.NoError(t, ext.Shutdown(context.Background())) })
	s := liveServer{ext: ext.(*queryExtension), base: "http://" + ext.(*queryExtension).address().String()}

	ws, _, err := dialWS(t, s.base, "", nil)
	require.NoError(t, err)
	sse, resp := dialSSE(t, s.base, "", nil)
	require.NotNil(t, sse, "status %d", resp.StatusCode)
	s.waitSubscribers(t, 2)
	s.ext.publish(liveRecords("acme", "burst", 0, 20, 10))

	for name, c := range map[string]*streamClient{"websocket": ws, "sse": sse} {
		var ids []string
		for range 5 {
			ids = append(ids, c.next(t, 5*time.Second).id(t))
		}
		assert.Equal(t, []string{"burst-00000", "burst-00001", "burst-00002", "burst-00003", "burst-00004"}, ids, "%s: the burst's first five", name)
		// The stream goes quiet: the next heartbeat carries the notice.
		notice := c.next(t, 5*time.Second)
		assert.Equal(t, "throttled", notice.kind(), "%s: %s", name, notice.data)
		assert.JSONEq(t, `{"type":"throttled","dropped":15}`, string(notice.data), name)
		if name == "sse" {
			assert.Equal(t, "throttled", notice.event, "the SSE event name")
		}
	}
	metadatatest.AssertEqualAuditqueryStreamRecordsThrottled(t, tel, []metricdata.DataPoint[int64]{{Value: 30}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())

	time.Sleep(300 * time.Millisecond) // tokens come back
	s.ext.publish(liveRecords("acme", "later", 0, 1, 10))
	assert.Equal(t, "later-00000", ws.next(t, 5*time.Second).id(t), "within the bound again")
}
