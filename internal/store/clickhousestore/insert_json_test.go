package clickhousestore

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// flatJSON is a fast path of encodeJSON: whatever it accepts it must write exactly as
// record.CompactJSON does, since attributes_json and search_text are read and searched by it.
func TestFlatJSON_WritesWhatCompactJSONWrites(t *testing.T) {
	objects := []map[string]any{
		{"a": "b"},
		{"z": int64(-1), "a": int64(math.MaxInt64), "m": int64(math.MinInt64)},
		{"f0": 0.0, "f1": 1.5, "f2": -0.25, "f3": 1e-7, "f4": 1e21, "f5": 123456789.125, "f6": 1e20, "f7": 5e-324, "f8": -1e-10, "f9": math.MaxFloat64},
		{"t": true, "f": false, "n": nil},
		{"key with space": "value with <html> & 'quotes'", "": ""},
	}
	gen := storetest.NewLoadgenLike(11, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	for i := 0; i < 300; i++ {
		r := gen.Next()
		objects = append(objects, r.Attributes, r.Resource)
	}
	accepted := 0
	for _, m := range objects {
		want, err := record.CompactJSON(m)
		require.NoError(t, err)
		got, ok := flatJSON(m)
		if ok {
			accepted++
			require.Equal(t, want, got)
		}
		enc, err := encodeJSON(m)
		require.NoError(t, err)
		require.Equal(t, want, enc)
	}
	require.Equal(t, len(objects), accepted, "every flat ASCII object takes the fast path")

	// What it leaves to CompactJSON: escapes, non-ASCII, nesting, other types, NaN.
	for _, m := range []map[string]any{
		{"q": `say "hi"`}, {"b": `back\slash`}, {"nl": "a\nb"}, {"u": "café"}, {"k\"": "v"},
		{"nested": map[string]any{"a": "b"}}, {"list": []any{"a"}}, {"i": 3}, {"nan": math.NaN()},
	} {
		_, ok := flatJSON(m)
		require.False(t, ok, "%v", m)
		want, err := encodeJSON(m)
		require.NoError(t, err)
		require.NotEmpty(t, want)
	}
}

// Several encoders must give the rows one gives, and report the first invalid record by index.
func TestEncodeAll_WorkersGiveTheSameRowsAndTheFirstError(t *testing.T) {
	d := dialect{db: "db", table: "t"}
	gen := storetest.NewLoadgenLike(5, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	recs := gen.Batch(1200, "acme")
	one := encodeAll(d, "acme", recs, 1)
	two := encodeAll(d, "acme", recs, 2)
	require.Equal(t, one, two)

	recs[900].ID, recs[1100].ID = "", ""
	for _, workers := range []int{1, 2, 4} {
		out := encodeAll(d, "acme", recs, workers)
		var first error
		for _, e := range out {
			if e.err != nil {
				first = e.err
				break
			}
		}
		require.ErrorContains(t, first, "record 900")
	}
}
