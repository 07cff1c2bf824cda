package auditqueryextension

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Query parameter names. The set is closed: an unknown parameter is a 400, because a typo such
// as `user=alice` for `user_id=alice` would otherwise silently return every user's records.
const (
	paramTenant   = "tenant"
	paramLevel    = "level"
	paramMinLevel = "min_level"
	paramEvent    = "event"
	paramUserID   = "user_id"
	paramActorID  = "actor_id"
	paramEntityID = "entity_id"
	// The fields the replaced libraries filtered on, exact matches like the ones above.
	paramEntityType  = "entity_type"
	paramCompanyID   = "company_id"
	paramEmployeeID  = "employee_id"
	paramScope       = "scope"
	paramServiceName = "service_name"
	// paramTag may repeat: a record matches when its tags hold every value given.
	paramTag     = "tag"
	paramTraceID = "trace_id"
	paramIP      = "ip"
	paramStart   = "start"
	paramEnd     = "end"
	paramText    = "q"
	paramLimit   = "limit"
	paramCursor  = "cursor"
)

// filterParams are the parameters every filtered endpoint accepts (the log list today; the live
// stream and stats take the same filter).
var filterParams = []string{
	paramTenant, paramLevel, paramMinLevel, paramEvent, paramUserID, paramActorID, paramEntityID,
	paramEntityType, paramCompanyID, paramEmployeeID, paramScope, paramServiceName, paramTag,
	paramTraceID, paramIP, paramStart, paramEnd, paramText,
}

// maxTags bounds repeated tag parameters: each is one more condition on every row walked.
const maxTags = 16

// maxTextLen bounds q. Search text is tokenised into an index lookup; a page of text is a
// mistake or an attack, never a query.
const maxTextLen = 1024

// maxEchoLen bounds how much of a bad value an error message repeats back.
const maxEchoLen = 64

// params reads query parameters with the API's rules: each may be given once (level may repeat),
// and only names in allowed are accepted. The first problem is kept and reported.
type params struct {
	values url.Values
	err    *apiError
}

func newParams(q url.Values, allowed ...[]string) *params {
	p := &params{values: q}
	// Sorted so that a request with several unknown names always reports the same one.
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !containsIn(allowed, name) {
			p.fail(badParam(name, "unknown parameter"))
		}
	}
	return p
}

func (p *params) fail(e *apiError) {
	if p.err == nil {
		p.err = e
	}
}

// single returns the one value of name, trimmed; "" when absent.
func (p *params) single(name string) string {
	vs := p.values[name]
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return strings.TrimSpace(vs[0])
	}
	p.fail(badParam(name, "given %d times; give it once", len(vs)))
	return ""
}

// tenant reads the tenant parameter: empty when absent, else a tenant id of the form every
// store accepts (record.ValidTenantID).
func (p *params) tenant() string {
	t := p.single(paramTenant)
	if t == "" {
		return ""
	}
	if err := record.ValidTenantID(t); err != nil {
		p.fail(badParam(paramTenant, "%v", err))
		return ""
	}
	return t
}

// parseFilter reads the filter parameters. Tenant is returned as asked; the caller's principal
// decides the tenant the query really runs against.
func (p *params) parseFilter() store.Filter {
	f := store.Filter{
		TenantID: p.tenant(),
		Event:    p.single(paramEvent),
		UserID:   p.single(paramUserID),
		ActorID:  p.single(paramActorID),
		EntityID: p.single(paramEntityID),
		IP:       p.single(paramIP),
		Text:     p.single(paramText),

		EntityType:  p.single(paramEntityType),
		CompanyID:   p.single(paramCompanyID),
		EmployeeID:  p.single(paramEmployeeID),
		Scope:       p.single(paramScope),
		ServiceName: p.single(paramServiceName),
	}
	f.Tags = p.tags()
	f.Levels = p.levels()
	if s := p.single(paramMinLevel); s != "" {
		l, err := record.ParseLevel(s)
		if err != nil {
			p.fail(badParam(paramMinLevel, "%v", err))
		}
		f.MinLevel = l
	}
	if s := p.single(paramTraceID); s != "" {
		id, e := parseTraceID(paramTraceID, s)
		p.fail(e)
		f.TraceID = id
	}
	f.Start = p.time(paramStart)
	f.End = p.time(paramEnd)
	if !f.Start.IsZero() && !f.End.IsZero() && !f.End.After(f.Start) {
		p.fail(badParam(paramEnd, "must be after start (start is inclusive, end exclusive)"))
	}
	if len(f.Text) > maxTextLen {
		p.fail(badParam(paramText, "longer than %d bytes", maxTextLen))
	}
	return f
}

// tags reads tag=a&tag=b: every value must be among a record's tags. A value is one tag,
// exactly (a comma is part of it), without duplicates.
func (p *params) tags() []string {
	vs := p.values[paramTag]
	if len(vs) > maxTags {
		p.fail(badParam(paramTag, "given %d times; at most %d tags may be required", len(vs), maxTags))
		return nil
	}
	var out []string
	for _, v := range vs {
		v = strings.TrimSpace(v)
		if v == "" {
			p.fail(badParam(paramTag, "must not be empty"))
			continue
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// levels accepts level=info,warn as well as level=info&level=warn.
func (p *params) levels() []record.Level {
	var out []record.Level
	seen := map[record.Level]bool{}
	for _, v := range p.values[paramLevel] {
		for _, s := range strings.Split(v, ",") {
			if strings.TrimSpace(s) == "" {
				continue
			}
			l, err := record.ParseLevel(s)
			if err != nil {
				p.fail(badParam(paramLevel, "%v", err))
				continue
			}
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	return out
}

// time parses RFC 3339 (any fractional precision) or Unix milliseconds. A bare number is taken
// as milliseconds because that is what browsers' Date.now() gives.
func (p *params) time(name string) time.Time {
	s := p.single(name)
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	if isDigits(s) {
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.UnixMilli(ms).UTC()
		}
	}
	p.fail(badParam(name, "expected RFC 3339 or Unix milliseconds, got %s", quote(s)))
	return time.Time{}
}

// page reads limit and cursor. A limit above store.MaxLimit is refused rather than clamped: a
// client that asked for 5000 and silently got 1000 would believe it had everything.
func (p *params) page() store.Page {
	pg := store.Page{Limit: store.DefaultLimit, Cursor: p.single(paramCursor)}
	if s := p.single(paramLimit); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxLimit {
			p.fail(badParam(paramLimit, "expected an integer from 1 to %d, got %s", store.MaxLimit, quote(s)))
		} else {
			pg.Limit = n
		}
	}
	// Decoding here only checks the shape; the store still owns the cursor's meaning.
	if _, _, err := store.DecodeCursor(pg.Cursor); err != nil {
		p.fail(&apiError{Status: http.StatusBadRequest, Code: codeInvalidCursor, Message: paramCursor + ": " + err.Error()})
	}
	return pg
}

// parseTraceID accepts the 32 hex digits of a W3C trace id, in either case, and returns it in
// lower case as the store keeps it. The all-zero id is invalid by the W3C spec and no record
// carries it.
func parseTraceID(name, s string) (string, *apiError) {
	if len(s) != 32 || !isHex(s) {
		return "", badParam(name, "expected 32 hex characters, got %s", quote(s))
	}
	if strings.Trim(s, "0") == "" {
		return "", badParam(name, "the all-zero trace id is not a valid trace id")
	}
	return strings.ToLower(s), nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func containsIn(sets [][]string, name string) bool {
	for _, set := range sets {
		if slices.Contains(set, name) {
			return true
		}
	}
	return false
}

// quote repeats a caller's value in a message, cut short so a huge value cannot bloat the answer
// or the log.
func quote(s string) string {
	if len(s) > maxEchoLen {
		s = s[:maxEchoLen] + "..."
	}
	return strconv.Quote(s)
}
