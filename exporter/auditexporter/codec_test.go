package auditexporter

import (
	"reflect"
	"testing"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

func TestCodec_EntryRoundTripKeepsExactValues(t *testing.T) {
	in := []record.Record{{
		ID: "id-1", Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), Level: record.LevelSecurity,
		Event: "e", TenantID: "acme", Tags: []string{"a"},
		Attributes: map[string]any{"big": int64(9007199254740993), "ratio": 0.25, "nested": map[string]any{"n": int64(7)}},
		Resource:   map[string]any{"service.name": "billing"},
	}}
	b, err := encodeEntry(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in[0].Attributes, out[0].Attributes) || !out[0].Timestamp.Equal(in[0].Timestamp) ||
		out[0].Level != record.LevelSecurity || out[0].ID != "id-1" {
		t.Errorf("round trip changed the record:\n in %+v\nout %+v", in[0], out[0])
	}
	if _, err := decodeEntry([]byte{9, '['}); err == nil {
		t.Error("an unknown format byte must be refused")
	}
}
