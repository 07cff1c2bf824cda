// Package chain makes an audit trail tamper-evident: every committed record is linked onto its
// tenant's hash chain, and the chain's head is signed at checkpoints with an Ed25519 key that
// the database does not hold. Anyone with the public key can recompute the chain from the
// stored records and find the first record that was edited, deleted, inserted or moved.
//
// docs/TAMPER_EVIDENCE.md specifies the encodings byte for byte so that a third party can
// verify without this code.
package chain

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// canonicalRecord fixes the field order of the canonical encoding: its fields are in
// alphabetical order of their JSON names, and encoding/json writes struct fields in
// declaration order.
type canonicalRecord struct {
	ActorID           string         `json:"actor_id"`
	Attributes        map[string]any `json:"attributes"`
	CompanyID         string         `json:"company_id"`
	DurationMS        float64        `json:"duration_ms"`
	EmployeeID        string         `json:"employee_id"`
	EntityID          string         `json:"entity_id"`
	EntityType        string         `json:"entity_type"`
	Event             string         `json:"event"`
	GeoCity           string         `json:"geo_city"`
	GeoCountry        string         `json:"geo_country"`
	ID                string         `json:"id"`
	IPAddress         string         `json:"ip_address"`
	Level             string         `json:"level"`
	Message           string         `json:"message"`
	Method            string         `json:"method"`
	ObservedTimestamp int64          `json:"observed_timestamp"`
	Path              string         `json:"path"`
	Resource          map[string]any `json:"resource"`
	Scope             string         `json:"scope"`
	ServiceName       string         `json:"service_name"`
	SeverityNumber    int32          `json:"severity_number"`
	SeverityText      string         `json:"severity_text"`
	SpanID            string         `json:"span_id"`
	StatusCode        int            `json:"status_code"`
	Tags              []string       `json:"tags"`
	TenantID          string         `json:"tenant_id"`
	Timestamp         int64          `json:"timestamp"`
	TraceID           string         `json:"trace_id"`
	UserAgent         string         `json:"user_agent"`
	UserID            string         `json:"user_id"`
	Username          string         `json:"username"`
}

// Canonical returns the canonical encoding of r: one line of JSON whose bytes are the same
// for the record as the collector received it and as any store reads it back. It therefore
// normalises exactly what stores cannot keep (see canonicalValue); everything else is
// encoded as it is, so any change to a stored field changes the encoding.
func Canonical(r record.Record) []byte {
	if b, ok := appendCanonical(nil, &r); ok {
		return b
	}
	return canonicalJSON(r)
}

// canonicalJSON is Canonical through encoding/json: the reference appendCanonical is tested
// against, and the path for the values it leaves out.
func canonicalJSON(r record.Record) []byte {
	c := canonicalRecord{
		ActorID: r.ActorID, CompanyID: r.CompanyID, EmployeeID: r.EmployeeID,
		EntityID: r.EntityID, EntityType: r.EntityType, Event: r.Event,
		GeoCity: r.GeoCity, GeoCountry: r.GeoCountry, ID: r.ID, IPAddress: r.IPAddress,
		Level: r.Level.String(), Message: r.Message, Method: r.Method, Path: r.Path,
		Scope: r.Scope, ServiceName: r.ServiceName, SeverityNumber: r.SeverityNumber,
		SeverityText: r.SeverityText, SpanID: r.SpanID, StatusCode: r.StatusCode,
		TenantID: r.TenantID, TraceID: r.TraceID, UserAgent: r.UserAgent,
		UserID: r.UserID, Username: r.Username,
		Timestamp:         unixNanos(r.Timestamp),
		ObservedTimestamp: unixNanos(r.ObservedTimestamp),
		Tags:              r.Tags,
		Attributes:        canonicalMap(r.Attributes),
		Resource:          canonicalMap(r.Resource),
	}
	// JSON has no NaN or infinity, and stores keep such a duration as 0; SQLite keeps -0.0 as
	// 0 too (the comparison skips -0, which equals 0).
	if r.DurationMS != 0 && !math.IsNaN(r.DurationMS) && !math.IsInf(r.DurationMS, 0) {
		c.DurationMS = r.DurationMS
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// Every value is a string, a number, a bool, nil, or a map or slice of them after
	// canonicalValue, so encoding cannot fail.
	if err := enc.Encode(c); err != nil {
		panic("chain: canonical encoding: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// RecordHash is SHA-256 of the record's canonical encoding.
func RecordHash(r record.Record) Hash {
	bp := canonicalBuffers.Get().(*[]byte)
	defer canonicalBuffers.Put(bp)
	b, ok := appendCanonical((*bp)[:0], &r)
	if !ok {
		return sha256.Sum256(canonicalJSON(r))
	}
	*bp = b
	return sha256.Sum256(b)
}

// canonicalBuffers keeps RecordHash's encodings from being a garbage allocation each.
var canonicalBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// unixNanos is the time as Unix nanoseconds, 0 for the zero time. Stores refuse times outside
// the int64 nanosecond range, so no stored record overflows here.
func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func canonicalMap(m map[string]any) map[string]any {
	if len(m) == 0 {
		return map[string]any{}
	}
	return canonicalValue(m).(map[string]any)
}

// canonicalValue returns v as a store reads it back: stores keep attributes as JSON, and
// decode a JSON number as int64 when it is an integer that fits, else as float64
// (record.FromJSONNumbers). So a float64 with an integral value in int64's range becomes
// that int64 (2.0 and 2, -0.0 and 0, are the same number once stored), a NaN or infinity
// becomes its string form (record.FiniteNumbers), bytes their base64 text, every other
// integer type int64, and each byte of a string that is not UTF-8 a U+FFFD (as encoding/json
// writes it). A fuzz test holds this equal to a real JSON round trip.
func canonicalValue(v any) any {
	switch x := v.(type) {
	case float32:
		return canonicalValue(float64(x))
	case float64:
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			return record.FiniteNumbers(x)
		case x == math.Trunc(x) && x >= -(1<<63) && x < 1<<63:
			return int64(x)
		}
		return x
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return canonicalValue(float64(x))
	case json.Number:
		return canonicalValue(record.FromJSONNumbers(x))
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case string:
		return validUTF8(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[validUTF8(k)] = canonicalValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonicalValue(e)
		}
		return out
	}
	return v
}

// validUTF8 replaces each byte that is not part of valid UTF-8 with U+FFFD, one per byte, as
// encoding/json does when it writes the string.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // utf8.RuneError for an invalid byte, with size 1
		i += size
	}
	return b.String()
}
