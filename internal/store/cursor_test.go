package store

import (
	"errors"
	"testing"
)

func TestCursor_RoundTripsAndRejectsForeignStrings(t *testing.T) {
	c := Cursor{TimestampNanos: 1730000000123456789, ID: "0192f0c4-7b1a-7c3e-8d5f-1a2b3c4d5e6f"}
	got, ok, err := DecodeCursor(c.Encode())
	if err != nil || !ok || got != c {
		t.Fatalf("round trip = %+v, %v, %v; want %+v", got, ok, err, c)
	}
	if _, ok, err := DecodeCursor(""); ok || err != nil {
		t.Errorf("empty cursor = %v, %v; want the first page", ok, err)
	}
	for _, bad := range []string{"!!!", "djE6eHg6aWQ", "djI6MTI6aWQ", "djE6MTI6"} {
		if _, _, err := DecodeCursor(bad); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("DecodeCursor(%q) error = %v, want ErrInvalidCursor", bad, err)
		}
	}
}

func TestPage_EffectiveLimitClamps(t *testing.T) {
	for in, want := range map[int]int{0: DefaultLimit, -3: DefaultLimit, 7: 7, MaxLimit: MaxLimit, MaxLimit + 1: MaxLimit} {
		if got := (Page{Limit: in}).EffectiveLimit(); got != want {
			t.Errorf("limit %d -> %d, want %d", in, got, want)
		}
	}
}
