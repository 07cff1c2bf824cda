package record

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Limits bound what one stored record may be. Every writer and reader of stored records
// (the WAL codec, the stores' JSON columns, the API) handles records within them; a record
// beyond them is refused at intake, before it is acknowledged, rather than stored in a form
// that a later read cannot decode (encoding/json refuses documents nested deeper than 10,000)
// or that crashes a recursive encoder.
type Limits struct {
	// MaxDepth is the deepest nesting of maps and slices in the body or an attribute value:
	// a plain value is depth 0, {"a": 1} is 1, {"a": [1]} is 2.
	MaxDepth int `mapstructure:"max_depth"`
	// MaxValues is the most values a record may hold in its attributes, body and resource,
	// counted at every depth (a map with 3 entries counts 4: itself and its entries).
	MaxValues int `mapstructure:"max_values"`
	// MaxKeyBytes is the longest attribute or map key.
	MaxKeyBytes int `mapstructure:"max_key_bytes"`
	// MaxValueBytes is the longest string or bytes value.
	MaxValueBytes int `mapstructure:"max_value_bytes"`
}

// DefaultLimits fit real audit records with a wide margin: the testbed's realistic records
// have 12 to 50 attributes of depth 0 or 1 and values under 200 bytes; a stack trace in a
// message or attribute stays under the value limit.
func DefaultLimits() Limits {
	return Limits{MaxDepth: 32, MaxValues: 10_000, MaxKeyBytes: 1024, MaxValueBytes: 1 << 20}
}

// Validate names the first limit that is not positive.
func (l Limits) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"max_depth", l.MaxDepth}, {"max_values", l.MaxValues}, {"max_key_bytes", l.MaxKeyBytes}, {"max_value_bytes", l.MaxValueBytes}} {
		if f.v <= 0 {
			return fmt.Errorf("%s: must be positive, got %d", f.name, f.v)
		}
	}
	return nil
}

// LimitError says which record of a request broke which limit, and where.
type LimitError struct {
	Record int    // index of the record in the request, counted over all resources and scopes
	Field  string // "body", "attributes[\"k\"]", "resource"...
	Limit  string // the configuration name of the limit
	Detail string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("record %d: %s: %s (limits.%s)", e.Record, e.Field, e.Detail, e.Limit)
}

// Check returns a *LimitError for the first record of ld beyond l, or nil. The walk never goes
// deeper than MaxDepth+1, whatever the input's nesting, so it is safe on hostile input.
func (l Limits) Check(ld plog.Logs) error {
	index := 0
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		var resource valueCounter
		if err := resource.walkMap(l, rl.Resource().Attributes(), 1); err != nil {
			err.Record, err.Field = index, "resource."+err.Field
			return err
		}
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				c := resource
				if err := c.walkMap(l, lr.Attributes(), 1); err != nil {
					err.Record = index
					return err
				}
				if err := c.walk(l, lr.Body(), 0, fieldName{isBody: true}); err != nil {
					err.Record = index
					return err
				}
				index++
			}
		}
	}
	return nil
}

// valueCounter counts the values of one record as they are walked.
type valueCounter struct{ n int }

func (c *valueCounter) walkMap(l Limits, m pcommon.Map, depth int) (err *LimitError) {
	c.n++
	m.Range(func(k string, v pcommon.Value) bool {
		field := fieldName{key: k}
		if len(k) > l.MaxKeyBytes {
			err = &LimitError{Field: field.String(), Limit: "max_key_bytes", Detail: fmt.Sprintf("key of %d bytes exceeds %d", len(k), l.MaxKeyBytes)}
			return false
		}
		err = c.walk(l, v, depth-1, field)
		return err == nil
	})
	return err
}

// walk checks v, found at field, whose nesting so far is depth.
// fieldName names where a value sits: an attribute's key, or the body. It becomes a string
// only for an error: formatting it for every value walked cost more than the walk itself.
type fieldName struct {
	key    string
	isBody bool
}

func (f fieldName) String() string {
	if f.isBody {
		return "body"
	}
	return fmt.Sprintf("attributes[%q]", truncateKey(f.key))
}

func (c *valueCounter) walk(l Limits, v pcommon.Value, depth int, field fieldName) *LimitError {
	c.n++
	if c.n > l.MaxValues {
		return &LimitError{Field: field.String(), Limit: "max_values", Detail: fmt.Sprintf("the record holds more than %d values", l.MaxValues)}
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if n := len(v.Str()); n > l.MaxValueBytes {
			return &LimitError{Field: field.String(), Limit: "max_value_bytes", Detail: fmt.Sprintf("value of %d bytes exceeds %d", n, l.MaxValueBytes)}
		}
	case pcommon.ValueTypeBytes:
		if n := v.Bytes().Len(); n > l.MaxValueBytes {
			return &LimitError{Field: field.String(), Limit: "max_value_bytes", Detail: fmt.Sprintf("value of %d bytes exceeds %d", n, l.MaxValueBytes)}
		}
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		if depth+1 > l.MaxDepth {
			return &LimitError{Field: field.String(), Limit: "max_depth", Detail: fmt.Sprintf("nested deeper than %d levels", l.MaxDepth)}
		}
		if v.Type() == pcommon.ValueTypeSlice {
			s := v.Slice()
			for i := 0; i < s.Len(); i++ {
				if err := c.walk(l, s.At(i), depth+1, field); err != nil {
					return err
				}
			}
			return nil
		}
		var err *LimitError
		v.Map().Range(func(k string, e pcommon.Value) bool {
			if len(k) > l.MaxKeyBytes {
				err = &LimitError{Field: field.String(), Limit: "max_key_bytes", Detail: fmt.Sprintf("key of %d bytes exceeds %d", len(k), l.MaxKeyBytes)}
				return false
			}
			err = c.walk(l, e, depth+1, field)
			return err == nil
		})
		return err
	}
	return nil
}

func truncateKey(k string) string {
	if len(k) <= 64 {
		return k
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(k[cut]) {
		cut--
	}
	return k[:cut] + "..."
}

// MaxTenantIDBytes is the longest tenant id.
const MaxTenantIDBytes = 128

// ValidTenantID returns nil for a tenant id every store, file name scheme and API can carry:
// 1 to MaxTenantIDBytes bytes of UTF-8, no control characters, no leading or trailing space.
// Otherwise it says what is wrong, without echoing the id (it may be huge or hold a NUL).
func ValidTenantID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("must not be empty")
	case len(id) > MaxTenantIDBytes:
		return fmt.Errorf("is %d bytes, at most %d are allowed", len(id), MaxTenantIDBytes)
	case !utf8.ValidString(id):
		return fmt.Errorf("is not valid UTF-8")
	case strings.TrimSpace(id) != id:
		return fmt.Errorf("must not start or end with white space")
	}
	for i, r := range id {
		if unicode.IsControl(r) {
			return fmt.Errorf("holds the control character %U at byte %d", r, i)
		}
	}
	return nil
}
