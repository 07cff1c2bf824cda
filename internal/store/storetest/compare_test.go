package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

func TestRecordDiff_AcceptsOnlyWhatJSONCannotKeep(t *testing.T) {
	want := FullRecord("id-1", "acme", base)
	tests := []struct {
		name    string
		mutate  func(*record.Record)
		differs string // "" when the copy must count as equal
	}{
		{"an identical copy is equal", func(*record.Record) {}, ""},
		{"a whole double read back as an integer is equal", func(r *record.Record) {
			r.Attributes["share.ratio"] = 0.25
			r.Attributes["share.count"] = float64(3)
		}, ""},
		{"lost tags differ", func(r *record.Record) { r.Tags = nil }, "Tags"},
		{"an int64 rounded through float64 differs", func(r *record.Record) {
			r.Attributes["share.big"] = float64(1<<62 + 1)
		}, "Attributes"},
		{"a timestamp off by one nanosecond differs", func(r *record.Record) {
			r.Timestamp = r.Timestamp.Add(time.Nanosecond)
		}, "Timestamp"},
		{"the same instant in another zone differs", func(r *record.Record) {
			r.Timestamp = r.Timestamp.In(time.FixedZone("X", 3600))
		}, "Timestamp location"},
		{"a changed plain field differs", func(r *record.Record) { r.GeoCity = "Paris" }, "GeoCity"},
		{"a changed resource value differs", func(r *record.Record) { r.Resource["host.name"] = "web-2" }, "Resource"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FullRecord("id-1", "acme", base)
			tc.mutate(&got)
			d := RecordDiff(want, got)
			if tc.differs == "" {
				assert.Empty(t, d, "RecordDiff, want equal")
			} else {
				assert.True(t, strings.HasPrefix(d, tc.differs+":"), "RecordDiff = %q, want a difference in %s", d, tc.differs)
			}
		})
	}

	t.Run("nil and empty collections are equal", func(t *testing.T) {
		sparse := record.Record{ID: "x", Timestamp: base}
		empty := sparse
		empty.Tags, empty.Attributes, empty.Resource = []string{}, map[string]any{}, map[string]any{}
		assert.Empty(t, RecordDiff(sparse, empty), "RecordDiff, want equal")
	})
}
