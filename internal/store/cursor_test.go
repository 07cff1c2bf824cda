package store

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCursor_RoundTripsAndRejectsForeignStrings(t *testing.T) {
	c := Cursor{TimestampNanos: 1730000000123456789, ID: "0192f0c4-7b1a-7c3e-8d5f-1a2b3c4d5e6f"}
	got, ok, err := DecodeCursor(c.Encode())
	require.NoError(t, err, "round trip")
	require.True(t, ok, "round trip = %+v, not ok", got)
	require.Equal(t, c, got, "round trip")
	_, ok, err = DecodeCursor("")
	assert.NoError(t, err, "empty cursor, want the first page")
	assert.False(t, ok, "empty cursor, want the first page")
	for _, bad := range []string{"!!!", "djE6eHg6aWQ", "djI6MTI6aWQ", "djE6MTI6"} {
		_, _, err := DecodeCursor(bad)
		assert.ErrorIs(t, err, ErrInvalidCursor, "DecodeCursor(%q)", bad)
	}
}

func TestPage_EffectiveLimitClamps(t *testing.T) {
	for in, want := range map[int]int{0: DefaultLimit, -3: DefaultLimit, 7: 7, MaxLimit: MaxLimit, MaxLimit + 1: MaxLimit} {
		assert.Equal(t, want, (Page{Limit: in}).EffectiveLimit(), "limit %d", in)
	}
}
