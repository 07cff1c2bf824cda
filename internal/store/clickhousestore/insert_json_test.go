package clickhousestore

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
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

// checkAll reports the first invalid record by index; check and finish, run apart as Insert
// runs them, give the row encode gives; a value encodeJSON refuses is found by check.
func TestCheckAll_FindsTheFirstInvalidRecordAndFinishCompletesTheRow(t *testing.T) {
	gen := storetest.NewLoadgenLike(5, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	recs := gen.Batch(300, "acme")
	recs[7].Attributes["nested"] = map[string]any{"a": []any{"b", int64(1)}} // encoded by check
	recs[8].Resource = map[string]any{"nan": math.NaN()}                     // flat: by finish
	for _, d := range []dialect{{db: "db", table: "t"}, {db: "db", table: "t", mode: modeModern, rev: currentModernRev}} {
		checked := checkAll(d, "acme", recs)
		for i := range recs {
			require.NoError(t, checked[i].err)
			d.finish(&recs[i], &checked[i])
			want := encodedRecord{tenant: "acme"}
			require.NoError(t, d.encode(&recs[i], &want))
			require.Equal(t, want, checked[i], "record %d", i)
		}
	}

	recs[200].ID = ""
	recs[250].Attributes["bad"] = complex(1, 2)
	d := dialect{db: "db", table: "t"}
	checked := checkAll(d, "acme", recs)
	var errs []error
	for _, e := range checked {
		if e.err != nil {
			errs = append(errs, e.err)
		}
	}
	require.Len(t, errs, 2)
	require.ErrorContains(t, errs[0], "record 200")
	require.ErrorContains(t, errs[1], "record 250")
	require.ErrorContains(t, errs[1], "attributes")
	require.ErrorIs(t, errs[1], store.ErrInvalidRecord)
}
