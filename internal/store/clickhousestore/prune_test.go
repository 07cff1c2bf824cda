package clickhousestore

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/assert"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

func TestDroppablePartitions_AreMonthsEveryLevelHasExpired(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	const day = 24 * time.Hour
	months := []string{"202401", "202502", "202503", "202504", "202506", "tuple()"}
	tests := []struct {
		name   string
		policy store.RetentionPolicy
		want   []string
	}{
		// The earliest cutoff is 90 days back, 2025-03-17: March ends after it.
		{"months ending before the longest period's cutoff are dropped", store.RetentionPolicy{
			ByLevel: map[record.Level]time.Duration{record.LevelDebug: 7 * day}, Default: 90 * day,
		}, []string{"202401", "202502"}},
		{"a level kept forever keeps every month", store.RetentionPolicy{
			ByLevel: map[record.Level]time.Duration{record.LevelSecurity: 0}, Default: 7 * day,
		}, nil},
		{"a month ending exactly at the cutoff is dropped", store.RetentionPolicy{
			Default: now.Sub(time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)),
		}, []string{"202401", "202502", "202503", "202504"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, droppablePartitions(months, tc.policy, now), "droppablePartitions")
		})
	}
}

func TestExpiredCondition_SkipsLevelsKeptForever(t *testing.T) {
	d := dialect{mode: modeLegacy}
	now := time.Unix(1_000_000, 0)
	policy := store.RetentionPolicy{ByLevel: map[record.Level]time.Duration{record.LevelDebug: time.Second, record.LevelSecurity: 0}}
	want := "((level = 1 AND TimestampNanos < 999999000000000))"
	assert.Equal(t, want, d.expiredCondition(policy, now), "expiredCondition")
	assert.Empty(t, d.expiredCondition(store.RetentionPolicy{}, now), "expiredCondition with no periods, want none")
}

func TestAfterCursor_BreaksTimestampTiesByID(t *testing.T) {
	c := store.Cursor{TimestampNanos: 42, ID: "o'k"}
	assert.Equal(t, `(TimestampNanos < 42 OR (TimestampNanos = 42 AND id < 'o\'k'))`, (dialect{mode: modeLegacy}).afterCursor(c), "legacy afterCursor")
	want := `(Timestamp < fromUnixTimestamp64Nano(toInt64(42)) OR (Timestamp = fromUnixTimestamp64Nano(toInt64(42)) AND id < 'o\'k'))`
	assert.Equal(t, want, (dialect{mode: modeModern}).afterCursor(c), "modern afterCursor")
}

// The error CI's cluster run failed on (stop 24): the survivor read the dead leader's
// election node just as its session expired. It is part of the election, so the drop retries.
func TestLeaderChanging_IncludesTheVanishingElectionNode(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&clickhouse.Exception{Code: 999, Message: "Can't get data for node /clickhouse/tables/01/audit.audit_logs/leader_election/leader_election-0000000000: node doesn't exist (No node)"}, true},
		{fmt.Errorf("wrapped: %w", &clickhouse.Exception{Code: 292, Message: "Leader was suddenly changed"}), true},
		{&clickhouse.Exception{Code: 210, Message: "Connection refused"}, true},
		{&clickhouse.Exception{Code: 999, Message: "Session expired"}, false},
		{&clickhouse.Exception{Code: 60, Message: "Table doesn't exist"}, false},
		{errors.New("plain"), false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, leaderChanging(tt.err), "%v", tt.err)
	}
}
