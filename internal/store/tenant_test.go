package store

import (
	"errors"
	"testing"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

func TestRowTenant_TheRecordsOwnThenTheBatchsThenTheDefault(t *testing.T) {
	cases := []struct {
		batch, own, want string
		invalid          bool
	}{
		{batch: "acme", own: "", want: "acme"},
		{batch: "", own: "", want: record.DefaultTenant},
		{batch: "", own: "globex", want: "globex"},
		{batch: "acme", own: "acme", want: "acme"},
		{batch: "acme", own: "globex", invalid: true},
	}
	for _, c := range cases {
		got, err := RowTenant(c.batch, 3, &record.Record{ID: "r", TenantID: c.own})
		if c.invalid {
			if !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("RowTenant(%q, own %q) = %q, %v; want ErrInvalidRecord", c.batch, c.own, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("RowTenant(%q, own %q) = %q, %v; want %q", c.batch, c.own, got, err, c.want)
		}
	}
}
