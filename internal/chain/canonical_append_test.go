package chain

import (
	"crypto/sha256"
	"encoding/json"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// The hand-written encoder must be encoding/json's canonical encoding byte for byte: the
// layout is docs/TAMPER_EVIDENCE.md's, and every stored chain hashes it.
func TestCanonical_HandWrittenEncodingIsEncodingJSONs(t *testing.T) {
	oddKey := "q\"b\\s\b\f\n\r\t\x01\x1f\x7f <&> é \u2028\u2029 end"
	odd := oddKey + "\xff\xfe"
	full := record.Record{
		ID: "id-" + odd, TenantID: "acme", Timestamp: t0, ObservedTimestamp: t0.Add(time.Second),
		Level: record.LevelSecurity, Event: odd, Message: odd, ServiceName: "svc", Scope: "scope",
		TraceID: "t", SpanID: "s", SeverityText: "WARN", SeverityNumber: -13, StatusCode: 503,
		UserID: "u", Username: "n", CompanyID: "c", EmployeeID: "e", ActorID: "a", EntityID: "ei",
		EntityType: "et", IPAddress: "10.0.0.1", UserAgent: "ua", GeoCountry: "DE", GeoCity: "Köln",
		Method: "POST", Path: "/x", DurationMS: 1e-7, Tags: []string{odd, "", "b"},
		Attributes: map[string]any{
			"s": odd, oddKey: "k", "": "empty key", "i": int64(math.MinInt64), "int": 7, "i32": int32(-3),
			"u32": uint32(9), "u64": uint64(math.MaxUint64), "u64s": uint64(12), "f": 2.5, "fi": 2.0,
			"negzero": math.Copysign(0, -1), "big": 1e21, "tiny": 1.5e-7, "huge": 1e300, "f32": float32(0.1),
			"t": true, "n": nil, "nested": map[string]any{"z": []any{"x", 3.25, nil, map[string]any{}}},
			"nilmap": map[string]any(nil), "nillist": []any(nil), "list": []any{},
		},
		Resource: map[string]any{"service.name": "svc", "host": "h"},
	}
	cases := map[string]record.Record{
		"empty":          {},
		"sample":         sampleRecord(3),
		"full":           full,
		"exp durations":  {ID: "d", DurationMS: 1e21, Tags: []string{}},
		"small duration": {ID: "d", DurationMS: -2.5e-9},
		"nan duration":   {ID: "d", DurationMS: math.NaN()},
		"neg zero":       {ID: "d", DurationMS: math.Copysign(0, -1)},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			got, ok := appendCanonical(nil, &r)
			require.True(t, ok, "the hand-written encoder writes this record itself")
			assert.Equal(t, string(canonicalJSON(r)), string(got))
			assert.Equal(t, sha256Of(canonicalJSON(r)), RecordHash(r))
		})
	}
}

// What the hand-written encoder leaves out still encodes, through encoding/json.
func TestCanonical_ValuesLeftToEncodingJSONStillEncode(t *testing.T) {
	for name, v := range map[string]any{
		"bytes": []byte("x"), "number": json.Number("12"), "nan": math.NaN(), "inf": math.Inf(-1),
		"int8": int8(3), "struct": struct{ A int }{1},
	} {
		r := sampleRecord(1)
		r.Attributes = map[string]any{"v": v}
		_, ok := appendCanonical(nil, &r)
		assert.False(t, ok, name)
		assert.Equal(t, string(canonicalJSON(r)), string(Canonical(r)), name)
		assert.Equal(t, sha256Of(canonicalJSON(r)), RecordHash(r), name)
	}
	r := sampleRecord(1)
	r.Attributes = map[string]any{"\xff": 1}
	_, ok := appendCanonical(nil, &r)
	assert.False(t, ok, "a key that is not UTF-8 is left to canonicalValue")
}

func FuzzCanonical_HandWrittenEncodingIsEncodingJSONs(f *testing.F) {
	f.Add("x", "k", 2.0, int64(3), -1.5e-7, true)
	f.Add("\u2028<\x00\xff\"", "\\", math.Copysign(0, -1), int64(math.MaxInt64), 1e21, false)
	f.Fuzz(func(t *testing.T, s, k string, x float64, n int64, d float64, b bool) {
		r := sampleRecord(2)
		r.Message, r.Tags, r.DurationMS = s, []string{s, k}, d
		r.Attributes = map[string]any{k: s, "x": x, "n": n, "b": b, "l": []any{s, x, map[string]any{k: n}}}
		got, ok := appendCanonical(nil, &r)
		if !ok {
			assert.Equal(t, string(canonicalJSON(r)), string(Canonical(r)))
			return
		}
		require.Equal(t, string(canonicalJSON(r)), string(got))
	})
}

func sha256Of(b []byte) Hash { return sha256.Sum256(b) }

// BenchmarkRecordHash compares the hand-written encoding with encoding/json's on an audit
// record of 20 flat attributes:
//
//	go test -run '^$' -bench RecordHash ./internal/chain/
func BenchmarkRecordHash(b *testing.B) {
	r := sampleRecord(1)
	r.Attributes = map[string]any{}
	for i := range 20 {
		r.Attributes["attr."+strconv.Itoa(i)] = "value " + strconv.Itoa(i*7919)
	}
	r.Attributes["count"], r.Attributes["ratio"], r.Attributes["ok"] = int64(42), 0.25, true
	b.Run("hand-written", func(b *testing.B) {
		for b.Loop() {
			_ = RecordHash(r)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			_ = sha256.Sum256(canonicalJSON(r))
		}
	})
}
