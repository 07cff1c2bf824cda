package record

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// FromJSONNumbers turns the json.Number values of a document decoded with UseNumber into the Go
// types the OpenTelemetry mapping produces (int64 for integers that fit, else float64), in place
// for maps and slices. Every decoder of stored records uses it, so a record reads back with the
// same value types whether it came from the WAL, the DLQ or a store, and a large int64 is never
// rounded through float64.
func FromJSONNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n
		}
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return f
		}
		return string(x)
	case map[string]any:
		for k, e := range x {
			x[k] = FromJSONNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = FromJSONNumbers(e)
		}
	}
	return v
}

// FiniteNumbers returns a copy of v in which every non-finite float (NaN, ±Inf), which JSON
// cannot hold, is replaced by its string form. Writers of stored records use it as the fallback
// when encoding fails, so one odd attribute never fails a batch forever.
func FiniteNumbers(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
	case float32:
		return FiniteNumbers(float64(x))
	case map[string]any:
		if x == nil {
			return x
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = FiniteNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = FiniteNumbers(e)
		}
		return out
	}
	return v
}

// CompactJSON encodes v as one line of JSON without HTML escaping, the form the stores keep.
func CompactJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// DecodeObject decodes a JSON object (a stored attributes or resource column) with exact
// numbers; "" and "{}" are an empty map.
func DecodeObject(s string) (map[string]any, error) {
	out := map[string]any{}
	if s == "" || s == "{}" {
		return out, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	for k, v := range out {
		out[k] = FromJSONNumbers(v)
	}
	return out, nil
}

// DecodeRecord decodes one JSON record (a DLQ line) with exact numbers in its attributes and
// resource.
func DecodeRecord(b []byte, r *Record) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(r); err != nil {
		return err
	}
	exactNumbers(r)
	return nil
}

// DecodeRecords decodes a JSON array of records (a WAL entry) with exact numbers in each one's
// attributes and resource.
func DecodeRecords(b []byte) ([]Record, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var recs []Record
	if err := dec.Decode(&recs); err != nil {
		return nil, err
	}
	for i := range recs {
		exactNumbers(&recs[i])
	}
	return recs, nil
}

// exactNumbers turns the json.Numbers UseNumber left in r's maps into int64 or float64.
func exactNumbers(r *Record) {
	for k, v := range r.Attributes {
		r.Attributes[k] = FromJSONNumbers(v)
	}
	for k, v := range r.Resource {
		r.Resource[k] = FromJSONNumbers(v)
	}
}
