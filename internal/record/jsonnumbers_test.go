package record

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every decoder of stored records keeps an int64 beyond float64's 53 bits exact.
func TestDecode_KeepsLargeIntegersExact(t *testing.T) {
	const big = int64(9007199254740993) // 2^53 + 1: float64 would round it
	obj, err := DecodeObject(`{"n":9007199254740993,"f":1.5,"nested":{"m":[9007199254740993]}}`)
	require.NoError(t, err)
	assert.Equal(t, big, obj["n"])
	assert.Equal(t, 1.5, obj["f"])
	assert.Equal(t, []any{big}, obj["nested"].(map[string]any)["m"])

	empty, err := DecodeObject("")
	require.NoError(t, err)
	assert.Empty(t, empty)

	var r Record
	require.NoError(t, DecodeRecord([]byte(`{"id":"a","attributes":{"n":9007199254740993},"resource":{"pid":42}}`), &r))
	assert.Equal(t, big, r.Attributes["n"])
	assert.Equal(t, int64(42), r.Resource["pid"])

	recs, err := DecodeRecords([]byte(`[{"id":"a","attributes":{"n":9007199254740993}},{"id":"b"}]`))
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, big, recs[0].Attributes["n"])
}
