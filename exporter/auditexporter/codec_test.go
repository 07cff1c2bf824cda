package auditexporter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, err)
	out, err := decodeEntry(b)
	require.NoError(t, err)
	require.Len(t, out, 1)
	assert.Equal(t, in[0].Attributes, out[0].Attributes, "round trip changed the attributes")
	assert.True(t, out[0].Timestamp.Equal(in[0].Timestamp), "round trip changed the timestamp: in %v, out %v", in[0].Timestamp, out[0].Timestamp)
	assert.Equal(t, record.LevelSecurity, out[0].Level, "round trip changed the level")
	assert.Equal(t, "id-1", out[0].ID, "round trip changed the id")
	_, err = decodeEntry([]byte{9, '['})
	assert.Error(t, err, "an unknown format byte must be refused")
}
