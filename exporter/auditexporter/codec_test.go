package auditexporter

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// codecRequest is a request as intake sees it: ids assigned, one record without any timestamp
// (it takes the arrival time) and none naming a tenant (it takes the authenticated one).
func codecRequest() walRequest {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	lr := lrs.AppendEmpty()
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.SetEventName("invoice.paid")
	lr.Attributes().PutInt("big", 9007199254740993)
	lr.Attributes().PutDouble("ratio", 0.25)
	lr.Attributes().PutEmptyMap("nested").PutInt("n", 7)
	debug := lrs.AppendEmpty()
	debug.SetSeverityNumber(plog.SeverityNumberDebug)
	record.EnsureIDs(ld)
	return walRequest{logs: ld, tenant: "acme", arrived: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)}
}

func TestCodec_OTLPEntryDecodesToTheRecordsIntakeMapped(t *testing.T) {
	req := codecRequest()
	mapping := record.DefaultMapping()
	want := keepAtOrAbove(mapping.FromLogs(req.logs, req.tenant, req.arrived), record.LevelInfo)
	require.Len(t, want, 1, "the debug record is below min_level")

	b, err := encodeEntry(req)
	require.NoError(t, err)
	assert.Equal(t, walFormatOTLP, b[0])
	got, err := decodeEntry(b, mapping, record.LevelInfo)
	require.NoError(t, err)
	assert.Equal(t, want, got, "a replay must reproduce exactly what was acknowledged")
	assert.Equal(t, "acme", got[0].TenantID, "the authenticated tenant travels with the entry")
	assert.True(t, got[0].Timestamp.Equal(req.arrived), "the arrival time travels with the entry")
	assert.Equal(t, int64(9007199254740993), got[0].Attributes["big"], "integers stay exact")
}

func TestCodec_JSONEntriesOfEarlierVersionsStillDecode(t *testing.T) {
	in := []record.Record{{
		ID: "id-1", Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), Level: record.LevelSecurity,
		Event: "e", TenantID: "acme", Tags: []string{"a"},
		Attributes: map[string]any{"big": int64(9007199254740993), "ratio": 0.25, "nested": map[string]any{"n": int64(7)}},
		Resource:   map[string]any{"service.name": "billing"},
	}}
	body, err := json.Marshal(in)
	require.NoError(t, err)
	out, err := decodeEntry(append([]byte{walFormatJSON}, body...), record.DefaultMapping(), record.LevelDebug)
	require.NoError(t, err)
	require.Len(t, out, 1)
	assert.Equal(t, in[0].Attributes, out[0].Attributes, "round trip changed the attributes")
	assert.True(t, out[0].Timestamp.Equal(in[0].Timestamp), "round trip changed the timestamp")
	assert.Equal(t, "id-1", out[0].ID)
}

func TestCodec_DamagedEntriesAreRefusedWithTheReason(t *testing.T) {
	good, err := encodeEntry(codecRequest())
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		b    []byte
		want string
	}{
		"empty":           {nil, "empty"},
		"unknown format":  {[]byte{9, '['}, "unknown format 9"},
		"tenant overruns": {[]byte{walFormatOTLP, 200, 'a'}, "tenant"},
		"no arrival time": {[]byte{walFormatOTLP, 0}, "arrival time"},
		"truncated OTLP":  {good[:len(good)-7], "request"},
		"truncated JSON":  {[]byte{walFormatJSON, '[', '{'}, "decode entry"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := decodeEntry(tc.b, record.DefaultMapping(), record.LevelDebug)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// FuzzDecodeEntry: whatever bytes a damaged or forged WAL entry holds, decoding returns records
// or an error, never a panic.
func FuzzDecodeEntry(f *testing.F) {
	good, err := encodeEntry(codecRequest())
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte{walFormatJSON, '[', ']'})
	f.Add([]byte{walFormatOTLP, 0, 0})
	mapping := record.DefaultMapping()
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeEntry(b, mapping, record.LevelDebug)
	})
}
