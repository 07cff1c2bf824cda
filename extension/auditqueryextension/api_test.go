package auditqueryextension

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/health"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

func TestListLogs_FiltersSelectTheMatchingRecordsNewestFirst(t *testing.T) {
	f := newFixture(t)
	h := testAPI(t, f.store, nil, false)

	start := fixtureBase.Add(2 * time.Minute).Format(time.RFC3339)
	end := unixMillis(fixtureBase.Add(4 * time.Minute))
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"no filter returns every tenant's records newest first", "", []string{"g2", "a4", "a3", "g1", "a2", "a1"}},
		{"tenant narrows an admin's query to that tenant", "tenant=acme", []string{"a4", "a3", "a2", "a1"}},
		{"level takes a comma-separated set", "level=info,warn", []string{"g1", "a2", "a1"}},
		{"level may also be repeated", "level=info&level=security", []string{"g2", "a3", "g1", "a1"}},
		{"level names are case-insensitive and accept aliases", "level=WARNING", []string{"a2"}},
		{"min_level keeps that level and above", "min_level=error", []string{"g2", "a4", "a3"}},
		{"event matches exactly", "event=auth.failed", []string{"g2", "a3"}},
		{"user_id matches the user", "user_id=alice", []string{"a2", "a1"}},
		{"actor_id matches the actor", "actor_id=alice", []string{"a1"}},
		{"entity_id matches the entity", "entity_id=doc-1", []string{"a2", "a1"}},
		{"trace_id is accepted in upper case", "trace_id=" + strings.ToUpper(traceShared), []string{"g2", "a2", "a1"}},
		{"ip matches the client address", "ip=10.0.0.2", []string{"a3"}},
		{"start is inclusive and end exclusive, in RFC 3339 and Unix milliseconds", "start=" + url.QueryEscape(start) + "&end=" + end, []string{"a3", "g1", "a2"}},
		{"q searches the message text", "q=password", []string{"a3"}},
		{"company_id matches the company", "company_id=c-1", []string{"g1", "a2", "a1"}},
		{"employee_id matches the employee", "employee_id=e-2", []string{"a2"}},
		{"entity_type matches the entity type", "entity_type=document", []string{"a4", "a2", "a1"}},
		{"scope matches the domain logger", "scope=auth", []string{"a3", "g1", "a1"}},
		{"service_name matches the service", "service_name=docs", []string{"a4"}},
		{"tag matches records holding the tag", "tag=pci", []string{"a3", "a2"}},
		{"repeated tags must all be held", "tag=pci&tag=login", []string{"a3"}},
		{"a tag is matched whole, not as a substring", "tag=log", []string{}},
		{"q also searches the tags", "q=pci", []string{"a3", "a2"}},
		{"filters combine with AND", "tenant=acme&user_id=bob&min_level=security", []string{"a3"}},
		{"a filter that matches nothing returns an empty list", "user_id=nobody", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(h, "/api/v1/logs?"+tt.query)
			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
			var body listBody
			resp.decode(t, &body)
			assert.Equal(t, tt.want, f.names(body.ids()))
			assert.Nil(t, body.NextCursor, "a single page has no next_cursor")
			assert.Contains(t, string(resp.body), `"records":[`, "records is a list, never null")
		})
	}
}

func TestListLogs_RecordsUseTheAPIFieldNames(t *testing.T) {
	f := newFixture(t)
	h := testAPI(t, f.store, nil, false)

	resp := get(h, "/api/v1/logs?user_id=alice&event=user.login")
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	var raw struct {
		Records []map[string]any `json:"records"`
	}
	resp.decode(t, &raw)
	require.Len(t, raw.Records, 1)
	got := raw.Records[0]
	assert.Equal(t, f.ids["a1"], got["id"])
	assert.Equal(t, "acme", got["tenant_id"])
	assert.Equal(t, "info", got["level"])
	assert.Equal(t, "user.login", got["event"])
	assert.Equal(t, "10.0.0.1", got["ip_address"])
	assert.Equal(t, traceShared, got["trace_id"])
	ts, err := time.Parse(time.RFC3339Nano, got["timestamp"].(string))
	require.NoError(t, err, "timestamp is RFC 3339")
	assert.True(t, ts.Equal(fixtureBase.Add(time.Minute)))
	assert.Equal(t, "no-store", resp.header.Get("Cache-Control"), "audit records are not cached")
}

func TestListLogs_CursorWalksEveryRecordOnceAndTheLastPageHasNoCursor(t *testing.T) {
	f := newFixture(t)
	h := testAPI(t, f.store, nil, false)

	var seen []string
	cursor := ""
	for pages := 1; ; pages++ {
		require.LessOrEqual(t, pages, 4, "six records in pages of two take at most four pages")
		target := "/api/v1/logs?limit=2"
		if cursor != "" {
			target += "&cursor=" + url.QueryEscape(cursor)
		}
		resp := get(h, target)
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
		var body listBody
		resp.decode(t, &body)
		assert.LessOrEqual(t, len(body.Records), 2)
		seen = append(seen, f.names(body.ids())...)
		if body.NextCursor == nil {
			break
		}
		require.NotEmpty(t, *body.NextCursor, "next_cursor is omitted, never empty")
		cursor = *body.NextCursor
	}
	assert.Equal(t, []string{"g2", "a4", "a3", "g1", "a2", "a1"}, seen)
}

func TestListLogs_BadParametersAnswer400NamingTheParameter(t *testing.T) {
	f := newFixture(t)
	h := testAPI(t, f.store, nil, false)

	tests := []struct {
		name     string
		query    string
		wantCode string
		wantMsg  string
	}{
		{"a start that is neither RFC 3339 nor milliseconds", "start=yesterday", codeInvalidParameter, `start: expected RFC 3339 or Unix milliseconds, got "yesterday"`},
		{"an end with a bad date", "end=2026-13-01T00:00:00Z", codeInvalidParameter, `end: expected RFC 3339 or Unix milliseconds`},
		{"an end that is not after start", "start=2026-03-01T12:00:00Z&end=2026-03-01T12:00:00Z", codeInvalidParameter, "end: must be after start"},
		{"an unknown level", "level=info,loud", codeInvalidParameter, `level: unknown level "loud"`},
		{"an unknown min_level", "min_level=urgent", codeInvalidParameter, `min_level: unknown level "urgent"`},
		{"a trace_id that is not hex", "trace_id=xyz", codeInvalidParameter, `trace_id: expected 32 hex characters, got "xyz"`},
		{"the all-zero trace_id", "trace_id=" + strings.Repeat("0", 32), codeInvalidParameter, "trace_id: the all-zero trace id"},
		{"a limit of zero", "limit=0", codeInvalidParameter, `limit: expected an integer from 1 to 1000, got "0"`},
		{"a limit above the maximum is refused, not clamped", "limit=1001", codeInvalidParameter, `limit: expected an integer from 1 to 1000, got "1001"`},
		{"a limit that is not a number", "limit=all", codeInvalidParameter, `limit: expected an integer from 1 to 1000, got "all"`},
		{"a cursor that is not one of ours", "cursor=%21%21%21", codeInvalidCursor, "cursor: invalid cursor"},
		{"an unknown parameter, which is likely a typo", "user=alice", codeInvalidParameter, "user: unknown parameter"},
		{"a parameter given twice", "tenant=acme&tenant=globex", codeInvalidParameter, "tenant: given 2 times; give it once"},
		{"a company_id given twice", "company_id=c-1&company_id=c-2", codeInvalidParameter, "company_id: given 2 times; give it once"},
		{"an empty tag", "tag=pci&tag=", codeInvalidParameter, "tag: must not be empty"},
		{"more tags than a query may require", strings.Repeat("tag=x&", 17) + "tag=y", codeInvalidParameter, "tag: given 18 times; at most 16"},
		{"a tenant with a NUL", "tenant=acme%00x", codeInvalidParameter, "tenant: holds the control character U+0000"},
		{"a tenant longer than any stored one", "tenant=" + strings.Repeat("t", 200), codeInvalidParameter, "tenant: is 200 bytes, at most 128"},
		{"a search the store cannot parse", "q=%22unbalanced", codeInvalidQuery, "invalid query"},
		{"a search text longer than 1024 bytes", "q=" + strings.Repeat("x", 1025), codeInvalidParameter, "q: longer than 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(h, "/api/v1/logs?"+tt.query)
			require.Equal(t, http.StatusBadRequest, resp.status, "body: %s", resp.body)
			e := resp.apiError(t)
			assert.Equal(t, tt.wantCode, e.Error.Code)
			assert.Contains(t, e.Error.Message, tt.wantMsg)
		})
	}
}

func TestGetLog_ReturnsTheRecordOr404(t *testing.T) {
	f := newFixture(t)
	h := testAPI(t, f.store, nil, false)

	resp := get(h, "/api/v1/logs/"+f.ids["a3"])
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	var rec record.Record
	resp.decode(t, &rec)
	assert.Equal(t, f.ids["a3"], rec.ID)
	assert.Equal(t, record.LevelSecurity, rec.Level)
	assert.Equal(t, "password mismatch for bob", rec.Message)

	tests := []struct {
		name   string
		target string
	}{
		{"an id that does not exist", "/api/v1/logs/" + record.NewID()},
		{"an admin narrowing to a tenant the record is not in", "/api/v1/logs/" + f.ids["g1"] + "?tenant=acme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(h, tt.target)
			require.Equal(t, http.StatusNotFound, resp.status, "body: %s", resp.body)
			assert.Equal(t, codeNotFound, resp.apiError(t).Error.Code)
		})
	}
}

func TestGetLog_AnIDTwoTenantsHoldIsEachTenantsOwnAndAmbiguousOnlyToAnAdmin(t *testing.T) {
	s := openStore(t)
	ts := fixtureBase
	for _, tenant := range []string{"acme", "globex"} {
		rec := record.Record{ID: "order-42", TenantID: tenant, Timestamp: ts, ObservedTimestamp: ts,
			Level: record.LevelInfo, Message: tenant + "'s order"}
		_, err := s.Insert(context.Background(), tenant, []record.Record{rec})
		require.NoError(t, err)
	}
	h := testAPI(t, s, nil, true)

	t.Run("an admin without tenant= is told to choose", func(t *testing.T) {
		resp := serve(h, http.MethodGet, "/api/v1/logs/order-42", authData{"subject": "root", "role": "admin"})
		require.Equal(t, http.StatusConflict, resp.status, "body: %s", resp.body)
		e := resp.apiError(t)
		assert.Equal(t, codeAmbiguousID, e.Error.Code)
		assert.Contains(t, e.Error.Message, "tenant=")
	})
	for _, tenant := range []string{"acme", "globex"} {
		t.Run("an admin naming "+tenant+" gets its record", func(t *testing.T) {
			resp := serve(h, http.MethodGet, "/api/v1/logs/order-42?tenant="+tenant, authData{"subject": "root", "role": "admin"})
			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
			var rec record.Record
			resp.decode(t, &rec)
			assert.Equal(t, tenant+"'s order", rec.Message)
		})
		t.Run("a viewer of "+tenant+" gets its own record and never hears of the other", func(t *testing.T) {
			resp := serve(h, http.MethodGet, "/api/v1/logs/order-42", viewerOf(tenant))
			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
			var rec record.Record
			resp.decode(t, &rec)
			assert.Equal(t, tenant, rec.TenantID)
			assert.Equal(t, tenant+"'s order", rec.Message)
		})
	}
}

func TestGetTrace_ReturnsTheTraceOldestFirst(t *testing.T) {
	f := newFixture(t)
	h := testAPI(t, f.store, nil, false)

	tests := []struct {
		name   string
		target string
		want   []string
	}{
		{"an admin sees the trace across tenants", "/api/v1/traces/" + traceShared, []string{"a1", "a2", "g2"}},
		{"an admin may narrow the trace to one tenant", "/api/v1/traces/" + traceShared + "?tenant=acme", []string{"a1", "a2"}},
		{"an upper-case trace id finds the same trace", "/api/v1/traces/" + strings.ToUpper(traceAcme), []string{"a4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(h, tt.target)
			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
			var body struct {
				TraceID string          `json:"trace_id"`
				Records []record.Record `json:"records"`
			}
			resp.decode(t, &body)
			assert.Equal(t, strings.ToLower(strings.TrimPrefix(strings.Split(tt.target, "?")[0], "/api/v1/traces/")), body.TraceID)
			ids := make([]string, len(body.Records))
			for i, r := range body.Records {
				ids[i] = r.ID
			}
			assert.Equal(t, tt.want, f.names(ids))
		})
	}

	errTests := []struct {
		name       string
		target     string
		wantStatus int
		wantMsg    string
	}{
		{"a trace id that is too short", "/api/v1/traces/abc123", http.StatusBadRequest, `trace_id: expected 32 hex characters, got "abc123"`},
		{"a trace id with a non-hex letter", "/api/v1/traces/" + strings.Repeat("g", 32), http.StatusBadRequest, "trace_id: expected 32 hex characters"},
		{"a trace with no records", "/api/v1/traces/" + traceNone, http.StatusNotFound, "no records of trace " + traceNone},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(h, tt.target)
			require.Equal(t, tt.wantStatus, resp.status, "body: %s", resp.body)
			assert.Contains(t, resp.apiError(t).Error.Message, tt.wantMsg)
		})
	}
}

func TestHealth_ReportsStoreAndPipelineState(t *testing.T) {
	failedAt := fixtureBase
	degraded := fixedHealth{Status: "degraded", FailureCount: 3, LastFailureAt: &failedAt, LastError: "insert: disk I/O error", QueueDepth: 7, DLQFiles: 2}

	tests := []struct {
		name          string
		backend       bool
		source        health.Source
		auth          authData
		wantStatus    int
		wantState     string
		wantStore     string
		wantPipeline  bool
		wantLastError string
	}{
		{"with no backend it answers 503 unavailable", false, nil, nil, http.StatusServiceUnavailable, "unavailable", "unavailable", false, ""},
		{"with a healthy pipeline it answers 200 ok", true, fixedHealth{Status: "ok"}, nil, http.StatusOK, "ok", "ok", true, ""},
		{"with a degraded pipeline it still answers 200, saying degraded", true, degraded, nil, http.StatusOK, "degraded", "ok", true, "insert: disk I/O error"},
		{"with a store but no health source it answers ok without pipeline", true, nil, nil, http.StatusOK, "ok", "ok", false, ""},
		{"a viewer sees the counts but not the last error text", true, degraded, viewerOf("acme"), http.StatusOK, "degraded", "ok", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s store.Store
			if tt.backend {
				s = openStore(t)
			}
			h := testAPI(t, s, tt.source, tt.auth != nil)
			resp := serve(h, http.MethodGet, "/api/v1/health", authOrNil(tt.auth))
			require.Equal(t, tt.wantStatus, resp.status, "body: %s", resp.body)
			var body struct {
				Status   string           `json:"status"`
				Store    string           `json:"store"`
				Pipeline *health.Snapshot `json:"pipeline"`
			}
			resp.decode(t, &body)
			assert.Equal(t, tt.wantState, body.Status)
			assert.Equal(t, tt.wantStore, body.Store)
			if !tt.wantPipeline {
				assert.Nil(t, body.Pipeline)
				return
			}
			require.NotNil(t, body.Pipeline)
			assert.Equal(t, tt.wantLastError, body.Pipeline.LastError)
			if tt.source == degraded {
				assert.Equal(t, int64(3), body.Pipeline.FailureCount)
				assert.Equal(t, 7, body.Pipeline.QueueDepth)
				assert.Equal(t, 2, body.Pipeline.DLQFiles)
			}
		})
	}
}

func TestRouting_UnknownPathsAnswer404AndWrongMethods405InJSON(t *testing.T) {
	f := newFixture(t)
	h := testAPI(t, f.store, nil, false)

	tests := []struct {
		name       string
		method     string
		target     string
		wantStatus int
		wantCode   string
	}{
		{"an unknown endpoint under /api/v1", http.MethodGet, "/api/v1/nope", http.StatusNotFound, codeNotFound},
		{"an unknown API version", http.MethodGet, "/api/v2/logs", http.StatusNotFound, codeNotFound},
		{"a path below a record id", http.MethodGet, "/api/v1/logs/" + f.ids["a1"] + "/extra", http.StatusNotFound, codeNotFound},
		{"a path outside the API", http.MethodGet, "/nothing-here", http.StatusNotFound, codeNotFound},
		{"POST on the log list", http.MethodPost, "/api/v1/logs", http.StatusMethodNotAllowed, codeMethodNotAllowed},
		{"DELETE on a record: audit records are never deleted through the API", http.MethodDelete, "/api/v1/logs/" + f.ids["a1"], http.StatusMethodNotAllowed, codeMethodNotAllowed},
		{"PUT on health", http.MethodPut, "/api/v1/health", http.StatusMethodNotAllowed, codeMethodNotAllowed},
		{"POST on a trace", http.MethodPost, "/api/v1/traces/" + traceShared, http.StatusMethodNotAllowed, codeMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := serve(h, tt.method, tt.target, nil)
			require.Equal(t, tt.wantStatus, resp.status, "body: %s", resp.body)
			assert.Equal(t, tt.wantCode, resp.apiError(t).Error.Code)
			if tt.wantStatus == http.StatusMethodNotAllowed {
				assert.Equal(t, "GET, HEAD", resp.header.Get("Allow"))
			}
		})
	}

	t.Run("HEAD is answered like GET, without a body", func(t *testing.T) {
		resp := serve(h, http.MethodHead, "/api/v1/logs", nil)
		assert.Equal(t, http.StatusOK, resp.status)
	})
}

func TestDataEndpoints_Answer503UntilABackendIsRegistered(t *testing.T) {
	slot := &backendSlot{}
	h := testAPIWithSlot(slot)
	targets := []string{"/api/v1/logs", "/api/v1/logs/" + record.NewID(), "/api/v1/traces/" + traceShared}
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			resp := get(h, target)
			require.Equal(t, http.StatusServiceUnavailable, resp.status)
			assert.JSONEq(t, `{"error":{"code":"unavailable","message":"the audit store is not open (the collector is starting or stopping)"}}`, string(resp.body))
		})
	}

	f := newFixture(t)
	require.NoError(t, slot.register(Backend{Store: f.store}))
	assert.Equal(t, http.StatusOK, get(h, "/api/v1/logs").status, "the same handler serves once a backend is registered")

	slot.unregister()
	assert.Equal(t, http.StatusServiceUnavailable, get(h, "/api/v1/logs").status, "and stops when it is unregistered")
}

func TestDataEndpoints_AFailingStoreAnswers503WithoutItsInternals(t *testing.T) {
	f := newFixture(t)
	h := testAPI(t, f.store, nil, false)
	// A closed store is a real failing store: every call now fails inside database/sql.
	require.NoError(t, f.store.Close())

	for _, target := range []string{"/api/v1/logs", "/api/v1/logs/" + f.ids["a1"], "/api/v1/traces/" + traceShared} {
		t.Run(target, func(t *testing.T) {
			resp := get(h, target)
			require.Equal(t, http.StatusServiceUnavailable, resp.status, "body: %s", resp.body)
			e := resp.apiError(t)
			assert.Equal(t, codeUnavailable, e.Error.Code)
			assert.Equal(t, "the audit store failed to answer; see the collector's log", e.Error.Message)
			assert.NotContains(t, strings.ToLower(string(resp.body)), "sql", "driver errors stay in the log")
		})
	}
}

func TestDataEndpoints_AQueryPastItsTimeoutAnswers503Timeout(t *testing.T) {
	f := newFixture(t)
	slot := &backendSlot{}
	require.NoError(t, slot.register(Backend{Store: f.store}))
	h := newAPI(zap.NewNop(), slot, apiSettings{queryTimeout: time.Nanosecond})

	resp := get(h, "/api/v1/logs")
	require.Equal(t, http.StatusServiceUnavailable, resp.status, "body: %s", resp.body)
	e := resp.apiError(t)
	assert.Equal(t, codeTimeout, e.Error.Code)
	assert.Contains(t, e.Error.Message, "did not finish within 1ns")
}

func TestStoreError_MapsTheContractErrorsToStatuses(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"an invalid query is the caller's fault, told without the backend's wrapping", fmt.Errorf("/var/lib/sqlitestore: search: %w: unbalanced quote", store.ErrInvalidQuery), http.StatusBadRequest, codeInvalidQuery, "invalid query: unbalanced quote"},
		{"an invalid cursor is the caller's fault", fmt.Errorf("query: %w: bad timestamp", store.ErrInvalidCursor), http.StatusBadRequest, codeInvalidCursor, "cursor: not a cursor this API handed out"},
		{"a query past its timeout says so", fmt.Errorf("query: %w", context.DeadlineExceeded), http.StatusServiceUnavailable, codeTimeout, "did not finish within 2s"},
		{"not found is 404", fmt.Errorf("get: %w", store.ErrNotFound), http.StatusNotFound, codeNotFound, "record not found"},
		{"an id several tenants hold is 409 and says how to choose", fmt.Errorf("get: %w", store.ErrAmbiguousID), http.StatusConflict, codeAmbiguousID, "pass tenant="},
		{"any other error is the store's and stays private", errors.New("open /var/lib/audit/audit.db: permission denied"), http.StatusServiceUnavailable, codeUnavailable, "the audit store failed to answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &api{logger: zap.NewNop(), apiSettings: apiSettings{queryTimeout: 2 * time.Second}}
			e := a.storeError("test", tt.err)
			assert.Equal(t, tt.wantStatus, e.Status)
			assert.Equal(t, tt.wantCode, e.Code)
			assert.Contains(t, e.Message, tt.wantMsg)
			assert.NotContains(t, e.Message, "/var/lib")
		})
	}
}

func TestTransportErrors_AnswerInTheAPIShape(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		wantCode string
	}{
		{"a rejected credential", http.StatusUnauthorized, codeUnauthenticated},
		{"an unsupported content encoding", http.StatusBadRequest, codeBadRequest},
		{"an oversized body", http.StatusRequestEntityTooLarge, codeTooLarge},
		{"a rate limit", http.StatusTooManyRequests, codeRateLimited},
		{"an unavailable dependency", http.StatusServiceUnavailable, codeUnavailable},
		{"a forbidden action", http.StatusForbidden, codeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeTransportError(rec, nil, "because", tt.status)
			resp := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
			require.Equal(t, tt.status, resp.status)
			e := resp.apiError(t)
			assert.Equal(t, tt.wantCode, e.Error.Code)
			assert.Equal(t, "because", e.Error.Message)
			if tt.status == http.StatusUnauthorized {
				assert.Equal(t, "Bearer", resp.header.Get("WWW-Authenticate"))
			}
		})
	}
}

// authOrNil keeps a nil authData from becoming a non-nil interface.
func authOrNil(a authData) client.AuthData {
	if a == nil {
		return nil
	}
	return a
}
