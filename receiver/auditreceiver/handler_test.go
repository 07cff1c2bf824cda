package auditreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver/internal/metadata"
)

// testServer is a receiver listening on a real loopback port.
type testServer struct {
	url  string
	recv *auditReceiver
}

func startServer(t *testing.T, next consumer.Logs, configure func(*Config)) testServer {
	t.Helper()
	return startServerWith(t, receivertest.NewNopSettings(metadata.Type), next, configure)
}

func startServerWith(t *testing.T, set receiver.Settings, next consumer.Logs, configure func(*Config)) testServer {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	if configure != nil {
		configure(cfg)
	}
	require.NoError(t, cfg.Validate())
	r, err := newAuditReceiver(cfg, set, next)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return testServer{url: "http://" + r.addr.String() + eventsPath, recv: r}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (s testServer) post(t *testing.T, contentType, body string, headers ...string) reply {
	t.Helper()
	return s.do(t, http.MethodPost, contentType, strings.NewReader(body), headers...)
}

func (s testServer) do(t *testing.T, method, contentType string, body io.Reader, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.url, body)
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &r.body), "every answer is JSON: %s", raw)
		assert.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	}
	return r
}

func (r reply) errorCode() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r reply) errorMessage() string {
	e, _ := r.body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

func (r reply) ids() []string {
	raw, _ := r.body["ids"].([]any)
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		out = append(out, v.(string))
	}
	return out
}

// logRecords flattens everything the sink received.
func logRecords(sink *consumertest.LogsSink) []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range sink.AllLogs() {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, lrs.At(k))
				}
			}
		}
	}
	return out
}

func attr(lr plog.LogRecord, key string) string {
	v, ok := lr.Attributes().Get(key)
	if !ok {
		return "<absent>"
	}
	return v.AsString()
}

func TestServer_AcceptsEveryFormat(t *testing.T) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write([]byte(s))
		require.NoError(t, w.Close())
		return b.Bytes()
	}
	zs := func(s string) []byte {
		enc, err := zstd.NewWriter(nil)
		require.NoError(t, err)
		defer enc.Close()
		return enc.EncodeAll([]byte(s), nil)
	}
	tests := []struct {
		name        string
		contentType string
		encoding    string
		body        []byte
		want        []string
	}{
		{name: "a single object is accepted", contentType: "application/json", body: []byte(`{"action":"a"}`), want: []string{"a"}},
		{name: "an array is accepted", contentType: "application/json", body: []byte(`[{"action":"a"},{"action":"b"}]`), want: []string{"a", "b"}},
		{name: "a charset parameter naming UTF-8 is accepted", contentType: "application/json; charset=UTF-8", body: []byte(`{"action":"a"}`), want: []string{"a"}},
		{name: "ndjson is accepted", contentType: "application/x-ndjson", body: []byte("{\"action\":\"a\"}\n{\"action\":\"b\"}\n"), want: []string{"a", "b"}},
		{name: "a gzip body is decompressed", contentType: "application/json", encoding: "gzip", body: gz(`[{"action":"a"},{"action":"b"}]`), want: []string{"a", "b"}},
		{name: "a gzip ndjson body is decompressed", contentType: "application/x-ndjson", encoding: "gzip", body: gz("{\"action\":\"a\"}\n"), want: []string{"a"}},
		{name: "a zstd body is decompressed", contentType: "application/json", encoding: "zstd", body: zs(`{"action":"a"}`), want: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			srv := startServer(t, sink, nil)
			var headers []string
			if tt.encoding != "" {
				headers = []string{"Content-Encoding", tt.encoding}
			}
			r := srv.do(t, http.MethodPost, tt.contentType, bytes.NewReader(tt.body), headers...)
			require.Equal(t, http.StatusAccepted, r.status, r.raw)
			assert.EqualValues(t, len(tt.want), r.body["accepted"])

			records := logRecords(sink)
			require.Len(t, records, len(tt.want))
			ids := r.ids()
			for i, lr := range records {
				assert.Equal(t, tt.want[i], lr.EventName())
				assert.Equal(t, ids[i], attr(lr, record.AttrID), "the answer's ids are the records' audit.id, in order")
			}
			assert.NotContains(t, r.body, "rejected")
		})
	}
}

func TestServer_ProducesLogRecordsWithTheMappingsAttributes(t *testing.T) {
	sink := new(consumertest.LogsSink)
	srv := startServer(t, sink, nil)
	before := time.Now()

	r := srv.post(t, "application/json", `{
		"action": "course.deleted", "level": "security", "occurred_at": 1714972089123,
		"tenant_id": "t1", "actor_id": "admin-7", "user_id": "u1", "username": "ada",
		"entity_type": "course", "entity_id": "c42", "service": "lms", "message": "course 42 deleted",
		"old_values": {"title": "Go", "seats": 30}, "new_values": {"title": null},
		"metadata": {"request_id": "r-1", "attempt": 2},
		"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"
	}`, "User-Agent", "legacy-app/1.0")
	require.Equal(t, http.StatusAccepted, r.status, r.raw)

	require.Equal(t, 1, sink.LogRecordCount())
	ld := sink.AllLogs()[0]
	rl := ld.ResourceLogs().At(0)
	svc, _ := rl.Resource().Attributes().Get(record.AttrService)
	assert.Equal(t, "lms", svc.Str())
	sl := rl.ScopeLogs().At(0)
	assert.Equal(t, metadata.ScopeName, sl.Scope().Name())

	lr := sl.LogRecords().At(0)
	assert.Equal(t, "course.deleted", lr.EventName())
	assert.Equal(t, plog.SeverityNumberFatal, lr.SeverityNumber())
	assert.Equal(t, "SECURITY", lr.SeverityText())
	assert.Equal(t, "course 42 deleted", lr.Body().Str())
	assert.Equal(t, time.UnixMilli(1714972089123).UTC(), lr.Timestamp().AsTime())
	assert.False(t, lr.ObservedTimestamp().AsTime().Before(before.Truncate(time.Second)), "observed is the arrival time")
	assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", lr.TraceID().String())
	assert.Equal(t, "b7ad6b7169203331", lr.SpanID().String())

	want := map[string]any{
		record.AttrID:         r.ids()[0],
		record.AttrLevel:      "security",
		record.AttrTenantID:   "t1",
		record.AttrActorID:    "admin-7",
		record.AttrUserID:     "u1",
		record.AttrUserName:   "ada",
		record.AttrEntityType: "course",
		record.AttrEntityID:   "c42",
		attrOldValues:         map[string]any{"title": "Go", "seats": int64(30)},
		attrNewValues:         map[string]any{"title": nil},
		"metadata.request_id": "r-1",
		"metadata.attempt":    int64(2),
		record.AttrClientAddr: "127.0.0.1",
		record.AttrUserAgent:  "legacy-app/1.0",
	}
	assert.Equal(t, want, lr.Attributes().AsRaw())
}

func TestServer_DefaultsForAMinimalEvent(t *testing.T) {
	sink := new(consumertest.LogsSink)
	srv := startServer(t, sink, nil)
	r := srv.post(t, "application/json", `{"action":"login"}`)
	require.Equal(t, http.StatusAccepted, r.status, r.raw)

	lr := logRecords(sink)[0]
	assert.Equal(t, plog.SeverityNumberInfo, lr.SeverityNumber())
	assert.Equal(t, "INFO", lr.SeverityText())
	assert.Equal(t, "info", attr(lr, record.AttrLevel))
	assert.Equal(t, lr.ObservedTimestamp(), lr.Timestamp(), "without occurred_at the event happened when it arrived")
	assert.Equal(t, pcommon.ValueTypeEmpty, lr.Body().Type())
	assert.True(t, lr.TraceID().IsEmpty())
	_, hasService := sink.AllLogs()[0].ResourceLogs().At(0).Resource().Attributes().Get(record.AttrService)
	assert.False(t, hasService, "service.name is left out rather than invented")
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-`, r.ids()[0], "a receiver-assigned id is a content id (UUID version 8)")
}

func TestServer_AnEventPostedAgainWithoutAnIDGetsTheSameID(t *testing.T) {
	sink := new(consumertest.LogsSink)
	srv := startServer(t, sink, nil)
	const ev = `{"action":"invoice.paid","occurred_at":"2026-05-01T10:00:00.123456789Z","actor_id":"u-1","metadata":{"amount":12}}`
	first := srv.post(t, "application/json", ev)
	require.Equal(t, http.StatusAccepted, first.status, first.raw)
	time.Sleep(2 * time.Millisecond) // a later arrival must not make it another record
	again := srv.post(t, "application/json", ev)
	require.Equal(t, http.StatusAccepted, again.status, again.raw)
	assert.Equal(t, first.ids(), again.ids(), "a resent event (its answer lost) names the same record")

	other := srv.post(t, "application/json", `{"action":"invoice.paid","occurred_at":"2026-05-01T10:00:00.123456789Z","actor_id":"u-1","metadata":{"amount":13}}`)
	require.Equal(t, http.StatusAccepted, other.status, other.raw)
	assert.NotEqual(t, first.ids(), other.ids(), "an event that differs in one metadata value is another record")
}

func TestServer_GroupsEventsByService(t *testing.T) {
	sink := new(consumertest.LogsSink)
	srv := startServer(t, sink, nil)
	r := srv.post(t, "application/json", `[{"action":"a","service":"x"},{"action":"b"},{"action":"c","service":"x"}]`)
	require.Equal(t, http.StatusAccepted, r.status, r.raw)

	ld := sink.AllLogs()[0]
	require.Equal(t, 2, ld.ResourceLogs().Len())
	x := ld.ResourceLogs().At(0)
	svc, _ := x.Resource().Attributes().Get(record.AttrService)
	assert.Equal(t, "x", svc.Str())
	assert.Equal(t, 2, x.ScopeLogs().At(0).LogRecords().Len())
	assert.Equal(t, "c", x.ScopeLogs().At(0).LogRecords().At(1).EventName())
	assert.Equal(t, 0, ld.ResourceLogs().At(1).Resource().Attributes().Len())
}

func TestServer_IdempotencyKey(t *testing.T) {
	sink := new(consumertest.LogsSink)
	srv := startServer(t, sink, nil)

	t.Run("the header becomes the audit id of a single event", func(t *testing.T) {
		r := srv.post(t, "application/json", `{"action":"a"}`, "Idempotency-Key", "order-42:attempt")
		require.Equal(t, http.StatusAccepted, r.status, r.raw)
		assert.Equal(t, []string{"order-42:attempt"}, r.ids())
		records := logRecords(sink)
		assert.Equal(t, "order-42:attempt", attr(records[len(records)-1], record.AttrID))
	})
	t.Run("a retry with the same key carries the same id", func(t *testing.T) {
		first := srv.post(t, "application/json", `{"action":"a"}`, "Idempotency-Key", "same-key")
		second := srv.post(t, "application/json", `{"action":"a"}`, "Idempotency-Key", "same-key")
		assert.Equal(t, first.ids(), second.ids())
	})
	t.Run("the id field becomes the audit id of each event", func(t *testing.T) {
		r := srv.post(t, "application/x-ndjson", "{\"action\":\"a\",\"id\":\"k-1\"}\n{\"action\":\"b\"}\n")
		require.Equal(t, http.StatusAccepted, r.status, r.raw)
		ids := r.ids()
		assert.Equal(t, "k-1", ids[0])
		assert.NotEmpty(t, ids[1])
		assert.NotEqual(t, "k-1", ids[1])
	})
	t.Run("the header on a batch is refused", func(t *testing.T) {
		r := srv.post(t, "application/json", `[{"action":"a"},{"action":"b"}]`, "Idempotency-Key", "k")
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Equal(t, codeInvalidRequest, r.errorCode())
	})
}

func TestServer_ClientAddressAndTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		xff     string
		want    string
	}{
		{name: "the peer address is used without forwarding", want: "127.0.0.1"},
		{name: "a forged X-Forwarded-For from an untrusted peer is ignored", xff: "198.51.100.1", want: "127.0.0.1"},
		{name: "a trusted proxy's X-Forwarded-For is honoured", trusted: []string{"127.0.0.0/8"}, xff: "198.51.100.1", want: "198.51.100.1"},
		{name: "an entry prepended by the client is ignored behind a trusted proxy", trusted: []string{"127.0.0.1"}, xff: "6.6.6.6, 198.51.100.1", want: "198.51.100.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			srv := startServer(t, sink, func(c *Config) { c.TrustedProxies = tt.trusted })
			var headers []string
			if tt.xff != "" {
				headers = []string{"X-Forwarded-For", tt.xff}
			}
			r := srv.post(t, "application/json", `{"action":"a"}`, headers...)
			require.Equal(t, http.StatusAccepted, r.status, r.raw)
			assert.Equal(t, tt.want, attr(logRecords(sink)[0], record.AttrClientAddr))
		})
	}
}

func TestServer_RequestErrors(t *testing.T) {
	gzipBomb := func() []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write([]byte(`{"action":"a","message":"` + strings.Repeat("x", 4096) + `"}`))
		require.NoError(t, w.Close())
		return b.Bytes()
	}()
	tests := []struct {
		name        string
		method      string
		contentType string
		headers     []string
		body        []byte
		wantStatus  int
		wantCode    string
		wantMsg     string
	}{
		{name: "GET is not allowed", method: http.MethodGet, wantStatus: 405, wantCode: codeMethodNotAllowed, wantMsg: "use POST"},
		{name: "PUT is not allowed", method: http.MethodPut, contentType: "application/json", body: []byte(`{"action":"a"}`), wantStatus: 405, wantCode: codeMethodNotAllowed},
		{name: "a missing content type is unsupported", body: []byte(`{"action":"a"}`), wantStatus: 415, wantCode: codeUnsupportedMediaType, wantMsg: "missing Content-Type"},
		{name: "text/plain is unsupported", contentType: "text/plain", body: []byte(`{"action":"a"}`), wantStatus: 415, wantCode: codeUnsupportedMediaType, wantMsg: `"text/plain"`},
		{name: "form encoding is unsupported", contentType: "application/x-www-form-urlencoded", body: []byte(`action=a`), wantStatus: 415, wantCode: codeUnsupportedMediaType},
		{name: "a charset other than UTF-8 is unsupported", contentType: "application/json; charset=iso-8859-1", body: []byte(`{"action":"a"}`), wantStatus: 415, wantCode: codeUnsupportedMediaType, wantMsg: "send UTF-8"},
		{name: "an unknown media type parameter is unsupported", contentType: "application/json; profile=x", body: []byte(`{"action":"a"}`), wantStatus: 415, wantCode: codeUnsupportedMediaType, wantMsg: `parameter "profile"`},
		{name: "a body over max_request_body_size is too large", contentType: "application/json", body: []byte(`{"action":"a","message":"` + strings.Repeat("x", 2048) + `"}`), wantStatus: 413, wantCode: codeBodyTooLarge, wantMsg: "max_request_body_size (1024 bytes"},
		{name: "a small gzip body that inflates over the limit is too large", contentType: "application/json", headers: []string{"Content-Encoding", "gzip"}, body: gzipBomb, wantStatus: 413, wantCode: codeBodyTooLarge},
		{name: "a corrupt gzip body is invalid", contentType: "application/json", headers: []string{"Content-Encoding", "gzip"}, body: []byte("not gzip at all"), wantStatus: 400, wantCode: codeInvalidBody},
		{name: "an unsupported content encoding is refused in the JSON error format", contentType: "application/json", headers: []string{"Content-Encoding", "br"}, body: []byte(`{"action":"a"}`), wantStatus: 400, wantCode: codeInvalidBody, wantMsg: "Content-Encoding"},
		{name: "more events than max_events_per_request are too many", contentType: "application/json", body: []byte(`[{"action":"a"},{"action":"b"},{"action":"c"},{"action":"d"}]`), wantStatus: 413, wantCode: codeTooManyEvents, wantMsg: "max_events_per_request (3)"},
		{name: "malformed JSON is an invalid body", contentType: "application/json", body: []byte(`{"action":`), wantStatus: 400, wantCode: codeInvalidBody, wantMsg: "invalid JSON"},
		{name: "an empty body is an invalid body", contentType: "application/json", body: nil, wantStatus: 400, wantCode: codeInvalidBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			srv := startServer(t, sink, func(c *Config) {
				c.ServerConfig.MaxRequestBodySize = 1024
				c.MaxEventsPerRequest = 3
			})
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			r := srv.do(t, method, tt.contentType, bytes.NewReader(tt.body), tt.headers...)
			assert.Equal(t, tt.wantStatus, r.status, r.raw)
			assert.Equal(t, tt.wantCode, r.errorCode(), r.raw)
			assert.Contains(t, r.errorMessage(), tt.wantMsg)
			assert.Zero(t, sink.LogRecordCount(), "nothing reaches the pipeline")
			if tt.wantStatus == http.StatusMethodNotAllowed {
				assert.Equal(t, "POST", r.header.Get("Allow"))
			}
		})
	}
}

func TestServer_UnknownPathIsNotFound(t *testing.T) {
	srv := startServer(t, consumertest.NewNop(), nil)
	srv.url = strings.TrimSuffix(srv.url, eventsPath) + "/v1/logs"
	r := srv.post(t, "application/json", `{"action":"a"}`)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, codeNotFound, r.errorCode())
}

func TestServer_InvalidEvents(t *testing.T) {
	t.Run("one bad event rejects the whole batch and names each bad field", func(t *testing.T) {
		sink := new(consumertest.LogsSink)
		srv := startServer(t, sink, nil)
		r := srv.post(t, "application/json", `[{"action":"ok"},{"action":"x","trace_id":"abc","colour":"red"},{"level":"info"}]`)
		require.Equal(t, http.StatusBadRequest, r.status, r.raw)
		assert.Equal(t, codeInvalidEvent, r.errorCode())
		assert.Contains(t, r.errorMessage(), "2 of 3 events are invalid")
		details, _ := r.body["error"].(map[string]any)["details"].([]any)
		assert.Equal(t, []any{
			map[string]any{"index": 1.0, "field": "colour", "message": "unknown field"},
			map[string]any{"index": 1.0, "field": "trace_id", "message": "expected 32 hex characters"},
			map[string]any{"index": 2.0, "field": "action", "message": "required"},
		}, details)
		assert.Zero(t, sink.LogRecordCount(), "the good event is not taken either")
	})
	t.Run("with partial_success the good events are taken and the bad ones listed", func(t *testing.T) {
		sink := new(consumertest.LogsSink)
		srv := startServer(t, sink, func(c *Config) { c.PartialSuccess = true })
		r := srv.post(t, "application/x-ndjson", "{\"action\":\"ok\"}\n{\"action\":\"x\",\"level\":\"loud\"}\n{\"action\":\"ok2\"}\n")
		require.Equal(t, http.StatusAccepted, r.status, r.raw)
		assert.EqualValues(t, 2, r.body["accepted"])
		assert.Len(t, r.ids(), 2)
		assert.Equal(t, []any{map[string]any{"index": 1.0, "field": "level", "message": "expected one of debug, info, warn, error, security"}}, r.body["rejected"])
		records := logRecords(sink)
		require.Len(t, records, 2)
		assert.Equal(t, "ok", records[0].EventName())
		assert.Equal(t, "ok2", records[1].EventName())
	})
	t.Run("with partial_success a batch without any good event is still a 400", func(t *testing.T) {
		sink := new(consumertest.LogsSink)
		srv := startServer(t, sink, func(c *Config) { c.PartialSuccess = true })
		r := srv.post(t, "application/json", `[{"nope":1}]`)
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Equal(t, codeInvalidEvent, r.errorCode())
		assert.Zero(t, sink.LogRecordCount())
	})
}

func TestServer_ConsumerErrors(t *testing.T) {
	tests := []struct {
		name           string
		err            error
		retryAfter     time.Duration
		wantStatus     int
		wantCode       string
		wantRetryAfter string
	}{
		{name: "a plain error such as a full queue asks the sender to retry", err: errors.New("sending queue is full"), wantStatus: 503, wantCode: codePipelineUnavailable, wantRetryAfter: "5"},
		{name: "an explicitly retryable error asks the sender to retry", err: consumererror.NewRetryableError(errors.New("store down")), wantStatus: 503, wantCode: codePipelineUnavailable, wantRetryAfter: "5"},
		{name: "retry_after is rounded up to whole seconds", err: errors.New("busy"), retryAfter: 2500 * time.Millisecond, wantStatus: 503, wantCode: codePipelineUnavailable, wantRetryAfter: "3"},
		{name: "an error carrying HTTP 429 throttles", err: consumererror.NewOTLPHTTPError(errors.New("slow down"), http.StatusTooManyRequests), wantStatus: 429, wantCode: codeThrottled, wantRetryAfter: "5"},
		{name: "a gRPC RESOURCE_EXHAUSTED status throttles", err: fmt.Errorf("export: %w", status.Error(codes.ResourceExhausted, "quota")), wantStatus: 429, wantCode: codeThrottled, wantRetryAfter: "5"},
		{name: "a gRPC UNAVAILABLE status asks the sender to retry", err: status.Error(codes.Unavailable, "down"), wantStatus: 503, wantCode: codePipelineUnavailable, wantRetryAfter: "5"},
		{name: "a permanent error is a server error without retry", err: consumererror.NewPermanent(errors.New("cannot store")), wantStatus: 500, wantCode: codePipelineRejected},
		{name: "an error carrying HTTP 400 passes the client error on", err: consumererror.NewOTLPHTTPError(errors.New("bad record"), http.StatusBadRequest), wantStatus: 400, wantCode: codePipelineRejected},
		{name: "an error carrying HTTP 500 is not retried", err: consumererror.NewOTLPHTTPError(errors.New("broken"), http.StatusInternalServerError), wantStatus: 500, wantCode: codePipelineRejected},
		{name: "a WAL failure naming a file is answered without it", err: errors.New("write-ahead log: write /var/lib/otelcol-audit/wal/00000003: no space left on device"), wantStatus: 503, wantCode: codePipelineUnavailable, wantRetryAfter: "5"},
		{name: "a record beyond a limit is the sender's error, told in full", err: consumererror.NewPermanent(status.Error(codes.InvalidArgument, "audit: record 0: body: nested deeper than 32 levels (limits.max_depth)")), wantStatus: 400, wantCode: codePipelineRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, consumertest.NewErr(tt.err), func(c *Config) {
				if tt.retryAfter != 0 {
					c.RetryAfter = tt.retryAfter
				}
			})
			r := srv.post(t, "application/json", `{"action":"a"}`)
			assert.Equal(t, tt.wantStatus, r.status, r.raw)
			assert.Equal(t, tt.wantCode, r.errorCode())
			if tt.wantStatus < 500 {
				assert.Contains(t, r.errorMessage(), tt.err.Error())
			} else {
				// Server-side errors name files, hosts and SQL: never shown to a sender.
				assert.NotContains(t, r.raw, tt.err.Error())
				assert.NotContains(t, r.raw, "/var/lib")
			}
			assert.Equal(t, tt.wantRetryAfter, r.header.Get("Retry-After"))
		})
	}
}

func TestServer_ReportsReceiverTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()

	srv := startServerWith(t, set, consumertest.NewNop(), nil)

	require.Equal(t, http.StatusAccepted, srv.post(t, "application/json", `[{"action":"a"},{"action":"b"}]`).status)
	require.Equal(t, http.StatusBadRequest, srv.post(t, "application/json", `[{"action":"a"},{}]`).status)

	assert.Equal(t, int64(2), sumCounter(t, tel, "otelcol_receiver_accepted_log_records"))
	// The feature gate receiverhelper.newReceiverMetrics decides whether failures count as
	// refused or failed; either way both events of the rejected batch count, the valid one too,
	// because it was refused with the other.
	assert.Equal(t, int64(2), sumCounter(t, tel, "otelcol_receiver_refused_log_records")+sumCounter(t, tel, "otelcol_receiver_failed_log_records"))
}

func sumCounter(t *testing.T, tel *componenttest.Telemetry, name string) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is an int64 sum, got %T", name, m.Data)
	var total int64
	for _, dp := range sum.DataPoints {
		total += dp.Value
	}
	return total
}
