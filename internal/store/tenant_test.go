package store

import (
	"testing"

	"github.com/stretchr/testify/assert"

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
			assert.ErrorIs(t, err, ErrInvalidRecord, "RowTenant(%q, own %q) = %q", c.batch, c.own, got)
			continue
		}
		if assert.NoError(t, err, "RowTenant(%q, own %q)", c.batch, c.own) {
			assert.Equal(t, c.want, got, "RowTenant(%q, own %q)", c.batch, c.own)
		}
	}
}
