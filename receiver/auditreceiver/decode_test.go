package auditreceiver

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

func decodeJSON(t *testing.T, body string) decoded {
	t.Helper()
	d, rerr := decodeRequest([]byte(body), formatJSON, decodeOptions{maxEvents: 100})
	require.Nil(t, rerr, "unexpected request error")
	return d
}

func TestDecodeRequest_Framing(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		format     bodyFormat
		maxEvents  int
		wantEvents []string // actions of the accepted events, in order
		wantStatus int      // of the request error; 0 when the body frames
		wantCode   string
		wantMsg    string
	}{
		{name: "a single object is one event", body: `{"action":"a"}`, wantEvents: []string{"a"}},
		{name: "an array holds one event per element", body: `[{"action":"a"},{"action":"b"}]`, wantEvents: []string{"a", "b"}},
		{name: "whitespace around the body is ignored", body: " \r\n\t{\"action\":\"a\"}\n ", wantEvents: []string{"a"}},
		{name: "ndjson holds one event per line", format: formatNDJSON, body: "{\"action\":\"a\"}\n{\"action\":\"b\"}\n", wantEvents: []string{"a", "b"}},
		{name: "ndjson skips blank lines and accepts CRLF", format: formatNDJSON, body: "\n{\"action\":\"a\"}\r\n  \r\n{\"action\":\"b\"}", wantEvents: []string{"a", "b"}},
		{name: "ndjson without a final newline keeps its last line", format: formatNDJSON, body: `{"action":"a"}`, wantEvents: []string{"a"}},
		{name: "exactly max events are accepted", maxEvents: 2, body: `[{"action":"a"},{"action":"b"}]`, wantEvents: []string{"a", "b"}},

		{name: "an empty body is refused", body: "", wantStatus: 400, wantCode: codeInvalidBody, wantMsg: "request body is empty"},
		{name: "a whitespace body is refused", body: " \n ", wantStatus: 400, wantCode: codeInvalidBody, wantMsg: "request body is empty"},
		{name: "an empty array is refused", body: "[]", wantStatus: 400, wantCode: codeInvalidBody, wantMsg: "holds no events"},
		{name: "an ndjson body of blank lines is refused", format: formatNDJSON, body: "\n\n  \n", wantStatus: 400, wantCode: codeInvalidBody, wantMsg: "holds no events"},
		{name: "a JSON string is refused", body: `"course.deleted"`, wantStatus: 400, wantCode: codeInvalidBody, wantMsg: "expected a JSON object or an array of objects"},
		{name: "two concatenated objects are refused", body: `{"action":"a"}{"action":"b"}`, wantStatus: 400, wantCode: codeInvalidBody, wantMsg: "invalid JSON at byte"},
		{name: "a truncated array is refused", body: `[{"action":"a"},`, wantStatus: 400, wantCode: codeInvalidBody, wantMsg: "invalid JSON"},
		{name: "an array with trailing data is refused", body: `[{"action":"a"}] []`, wantStatus: 400, wantCode: codeInvalidBody, wantMsg: "invalid JSON"},
		{name: "an array with a missing comma is refused", body: `[{"action":"a"} {"action":"b"}]`, wantStatus: 400, wantCode: codeInvalidBody, wantMsg: "invalid JSON"},
		{name: "an array with a trailing comma is refused", body: `[{"action":"a"},]`, wantStatus: 400, wantCode: codeInvalidBody, wantMsg: "invalid JSON"},
		{name: "an array of tiny elements stops at max events", maxEvents: 2, body: "[" + strings.Repeat("1,", 100000) + "1]", wantStatus: 413, wantCode: codeTooManyEvents},
		{name: "an array beyond max events is refused as too large", maxEvents: 2, body: `[{"action":"a"},{"action":"b"},{"action":"c"}]`, wantStatus: 413, wantCode: codeTooManyEvents, wantMsg: "more than max_events_per_request (2) events"},
		{name: "ndjson beyond max events is refused as too large", format: formatNDJSON, maxEvents: 2, body: "{}\n{}\n\n{}\n{}\n", wantStatus: 413, wantCode: codeTooManyEvents, wantMsg: "more than max_events_per_request (2) events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maxEvents := tt.maxEvents
			if maxEvents == 0 {
				maxEvents = 100
			}
			d, rerr := decodeRequest([]byte(tt.body), tt.format, decodeOptions{maxEvents: maxEvents})
			if tt.wantStatus != 0 {
				require.NotNil(t, rerr)
				assert.Equal(t, tt.wantStatus, rerr.status)
				assert.Equal(t, tt.wantCode, rerr.code)
				assert.Contains(t, rerr.message, tt.wantMsg)
				return
			}
			require.Nil(t, rerr)
			assert.Empty(t, d.problems)
			var actions []string
			for _, ev := range d.events {
				actions = append(actions, ev.action)
			}
			assert.Equal(t, tt.wantEvents, actions)
			assert.Equal(t, len(tt.wantEvents), d.total)
		})
	}
}

func TestDecodeRequest_ElementsThatAreNotEventsAreProblemsOfTheirIndex(t *testing.T) {
	d := decodeJSON(t, `[{"action":"a"}, 42, null, [], {"action":"b"}]`)
	assert.Equal(t, 5, d.total)
	assert.Equal(t, 3, d.rejected())
	assert.Equal(t, []problem{
		{Index: 1, Message: "expected a JSON object, got a number"},
		{Index: 2, Message: "expected a JSON object, got null"},
		{Index: 3, Message: "expected a JSON object, got an array"},
	}, d.problems)
	require.Len(t, d.events, 2)
	assert.Equal(t, 0, d.events[0].index)
	assert.Equal(t, 4, d.events[1].index)

	nd, rerr := decodeRequest([]byte("{\"action\":\"a\"}\n{\"action\": oops}\n{\"action\":\"c\"}\n"), formatNDJSON, decodeOptions{maxEvents: 10})
	require.Nil(t, rerr)
	require.Len(t, nd.problems, 1)
	assert.Equal(t, 1, nd.problems[0].Index)
	assert.Contains(t, nd.problems[0].Message, "invalid JSON")
	assert.Len(t, nd.events, 2, "the lines around a broken line still decode")
}

func TestDecodeEvent_AllFields(t *testing.T) {
	body := `{
		"id": "evt-0001",
		"action": "course.deleted",
		"level": "security",
		"occurred_at": "2024-05-06T07:08:09.123456789+02:00",
		"tenant_id": "t1", "actor_id": "a1", "user_id": "u1", "username": "ada",
		"entity_type": "course", "entity_id": "c42", "company_id": "co1", "employee_id": "e1",
		"service": "lms", "message": "deleted course 42",
		"old_values": {"title": "Go", "seats": 30, "ratio": 0.5, "tags": ["a", 1], "archived": false, "owner": null},
		"new_values": {},
		"metadata": {"request_id": "r-1", "retries": 2},
		"tags": ["gdpr", "admin"],
		"method": "DELETE", "path": "/courses/42", "status_code": 204, "duration_ms": 12.5,
		"trace_id": "0102030405060708090A0b0c0d0e0f10", "span_id": "0102030405060708"
	}`
	d := decodeJSON(t, body)
	require.Empty(t, d.problems)
	require.Len(t, d.events, 1)
	ev := d.events[0]

	assert.Equal(t, "evt-0001", ev.id)
	assert.Equal(t, "course.deleted", ev.action)
	assert.Equal(t, record.LevelSecurity, ev.level)
	assert.Equal(t, time.Date(2024, 5, 6, 5, 8, 9, 123456789, time.UTC), ev.occurredAt)
	assert.Equal(t, []string{"t1", "a1", "u1", "ada", "course", "c42", "co1", "e1", "lms", "deleted course 42"},
		[]string{ev.tenantID, ev.actorID, ev.userID, ev.username, ev.entityType, ev.entityID, ev.companyID, ev.employeeID, ev.service, ev.message})
	assert.Equal(t, map[string]any{"title": "Go", "seats": int64(30), "ratio": 0.5, "tags": []any{"a", int64(1)}, "archived": false, "owner": nil}, ev.oldValues)
	assert.Equal(t, map[string]any{}, ev.newValues, "an explicit empty object is kept: the sender says there were no values")
	assert.Equal(t, map[string]any{"request_id": "r-1", "retries": int64(2)}, ev.metadata)
	assert.Equal(t, []string{"gdpr", "admin"}, ev.tags)
	assert.Equal(t, "DELETE", ev.method)
	assert.Equal(t, "/courses/42", ev.path)
	assert.Equal(t, int64(204), ev.statusCode)
	assert.True(t, ev.hasDuration)
	assert.InDelta(t, 12.5, ev.durationMS, 0)
	assert.Equal(t, pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, ev.traceID, "hex is case-insensitive")
	assert.Equal(t, pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, ev.spanID)
}

func TestDecodeEvent_DefaultsAndNulls(t *testing.T) {
	d := decodeJSON(t, `{"action":"a","level":null,"user_id":null,"old_values":null,"metadata":null,"tags":null,"trace_id":null,"occurred_at":null,"id":null}`)
	require.Empty(t, d.problems)
	ev := d.events[0]
	assert.Equal(t, record.LevelInfo, ev.level, "level defaults to info")
	assert.True(t, ev.occurredAt.IsZero(), "occurred_at defaults to arrival, filled in later")
	assert.Empty(t, ev.id)
	assert.Empty(t, ev.userID)
	assert.Nil(t, ev.oldValues)
	assert.Nil(t, ev.metadata)
	assert.Nil(t, ev.tags)
	assert.True(t, ev.traceID.IsEmpty())
}

func TestDecodeEvent_OccurredAt(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    time.Time
		wantErr string
	}{
		{name: "an RFC 3339 string in UTC is read", value: `"2024-01-02T03:04:05Z"`, want: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
		{name: "an RFC 3339 offset is converted to UTC", value: `"2024-01-02T03:04:05-01:30"`, want: time.Date(2024, 1, 2, 4, 34, 5, 0, time.UTC)},
		{name: "integer Unix milliseconds are read", value: `1704164645123`, want: time.Date(2024, 1, 2, 3, 4, 5, 123e6, time.UTC)},
		{name: "fractional Unix milliseconds keep microseconds", value: `1704164645123.5`, want: time.Date(2024, 1, 2, 3, 4, 5, 123500000, time.UTC)},
		{name: "exponent notation is a number too", value: `1.704164645e12`, want: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
		{name: "a date without time is refused", value: `"2024-01-02"`, wantErr: "expected an RFC 3339 time string or Unix milliseconds"},
		{name: "a boolean is refused", value: `true`, wantErr: "got a boolean"},
		{name: "a negative number is refused", value: `-5`, wantErr: "out of range"},
		{name: "the epoch itself is refused, OpenTelemetry reads zero as unset", value: `0`, wantErr: "out of range"},
		{name: "a time beyond 2262 is refused", value: `"2263-01-01T00:00:00Z"`, wantErr: "out of range"},
		{name: "milliseconds beyond 2262 are refused", value: `9300000000000000`, wantErr: "out of range"},
		{name: "a huge float is refused", value: `1e400`, wantErr: "out of range"},
		{name: "a time before 1970 is refused", value: `"1969-12-31T23:59:59Z"`, wantErr: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, problems := decodeEvent([]byte(`{"action":"a","occurred_at":`+tt.value+`}`), 0)
			if tt.wantErr != "" {
				require.Len(t, problems, 1)
				assert.Equal(t, "occurred_at", problems[0].Field)
				assert.Contains(t, problems[0].Message, tt.wantErr)
				return
			}
			require.Empty(t, problems)
			assert.True(t, tt.want.Equal(ev.occurredAt), "got %s", ev.occurredAt)
			assert.Equal(t, time.UTC, ev.occurredAt.Location())
		})
	}
}

func TestDecodeEvent_FieldProblems(t *testing.T) {
	deep := `{"a":` + strings.Repeat(`{"a":`, maxValueDepth) + `1` + strings.Repeat(`}`, maxValueDepth+1)
	manyKeys := make([]string, maxMetadataKeys+1)
	for i := range manyKeys {
		manyKeys[i] = fmt.Sprintf(`"k%d":1`, i)
	}
	tests := []struct {
		name    string
		fields  string // inserted after "action":"a" unless it sets action itself
		field   string
		message string
	}{
		{name: "a missing action is required", fields: `"user_id":"u"`, field: "action", message: "required"},
		{name: "a null action is required", fields: `"action":null`, field: "action", message: "required"},
		{name: "a numeric action is refused", fields: `"action":5`, field: "action", message: "expected a string, got a number"},
		{name: "a blank action is refused", fields: `"action":"  "`, field: "action", message: "must not be blank"},
		{name: "an action with surrounding spaces is refused", fields: `"action":" a.b"`, field: "action", message: "must not begin or end with whitespace"},
		{name: "an action with a control character is refused", fields: `"action":"a\u0000b"`, field: "action", message: "control characters"},
		{name: "an action of 257 characters is refused", fields: `"action":"` + strings.Repeat("é", 257) + `"`, field: "action", message: "longer than 256 characters (257)"},
		{name: "an unknown field is named", fields: `"action":"a","user":"u"`, field: "user", message: "unknown field"},
		{name: "an unknown level is refused", fields: `"action":"a","level":"critical"`, field: "level", message: "expected one of debug, info, warn, error, security"},
		{name: "an upper-case level is refused", fields: `"action":"a","level":"INFO"`, field: "level", message: "expected one of"},
		{name: "a short trace id is refused", fields: `"action":"a","trace_id":"0102"`, field: "trace_id", message: "expected 32 hex characters"},
		{name: "a non-hex trace id is refused", fields: `"action":"a","trace_id":"zz02030405060708090a0b0c0d0e0f10"`, field: "trace_id", message: "expected 32 hex characters"},
		{name: "an all-zero trace id is refused", fields: `"action":"a","trace_id":"00000000000000000000000000000000"`, field: "trace_id", message: "must not be all zeros"},
		{name: "a long span id is refused", fields: `"action":"a","trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"010203040506070809"`, field: "span_id", message: "expected 16 hex characters"},
		{name: "a span id without trace id is refused", fields: `"action":"a","span_id":"0102030405060708"`, field: "span_id", message: "requires trace_id"},
		{name: "old_values as a string is refused", fields: `"action":"a","old_values":"{}"`, field: "old_values", message: "expected an object, got a string"},
		{name: "new_values as an array is refused", fields: `"action":"a","new_values":[]`, field: "new_values", message: "expected an object, got an array"},
		{name: "a too deeply nested value is refused", fields: `"action":"a","new_values":` + deep, field: "new_values", message: "nested deeper than 16 levels"},
		{name: "a number beyond float64 is refused", fields: `"action":"a","new_values":{"n":1e999}`, field: "new_values", message: "out of range"},
		{name: "metadata with too many keys is refused", fields: `"action":"a","metadata":{` + strings.Join(manyKeys, ",") + `}`, field: "metadata", message: "more than 128 keys"},
		{name: "metadata with an empty key is refused", fields: `"action":"a","metadata":{"":1}`, field: "metadata", message: "keys must not be empty"},
		{name: "tags as a string are refused", fields: `"action":"a","tags":"x"`, field: "tags", message: "expected an array of strings, got a string"},
		{name: "a numeric tag is refused", fields: `"action":"a","tags":["x",1]`, field: "tags", message: "tag 1: expected a string, got a number"},
		{name: "a null tag is refused", fields: `"action":"a","tags":[null]`, field: "tags", message: "tag 0: expected a string, got null"},
		{name: "a status code out of range is refused", fields: `"action":"a","status_code":700`, field: "status_code", message: "from 100 to 599"},
		{name: "a fractional status code is refused", fields: `"action":"a","status_code":200.5`, field: "status_code", message: "from 100 to 599"},
		{name: "a negative duration is refused", fields: `"action":"a","duration_ms":-1`, field: "duration_ms", message: "non-negative"},
		{name: "a duration as string is refused", fields: `"action":"a","duration_ms":"5"`, field: "duration_ms", message: "non-negative"},
		{name: "an empty id is refused", fields: `"action":"a","id":""`, field: "id", message: "must not be empty"},
		{name: "an id with a space is refused", fields: `"action":"a","id":"a b"`, field: "id", message: "printable ASCII without spaces"},
		{name: "an id of 129 characters is refused", fields: `"action":"a","id":"` + strings.Repeat("x", 129) + `"`, field: "id", message: "longer than 128 characters"},
		{name: "a user id of 257 characters is refused", fields: `"action":"a","user_id":"` + strings.Repeat("x", 257) + `"`, field: "user_id", message: "longer than 256 characters"},
		{name: "a numeric tenant id is refused", fields: `"action":"a","tenant_id":7`, field: "tenant_id", message: "expected a string, got a number"},
		{name: "a tenant id with a NUL is refused", fields: `"action":"a","tenant_id":"acme\u0000x"`, field: "tenant_id", message: "control character U+0000"},
		{name: "a tenant id of 129 characters is refused", fields: `"action":"a","tenant_id":"` + strings.Repeat("t", 129) + `"`, field: "tenant_id", message: "longer than 128 characters"},
		{name: "a tenant id with a trailing space is refused", fields: `"action":"a","tenant_id":"acme "`, field: "tenant_id", message: "white space"},
		{name: "a message beyond 64Ki characters is refused", fields: `"action":"a","message":"` + strings.Repeat("m", maxMessageChars+1) + `"`, field: "message", message: "longer than 65536 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, problems := decodeEvent([]byte(`{`+tt.fields+`}`), 3)
			require.Len(t, problems, 1, "problems: %+v", problems)
			assert.Equal(t, problem{Index: 3, Field: tt.field, Message: problems[0].Message}, problems[0])
			assert.Contains(t, problems[0].Message, tt.message)
		})
	}
}

func TestDecodeEvent_ReportsEveryProblemOfAnEventSortedByField(t *testing.T) {
	_, problems := decodeEvent([]byte(`{"user":"u","trace_id":"xyz","level":"loud"}`), 0)
	fields := make([]string, 0, len(problems))
	for _, p := range problems {
		fields = append(fields, p.Field)
	}
	assert.Equal(t, []string{"level", "trace_id", "user", "action"}, fields, "field problems in name order, then the missing action")
}

func TestDecodeRequest_IdempotencyKey(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		key        string
		wantID     string
		wantStatus int
		wantMsg    string
		wantField  string
	}{
		{name: "the header becomes the id of a single event", body: `{"action":"a"}`, key: "retry-key-1", wantID: "retry-key-1"},
		{name: "the header applies to a one-element array", body: `[{"action":"a"}]`, key: "k1", wantID: "k1"},
		{name: "an id in the body equal to the header is fine", body: `{"action":"a","id":"k1"}`, key: "k1", wantID: "k1"},
		{name: "the id field is used without a header", body: `{"action":"a","id":"body-key"}`, wantID: "body-key"},
		{name: "an id in the body that differs from the header is refused", body: `{"action":"a","id":"k2"}`, key: "k1", wantField: "id", wantMsg: "differs from the Idempotency-Key header"},
		{name: "the header on a batch is refused", body: `[{"action":"a"},{"action":"b"}]`, key: "k1", wantStatus: 400, wantMsg: "applies to a body holding one event, this one holds 2"},
		{name: "a header with a space is refused", body: `{"action":"a"}`, key: "k 1", wantStatus: 400, wantMsg: "Idempotency-Key header: must be printable ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, rerr := decodeRequest([]byte(tt.body), formatJSON, decodeOptions{maxEvents: 10, idempotencyKey: tt.key})
			if tt.wantStatus != 0 {
				require.NotNil(t, rerr)
				assert.Equal(t, tt.wantStatus, rerr.status)
				assert.Equal(t, codeInvalidRequest, rerr.code)
				assert.Contains(t, rerr.message, tt.wantMsg)
				return
			}
			require.Nil(t, rerr)
			if tt.wantField != "" {
				require.Len(t, d.problems, 1)
				assert.Equal(t, tt.wantField, d.problems[0].Field)
				assert.Contains(t, d.problems[0].Message, tt.wantMsg)
				assert.Empty(t, d.events)
				return
			}
			require.Empty(t, d.problems)
			require.Len(t, d.events, 1)
			assert.Equal(t, tt.wantID, d.events[0].id)
		})
	}
}

func TestDecodeRequest_DuplicateIDsInOneRequestAreProblems(t *testing.T) {
	d := decodeJSON(t, `[{"action":"a","id":"x"},{"action":"b","id":"y"},{"action":"c","id":"x"}]`)
	assert.Equal(t, []problem{{Index: 2, Field: "id", Message: "duplicates the id of event 0 in this request"}}, d.problems)
	assert.Len(t, d.events, 2)
}

func TestDecodeRequest_ProblemsAreInIndexOrder(t *testing.T) {
	d := decodeJSON(t, `[{"action":"ok"},{"zz":1,"aa":2},{"action":"ok2"},{}]`)
	var indexes []int
	for _, p := range d.problems {
		indexes = append(indexes, p.Index)
	}
	assert.Equal(t, []int{1, 1, 1, 3}, indexes)
	assert.Equal(t, 2, d.rejected())
}

// TestReadmeSchemaListsExactlyTheDecodedFields keeps the JSON Schema in README.md and the strict
// decoder from drifting apart.
func TestReadmeSchemaListsExactlyTheDecodedFields(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	start := strings.Index(string(readme), "```json\n")
	require.GreaterOrEqual(t, start, 0, "README.md holds the schema as the first json block")
	rest := string(readme)[start+len("```json\n"):]
	end := strings.Index(rest, "```")
	require.GreaterOrEqual(t, end, 0)

	var schema struct {
		AdditionalProperties bool                       `json:"additionalProperties"`
		Required             []string                   `json:"required"`
		Properties           map[string]json.RawMessage `json:"properties"`
	}
	require.NoError(t, json.Unmarshal([]byte(rest[:end]), &schema))
	assert.False(t, schema.AdditionalProperties, "the schema is strict like the decoder")
	assert.Equal(t, []string{"action"}, schema.Required)
	documented := slices.Sorted(maps.Keys(schema.Properties))
	decoded := slices.Sorted(maps.Keys(eventFields))
	assert.Equal(t, decoded, documented)
}

func TestDecodeEvent_StringsAreUnescapedAndValidUTF8(t *testing.T) {
	ev, problems := decodeEvent([]byte("{\"action\":\"a\",\"message\":\"quote \\\" tab \\t \\u00e9 raw \xff end\",\"user_id\":\"plain-ü\",\"username\":\"x\xffy\"}"), 0)
	require.Empty(t, problems)
	assert.Equal(t, "quote \" tab \t é raw \uFFFD end", ev.message, "escapes are decoded and invalid UTF-8 is replaced, as protobuf strings require")
	assert.Equal(t, "plain-ü", ev.userID)
	assert.Equal(t, "x\uFFFDy", ev.username, "invalid UTF-8 without escapes is replaced too")
}
