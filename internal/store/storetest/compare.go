package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// RecordDiff describes how got differs from want, or returns "" when a store kept want
// faithfully. It is exact except where a store cannot be:
//
//   - Timestamps must be the same instant to the nanosecond and come back in UTC, whatever
//     zone they were written in.
//   - Tags, Attributes and Resource: nil and empty are the same.
//   - Attributes and Resource are compared as JSON values, which is what stores keep: a number
//     must keep its value (an int64 beyond 2^53 included, so rounding through float64 fails),
//     but not its Go type, since JSON cannot say whether 2 was an int64 or a float64 2.0.
//     []byte values come back as base64 strings for the same reason.
//
// want.TenantID must already be the tenant the record was stored under.
func RecordDiff(want, got record.Record) string {
	var diffs []string
	add := func(field string, w, g any) {
		diffs = append(diffs, fmt.Sprintf("%s: want %#v, got %#v", field, w, g))
	}
	timeDiff := func(field string, w, g time.Time) {
		switch {
		case !w.Equal(g):
			add(field, w.Format(time.RFC3339Nano), g.Format(time.RFC3339Nano))
		case !g.IsZero() && g.Location() != time.UTC:
			add(field+" location", "UTC", g.Location().String())
		}
	}
	timeDiff("Timestamp", want.Timestamp, got.Timestamp)
	timeDiff("ObservedTimestamp", want.ObservedTimestamp, got.ObservedTimestamp)

	if !equalStrings(want.Tags, got.Tags) {
		add("Tags", want.Tags, got.Tags)
	}
	if w, g := canonicalJSON(want.Attributes), canonicalJSON(got.Attributes); w != g {
		add("Attributes", w, g)
	}
	if w, g := canonicalJSON(want.Resource), canonicalJSON(got.Resource); w != g {
		add("Resource", w, g)
	}

	// Every other field must be equal as it is.
	w, g := want, got
	for _, r := range []*record.Record{&w, &g} {
		r.Timestamp, r.ObservedTimestamp = time.Time{}, time.Time{}
		r.Tags, r.Attributes, r.Resource = nil, nil, nil
	}
	wv, gv := reflect.ValueOf(w), reflect.ValueOf(g)
	for i := 0; i < wv.NumField(); i++ {
		if !reflect.DeepEqual(wv.Field(i).Interface(), gv.Field(i).Interface()) {
			add(wv.Type().Field(i).Name, wv.Field(i).Interface(), gv.Field(i).Interface())
		}
	}
	return strings.Join(diffs, "; ")
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// canonicalJSON is m as JSON with sorted keys (encoding/json sorts map keys), "{}" for nil.
func canonicalJSON(m map[string]any) string {
	if len(m) == 0 {
		return "{}"
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Sprintf("unencodable: %v", err)
	}
	return string(b)
}
