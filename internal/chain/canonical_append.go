package chain

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/otelcol-audit/otelcol-audit/internal/jsonfloat"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// appendCanonical appends Canonical(r) to buf, written field by field instead of through
// encoding/json's reflection, which with the key sorting of every map was most of the chain's
// cost on a store's insert. ok is false for a value it does not write itself (bytes, a
// json.Number, a NaN or infinite attribute, a key that is not UTF-8, any other type), and
// Canonical then takes encoding/json's path; tests hold both byte for byte equal.
func appendCanonical(buf []byte, r *record.Record) ([]byte, bool) {
	var ok bool
	buf = appendField(buf, '{', "actor_id", r.ActorID)
	buf = append(buf, `,"attributes":`...)
	if buf, ok = appendObject(buf, r.Attributes); !ok {
		return buf, false
	}
	buf = appendField(buf, ',', "company_id", r.CompanyID)
	duration := 0.0 // as canonicalJSON: NaN, infinities and -0 are 0
	if r.DurationMS != 0 && !math.IsNaN(r.DurationMS) && !math.IsInf(r.DurationMS, 0) {
		duration = r.DurationMS
	}
	buf = jsonfloat.Append(append(buf, `,"duration_ms":`...), duration)
	buf = appendField(buf, ',', "employee_id", r.EmployeeID)
	buf = appendField(buf, ',', "entity_id", r.EntityID)
	buf = appendField(buf, ',', "entity_type", r.EntityType)
	buf = appendField(buf, ',', "event", r.Event)
	buf = appendField(buf, ',', "geo_city", r.GeoCity)
	buf = appendField(buf, ',', "geo_country", r.GeoCountry)
	buf = appendField(buf, ',', "id", r.ID)
	buf = appendField(buf, ',', "ip_address", r.IPAddress)
	buf = appendField(buf, ',', "level", r.Level.String())
	buf = appendField(buf, ',', "message", r.Message)
	buf = appendField(buf, ',', "method", r.Method)
	buf = strconv.AppendInt(append(buf, `,"observed_timestamp":`...), unixNanos(r.ObservedTimestamp), 10)
	buf = appendField(buf, ',', "path", r.Path)
	buf = append(buf, `,"resource":`...)
	if buf, ok = appendObject(buf, r.Resource); !ok {
		return buf, false
	}
	buf = appendField(buf, ',', "scope", r.Scope)
	buf = appendField(buf, ',', "service_name", r.ServiceName)
	buf = strconv.AppendInt(append(buf, `,"severity_number":`...), int64(r.SeverityNumber), 10)
	buf = appendField(buf, ',', "severity_text", r.SeverityText)
	buf = appendField(buf, ',', "span_id", r.SpanID)
	buf = strconv.AppendInt(append(buf, `,"status_code":`...), int64(r.StatusCode), 10)
	buf = append(buf, `,"tags":[`...)
	for i, t := range r.Tags {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, t)
	}
	buf = append(buf, ']')
	buf = appendField(buf, ',', "tenant_id", r.TenantID)
	buf = strconv.AppendInt(append(buf, `,"timestamp":`...), unixNanos(r.Timestamp), 10)
	buf = appendField(buf, ',', "trace_id", r.TraceID)
	buf = appendField(buf, ',', "user_agent", r.UserAgent)
	buf = appendField(buf, ',', "user_id", r.UserID)
	buf = appendField(buf, ',', "username", r.Username)
	return append(buf, '}'), true
}

// appendField appends sep, the quoted name (plain ASCII) and the string value.
func appendField(buf []byte, sep byte, name, value string) []byte {
	buf = append(append(append(buf, sep, '"'), name...), '"', ':')
	return appendString(buf, value)
}

// appendObject appends m as canonicalValue makes it: keys sorted by their bytes, as
// encoding/json sorts them, "{}" for nil.
func appendObject(buf []byte, m map[string]any) ([]byte, bool) {
	if len(m) == 0 {
		return append(buf, '{', '}'), true
	}
	var small [64]string
	keys := small[:0]
	for k := range m {
		if !utf8.ValidString(k) {
			// canonicalValue may merge two such keys into one; leave that to it.
			return buf, false
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf = append(buf, '{')
	var ok bool
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(appendString(buf, k), ':')
		if buf, ok = appendValue(buf, m[k]); !ok {
			return buf, false
		}
	}
	return append(buf, '}'), true
}

// appendValue appends canonicalValue(v) as encoding/json writes it.
func appendValue(buf []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case string:
		return appendString(buf, validUTF8(x)), true
	case int64:
		return strconv.AppendInt(buf, x, 10), true
	case int:
		return strconv.AppendInt(buf, int64(x), 10), true
	case int32:
		return strconv.AppendInt(buf, int64(x), 10), true
	case uint32:
		return strconv.AppendInt(buf, int64(x), 10), true
	case uint64:
		if x <= math.MaxInt64 {
			return strconv.AppendInt(buf, int64(x), 10), true
		}
		return appendNumber(buf, float64(x))
	case float32:
		return appendNumber(buf, float64(x))
	case float64:
		return appendNumber(buf, x)
	case bool:
		return strconv.AppendBool(buf, x), true
	case nil:
		return append(buf, "null"...), true
	case map[string]any:
		return appendObject(buf, x)
	case []any:
		buf = append(buf, '[')
		var ok bool
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, ok = appendValue(buf, e); !ok {
				return buf, false
			}
		}
		return append(buf, ']'), true
	}
	return buf, false
}

// appendNumber is canonicalValue's float64: an integral value in int64's range as that
// integer. NaN and infinities (strings after record.FiniteNumbers) are left to encoding/json.
func appendNumber(buf []byte, x float64) ([]byte, bool) {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return buf, false
	case x == math.Trunc(x) && x >= -(1<<63) && x < 1<<63:
		return strconv.AppendInt(buf, int64(x), 10), true
	}
	return jsonfloat.Append(buf, x), true
}

const hexDigits = "0123456789abcdef"

// appendString appends s quoted as encoding/json writes it with HTML escaping off: '"' and
// '\\' escaped, control bytes as \b \f \n \r \t or \u00xx, each byte that is not UTF-8 as
// \ufffd, and U+2028 and U+2029 as escapes.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf = append(append(buf, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			buf = append(append(buf, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(buf, s[start:]...), '"')
}
