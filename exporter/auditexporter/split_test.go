package auditexporter

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

func tenantRecords(tenants ...string) []record.Record {
	recs := make([]record.Record, len(tenants))
	for i, t := range tenants {
		recs[i] = record.Record{ID: fmt.Sprintf("r%d", i), TenantID: t, Level: record.LevelInfo}
	}
	return recs
}

func ids(recs []record.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func TestSplitByTenant_GroupsInOrderWithoutSharingRoom(t *testing.T) {
	recs := tenantRecords("a", "b", "a", "c", "b", "a")
	groups := splitByTenant(recs)
	require.Len(t, groups, 3)
	assert.Equal(t, []string{"r0", "r2", "r5"}, ids(groups["a"]))
	assert.Equal(t, []string{"r1", "r4"}, ids(groups["b"]))
	assert.Equal(t, []string{"r3"}, ids(groups["c"]))
	// The groups share an array: appending to one must not overwrite another.
	_ = append(groups["a"], record.Record{ID: "extra", TenantID: "a"})
	_ = append(groups["b"], record.Record{ID: "extra", TenantID: "b"})
	assert.Equal(t, []string{"r1", "r4"}, ids(groups["b"]))
	assert.Equal(t, []string{"r3"}, ids(groups["c"]))

	one := splitByTenant(tenantRecords("a", "a"))
	assert.Equal(t, []string{"r0", "r1"}, ids(one["a"]))
	assert.Empty(t, splitByTenant(nil))
}

func TestKeepAtOrAbove_KeepsSecurityAndLevelsAtOrAboveInOrder(t *testing.T) {
	recs := tenantRecords("a", "a", "a", "a")
	recs[0].Level = record.LevelDebug
	recs[1].Level = record.LevelWarn
	recs[2].Level = record.LevelSecurity
	recs[3].Level = record.LevelInfo
	assert.Equal(t, []string{"r1", "r2"}, ids(keepAtOrAbove(recs, record.LevelWarn)))
	all := tenantRecords("a", "b")
	assert.Equal(t, []string{"r0", "r1"}, ids(keepAtOrAbove(all, record.LevelInfo)))
}
