package auditreceiver // import "github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver"

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// Limits of the event schema. They bound the cost of one event and catch senders that put a
// payload where an identifier belongs; max_request_body_size bounds the request as a whole.
// Lengths count Unicode characters, not bytes.
const (
	maxActionChars      = 256
	maxIDChars          = 128
	maxFieldChars       = 256 // identifiers: tenant_id, actor_id, user_id, username, entity_*, company_id, employee_id, service, each tag
	maxMessageChars     = 64 << 10
	maxMetadataKeys     = 128
	maxMetadataKeyChars = 128
	maxValueDepth       = 16 // nesting of objects and arrays inside old_values, new_values, metadata
	maxTags             = 64
	maxMethodChars      = 32
	maxPathChars        = 2048
	maxUserAgentChars   = 1024 // as much as the receiver keeps of a User-Agent header
)

// The time range an occurred_at may express. Zero is "unset" in OpenTelemetry, and pdata keeps
// nanoseconds since the epoch in 64 bits, which ends in April 2262.
var (
	minOccurredAt = time.Unix(0, 1).UTC()
	maxOccurredAt = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// event is one audit event that passed the schema. Empty strings and nil maps mean absent.
type event struct {
	index      int
	id         string
	action     string
	level      record.Level
	occurredAt time.Time // zero: the receiver's clock at arrival

	tenantID   string
	actorID    string
	userID     string
	username   string
	entityType string
	entityID   string
	companyID  string
	employeeID string
	service    string
	message    string

	oldValues map[string]any
	newValues map[string]any
	metadata  map[string]any
	tags      []string

	method      string
	path        string
	statusCode  int64 // 0: absent
	durationMS  float64
	hasDuration bool

	traceID pcommon.TraceID
	spanID  pcommon.SpanID

	// The end user's address and user agent, named by a sender that acts on the user's behalf
	// (a backend). decodeRequest refuses them from senders not in trusted_senders.
	ipAddress string
	userAgent string
}

// fieldDecoder parses one top-level field into ev and returns why it is invalid, or "".
type fieldDecoder func(ev *event, raw json.RawMessage) string

// eventFields is the strict schema: a top-level field not listed here rejects the event, so that
// a misspelt field ("user" for "user_id") is reported instead of silently lost.
var eventFields = map[string]fieldDecoder{
	"id":          decodeIDField,
	"action":      decodeAction,
	"level":       decodeLevel,
	"occurred_at": decodeOccurredAt,
	"tenant_id":   tenantString,
	"actor_id":    optionalString(maxFieldChars, func(ev *event, s string) { ev.actorID = s }),
	"user_id":     optionalString(maxFieldChars, func(ev *event, s string) { ev.userID = s }),
	"username":    optionalString(maxFieldChars, func(ev *event, s string) { ev.username = s }),
	"entity_type": optionalString(maxFieldChars, func(ev *event, s string) { ev.entityType = s }),
	"entity_id":   optionalString(maxFieldChars, func(ev *event, s string) { ev.entityID = s }),
	"company_id":  optionalString(maxFieldChars, func(ev *event, s string) { ev.companyID = s }),
	"employee_id": optionalString(maxFieldChars, func(ev *event, s string) { ev.employeeID = s }),
	"service":     optionalString(maxFieldChars, func(ev *event, s string) { ev.service = s }),
	"message":     optionalString(maxMessageChars, func(ev *event, s string) { ev.message = s }),
	"method":      optionalString(maxMethodChars, func(ev *event, s string) { ev.method = s }),
	"path":        optionalString(maxPathChars, func(ev *event, s string) { ev.path = s }),
	"old_values":  optionalObject(func(ev *event, m map[string]any) { ev.oldValues = m }),
	"new_values":  optionalObject(func(ev *event, m map[string]any) { ev.newValues = m }),
	"metadata":    decodeMetadata,
	"tags":        decodeTags,
	"trace_id":    decodeTraceID,
	"span_id":     decodeSpanID,
	"status_code": decodeStatusCode,
	"duration_ms": decodeDuration,
	"ip_address":  decodeIPAddress,
	"user_agent":  optionalString(maxUserAgentChars, func(ev *event, s string) { ev.userAgent = s }),
}

var levelsByName = map[string]record.Level{
	"debug":    record.LevelDebug,
	"info":     record.LevelInfo,
	"warn":     record.LevelWarn,
	"error":    record.LevelError,
	"security": record.LevelSecurity,
}

// decodeEvent validates one event against the schema. It reports every problem it finds, not
// only the first, so that a sender can fix an event in one round trip. Problems come sorted by
// field name.
func decodeEvent(raw json.RawMessage, index int) (event, []problem) {
	ev := event{index: index, level: record.LevelInfo}
	if len(raw) == 0 || raw[0] != '{' {
		if !json.Valid(raw) {
			return ev, []problem{{Index: index, Message: syntaxMessage(raw)}}
		}
		return ev, []problem{{Index: index, Message: "expected a JSON object, got " + jsonKind(raw)}}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return ev, []problem{{Index: index, Message: syntaxMessage(raw)}}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var problems []problem
	bad := make(map[string]bool)
	for _, k := range keys {
		decode, known := eventFields[k]
		if !known {
			problems = append(problems, problem{Index: index, Field: k, Message: "unknown field"})
			continue
		}
		if msg := decode(&ev, fields[k]); msg != "" {
			problems = append(problems, problem{Index: index, Field: k, Message: msg})
			bad[k] = true
		}
	}
	if ev.action == "" && !bad["action"] {
		problems = append(problems, problem{Index: index, Field: "action", Message: "required"})
	}
	if !ev.spanID.IsEmpty() && ev.traceID.IsEmpty() && !bad["trace_id"] {
		problems = append(problems, problem{Index: index, Field: "span_id", Message: "requires trace_id"})
	}
	return ev, problems
}

func decodeIDField(ev *event, raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	s, msg := decodeString(raw, maxIDChars)
	if msg != "" {
		return msg
	}
	if msg := checkID(s); msg != "" {
		return msg
	}
	ev.id = s
	return ""
}

// checkID accepts the idempotency keys clients generate (UUIDs, ULIDs, hashes, "order-42:retry")
// and refuses what would be awkward in a URL path or a log line: spaces, control and non-ASCII
// characters.
func checkID(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if len(s) > maxIDChars {
		return fmt.Sprintf("longer than %d characters", maxIDChars)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return "must be printable ASCII without spaces"
		}
	}
	return ""
}

func decodeAction(ev *event, raw json.RawMessage) string {
	if isNull(raw) {
		return "" // reported as required by decodeEvent
	}
	s, msg := decodeString(raw, maxActionChars)
	switch {
	case msg != "":
		return msg
	case strings.TrimSpace(s) == "":
		return "must not be blank"
	case strings.TrimSpace(s) != s:
		return "must not begin or end with whitespace"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "must not contain control characters"
	}
	ev.action = s
	return ""
}

func decodeLevel(ev *event, raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	s, msg := decodeString(raw, maxFieldChars)
	if msg != "" {
		return msg
	}
	lvl, ok := levelsByName[s]
	if !ok {
		return "expected one of debug, info, warn, error, security"
	}
	ev.level = lvl
	return ""
}

// decodeOccurredAt takes an RFC 3339 string or a number of Unix milliseconds (fractions allowed,
// for sub-millisecond precision).
func decodeOccurredAt(ev *event, raw json.RawMessage) string {
	const want = "expected an RFC 3339 time string or Unix milliseconds"
	if isNull(raw) {
		return ""
	}
	var t time.Time
	switch raw[0] {
	case '"':
		s, msg := decodeString(raw, 64)
		if msg != "" {
			return want
		}
		parsed, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return want + ": " + err.Error()
		}
		t = parsed
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		parsed, ok := parseUnixMillis(string(raw))
		if !ok {
			return rangeMessage()
		}
		t = parsed
	default:
		return want + ", got " + jsonKind(raw)
	}
	if t.Before(minOccurredAt) || !t.Before(maxOccurredAt) {
		return rangeMessage()
	}
	ev.occurredAt = t.UTC()
	return ""
}

// parseUnixMillis reads a JSON number of Unix milliseconds. A plain decimal is read exactly, down
// to the nanosecond (float64 would blur a current time by a few hundred nanoseconds); exponent
// notation goes through float64. Negative numbers are out of range.
func parseUnixMillis(s string) (time.Time, bool) {
	if strings.HasPrefix(s, "-") {
		return time.Time{}, false
	}
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f >= float64(maxOccurredAt.UnixMilli()) {
			return time.Time{}, false
		}
		return time.Unix(0, int64(math.Round(f*1e6))), true
	}
	whole, frac, _ := strings.Cut(s, ".")
	ms, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || ms >= maxOccurredAt.UnixMilli() {
		return time.Time{}, false
	}
	// Six fractional digits of a millisecond are nanoseconds; further digits are below pdata's
	// resolution and dropped.
	if len(frac) > 6 {
		frac = frac[:6]
	}
	var ns int64
	if frac != "" {
		ns, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil {
			return time.Time{}, false
		}
	}
	return time.UnixMilli(ms).Add(time.Duration(ns)), true
}

func rangeMessage() string {
	return fmt.Sprintf("out of range: must lie after %s and before %s",
		time.Unix(0, 0).UTC().Format(time.RFC3339), maxOccurredAt.Format(time.RFC3339))
}

func decodeTraceID(ev *event, raw json.RawMessage) string {
	var id pcommon.TraceID
	if msg := decodeHexID(raw, id[:]); msg != "" {
		return msg
	}
	ev.traceID = id
	return ""
}

func decodeSpanID(ev *event, raw json.RawMessage) string {
	var id pcommon.SpanID
	if msg := decodeHexID(raw, id[:]); msg != "" {
		return msg
	}
	ev.spanID = id
	return ""
}

// decodeHexID fills dst from a hex string of exactly 2*len(dst) characters. The W3C trace context
// forbids the all-zero id, which OpenTelemetry also reads as "no id".
func decodeHexID(raw json.RawMessage, dst []byte) string {
	if isNull(raw) {
		return ""
	}
	want := fmt.Sprintf("expected %d hex characters", 2*len(dst))
	s, msg := decodeString(raw, 2*len(dst))
	if msg != "" || len(s) != 2*len(dst) {
		return want
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return want
	}
	for _, b := range dst {
		if b != 0 {
			return ""
		}
	}
	return "must not be all zeros"
}

func decodeMetadata(ev *event, raw json.RawMessage) string {
	m, msg := decodeObject(raw)
	if msg != "" || m == nil {
		return msg
	}
	if len(m) > maxMetadataKeys {
		return fmt.Sprintf("more than %d keys (%d)", maxMetadataKeys, len(m))
	}
	for k := range m {
		if k == "" {
			return "keys must not be empty"
		}
		if utf8.RuneCountInString(k) > maxMetadataKeyChars {
			return fmt.Sprintf("keys must not be longer than %d characters", maxMetadataKeyChars)
		}
	}
	ev.metadata = m
	return ""
}

func decodeTags(ev *event, raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	if raw[0] != '[' {
		return "expected an array of strings, got " + jsonKind(raw)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return "expected an array of strings"
	}
	if len(items) > maxTags {
		return fmt.Sprintf("more than %d tags (%d)", maxTags, len(items))
	}
	tags := make([]string, 0, len(items))
	for i, item := range items {
		s, msg := decodeString(item, maxFieldChars)
		if msg == "" && isNull(item) {
			msg = "expected a string, got null"
		}
		if msg != "" {
			return fmt.Sprintf("tag %d: %s", i, msg)
		}
		tags = append(tags, s)
	}
	ev.tags = tags
	return ""
}

func decodeStatusCode(ev *event, raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n < 100 || n > 599 {
		return "expected an integer HTTP status code from 100 to 599"
	}
	ev.statusCode = n
	return ""
}

func decodeDuration(ev *event, raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f < 0 {
		return "expected a non-negative number of milliseconds"
	}
	ev.durationMS, ev.hasDuration = f, true
	return ""
}

// decodeIPAddress takes a bare IPv4 or IPv6 address (no port, no zone) and keeps its canonical
// form, IPv4-mapped addresses as IPv4, so that the query API's ip filter finds it however the
// sender spelt it.
func decodeIPAddress(ev *event, raw json.RawMessage) string {
	const want = "expected an IPv4 or IPv6 address without port"
	s, msg := decodeString(raw, 64)
	if msg != "" {
		if raw[0] == '"' {
			return want
		}
		return msg
	}
	if s == "" {
		return ""
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return want
	}
	ev.ipAddress = a.Unmap().String()
	return ""
}

func optionalString(maxChars int, set func(*event, string)) fieldDecoder {
	return func(ev *event, raw json.RawMessage) string {
		s, msg := decodeString(raw, maxChars)
		if msg == "" {
			set(ev, s)
		}
		return msg
	}
}

// tenantString decodes tenant_id, which must have the form every store accepts
// (record.ValidTenantID) when it is given.
func tenantString(ev *event, raw json.RawMessage) string {
	s, msg := decodeString(raw, record.MaxTenantIDBytes)
	if msg != "" {
		return msg
	}
	if s != "" {
		if err := record.ValidTenantID(s); err != nil {
			return err.Error()
		}
	}
	ev.tenantID = s
	return ""
}

func optionalObject(set func(*event, map[string]any)) fieldDecoder {
	return func(ev *event, raw json.RawMessage) string {
		m, msg := decodeObject(raw)
		if msg == "" && m != nil {
			set(ev, m)
		}
		return msg
	}
}

// decodeString returns the string in raw; null is the empty string.
func decodeString(raw json.RawMessage, maxChars int) (string, string) {
	if isNull(raw) {
		return "", ""
	}
	if raw[0] != '"' {
		return "", "expected a string, got " + jsonKind(raw)
	}
	var s string
	if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		// raw is a valid JSON string, so without escapes its inside is the value itself. Invalid
		// UTF-8 takes the slow path, which replaces it as pdata's protobuf encoding requires.
		s = string(inner)
	} else if err := json.Unmarshal(raw, &s); err != nil {
		return "", "invalid string: " + err.Error()
	}
	if n := utf8.RuneCountInString(s); n > maxChars {
		return "", fmt.Sprintf("longer than %d characters (%d)", maxChars, n)
	}
	return s, ""
}

// decodeObject returns the JSON object in raw as values pcommon.Map.FromRaw understands: integers
// that fit become int64, other numbers float64. null is a nil map.
func decodeObject(raw json.RawMessage) (map[string]any, string) {
	if isNull(raw) {
		return nil, ""
	}
	if raw[0] != '{' {
		return nil, "expected an object, got " + jsonKind(raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, "invalid object: " + err.Error()
	}
	if _, err := normalizeValue(m, 1); err != "" {
		return nil, err
	}
	return m, ""
}

// normalizeValue converts json.Number in place and enforces maxValueDepth; depth is the nesting
// level of v itself.
func normalizeValue(v any, depth int) (any, string) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, ""
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Sprintf("number %.40s is out of range", x.String())
		}
		return f, ""
	case map[string]any:
		if depth > maxValueDepth {
			return nil, fmt.Sprintf("nested deeper than %d levels", maxValueDepth)
		}
		for k, item := range x {
			n, msg := normalizeValue(item, depth+1)
			if msg != "" {
				return nil, msg
			}
			x[k] = n
		}
		return x, ""
	case []any:
		if depth > maxValueDepth {
			return nil, fmt.Sprintf("nested deeper than %d levels", maxValueDepth)
		}
		for i, item := range x {
			n, msg := normalizeValue(item, depth+1)
			if msg != "" {
				return nil, msg
			}
			x[i] = n
		}
		return x, ""
	}
	return v, ""
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// jsonKind names the JSON type of a valid value by its first byte.
func jsonKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
