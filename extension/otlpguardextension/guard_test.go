package otlpguardextension

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-audit/otelcol-audit/extension/otlpguardextension/internal/metadata"
)

// guarded returns the guard wrapped around a handler that records the body it got.
func guarded(t *testing.T) (http.Handler, *string) {
	t.Helper()
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), createDefaultConfig())
	require.NoError(t, err)
	wrap, err := ext.(*guard).GetHTTPHandler(context.Background())
	require.NoError(t, err)
	got := new(string)
	*got = "<not called>"
	h, err := wrap(context.Background(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*got = string(b)
		w.WriteHeader(http.StatusOK)
	}))
	require.NoError(t, err)
	return h, got
}

func TestGuard(t *testing.T) {
	const otlp = `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]}`
	tests := []struct {
		name, contentType, body string
		wantStatus              int
		wantMessage             string
	}{
		{name: "an OTLP request passes untouched", contentType: "application/json", body: otlp, wantStatus: 200},
		{name: "snake_case OTLP passes", contentType: "application/json", body: `{"resource_logs":[]}`, wantStatus: 200},
		{name: "an empty request passes", contentType: "application/json", body: `{}`, wantStatus: 200},
		{name: "malformed JSON is left to the receiver", contentType: "application/json", body: `{"resourceLogs":`, wantStatus: 200},
		{name: "protobuf is not looked at", contentType: "application/x-protobuf", body: `{"action":"a"}`, wantStatus: 200},
		{name: "an audit event is refused", contentType: "application/json; charset=utf-8", body: `{"action":"user.login","user_id":"u-1"}`,
			wantStatus: 400, wantMessage: "an audit event (the audit receiver's JSON schema), not an OTLP request: nothing was stored. Post it to the audit receiver's /v1/events (http://127.0.0.1:8088/v1/events)"},
		{name: "an array of audit events is refused", contentType: "application/json", body: `[{"action":"a"},{"action":"b"}]`,
			wantStatus: 400, wantMessage: "an array of audit events"},
		{name: "another array is refused", contentType: "application/json", body: `[1,2]`, wantStatus: 400, wantMessage: "not an array"},
		{name: "an object without OTLP fields is refused", contentType: "application/json", body: `{"logs":[],"message":"x"}`,
			wantStatus: 400, wantMessage: "only logs, message, which OTLP ignores"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, got := guarded(t)
			req := httptest.NewRequest(http.MethodPost, "/v1/logs", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			if tt.wantStatus == http.StatusOK {
				assert.Equal(t, tt.body, *got, "the receiver gets the body as sent")
				return
			}
			assert.Equal(t, "<not called>", *got, "a refused body never reaches the receiver")
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var status struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &status))
			assert.Equal(t, 3, status.Code)
			assert.Contains(t, status.Message, tt.wantMessage)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, cfg.Validate())
	cfg.AuditEventsURL = "audit:8088"
	assert.ErrorContains(t, cfg.Validate(), "audit_events_url: expected an absolute URL")
	cfg.AuditEventsURL = ""
	assert.ErrorContains(t, cfg.Validate(), "audit_events_url: must not be empty")
}
