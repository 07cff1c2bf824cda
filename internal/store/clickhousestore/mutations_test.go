package clickhousestore

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMutationBlocks(t *testing.T) {
	// As 18.16 writes it in ZooKeeper (taken from the test cluster).
	entry := "format version: 1\ncreate time: 2026-12-04 14:07:02\nsource replica: r2\nblock numbers count: 2\n202612\t1\n202601\t7\ncommands: DELETE WHERE n < 50\n"
	got, err := mutationBlocks(entry)
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"202612": 1, "202601": 7}, got)

	for _, bad := range []string{"", "format version: 1\n", "block numbers count: 2\n202612\t1\n", "block numbers count: 1\n202612 x\n"} {
		_, err := mutationBlocks(bad)
		assert.Error(t, err, "entry %q", bad)
	}
}

func TestUnmutatedParts(t *testing.T) {
	blocks := map[string]int64{"202612": 3}
	for _, tc := range []struct {
		name  string
		parts []string
		want  []string
	}{
		{"not applied yet", []string{"202612_0_0_0", "202612_1_2_1"}, []string{"202612_0_0_0", "202612_1_2_1"}},
		{"applied", []string{"202612_0_0_0_3", "202612_1_2_1_3"}, nil},
		// The replica keeps the outdated name in ZooKeeper for a while after the rewrite.
		{"outdated part still listed", []string{"202612_0_0_0", "202612_0_0_0_3"}, nil},
		{"merged after the mutation", []string{"202612_0_0_0", "202612_1_1_0", "202612_0_1_1_3"}, nil},
		{"inserted after the mutation", []string{"202612_4_4_0", "202612_0_0_0_3"}, nil},
		{"one part behind", []string{"202612_0_0_0_3", "202612_1_1_0"}, []string{"202612_1_1_0"}},
		{"a partition the mutation did not name", []string{"202611_0_0_0"}, nil},
		{"not a part name", []string{"detached", "202612_a_0_0"}, nil},
	} {
		assert.Equal(t, tc.want, unmutatedParts(tc.parts, blocks), tc.name)
	}
}

// On the legacy layout's cluster retention's ALTERs run on one replica and replicate through
// ZooKeeper: ON CLUSTER would make them wait for every server, hanging with one down.
func TestRetentionAlters_OnClusterOnlyWhereTheyCannotHang(t *testing.T) {
	legacy := dialect{mode: modeLegacy, db: "otel", table: "audit_logs", cluster: "prod"}
	modern := dialect{mode: modeModern, db: "otel", table: "audit_logs", cluster: "prod"}
	for _, sql := range []string{legacy.dropPartitionSQL("202401"), legacy.pruneDeleteSQL("level = 1")} {
		assert.NotContains(t, sql, "ON CLUSTER", sql)
	}
	for _, sql := range []string{modern.dropPartitionSQL("202401"), modern.pruneDeleteSQL("level = 1")} {
		assert.Contains(t, sql, "ON CLUSTER `prod`", sql)
	}
	// The DDL that creates tables still runs ON CLUSTER on the legacy layout.
	assert.Contains(t, legacy.createLogs(), "ON CLUSTER `prod`")
}
