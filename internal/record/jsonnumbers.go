package record

import (
	"encoding/json"
	"strconv"
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
