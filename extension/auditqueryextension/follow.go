package auditqueryextension

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/storefollow"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// followedLog is the store the stream follows, or nil when it streams only this collector's
// commits (see FollowStoreConfig.Enabled). Unset, a read-only query node follows a store that
// can be followed (it commits nothing itself), and a writer does not: a single writer's own
// commits are all there is, and each poll re-reads the overlap's records, which costs memory
// when a backlog drains at full speed (tests/faults' outage test measured +38 MiB).
func followedLog(cfg FollowStoreConfig, st store.Store, readOnly bool) (store.InsertionLog, error) {
	log, canFollow := st.(store.InsertionLog)
	switch {
	case cfg.Enabled == nil:
		if canFollow && readOnly {
			return log, nil
		}
		return nil, nil
	case !*cfg.Enabled:
		return nil, nil
	case !canFollow:
		return nil, fmt.Errorf("stream.follow_store.enabled: the %T store cannot list what other writers insert; only the ClickHouse store can be followed", st)
	}
	return log, nil
}

// newStoreFollower is the stream's store follower, metered and logged.
func (e *queryExtension) newStoreFollower(log store.InsertionLog, telemetry *metadata.TelemetryBuilder) *storefollow.Follower {
	cfg := e.cfg.Stream.FollowStore
	ctx := context.Background()
	logger := e.settings.Logger
	return storefollow.New(log, e.publish, storefollow.Options{
		PollInterval: cfg.PollInterval, Overlap: cfg.Overlap, MaxRecentIDs: cfg.MaxRecentIDs,
		PollTimeout: e.cfg.QueryTimeout,
	}, storefollow.Metrics{
		Published:  func(n int) { telemetry.AuditqueryStreamFollowRecords.Add(ctx, int64(n)) },
		Duplicates: func(n int) { telemetry.AuditqueryStreamFollowDuplicates.Add(ctx, int64(n)) },
		Evicted: func(n int) {
			telemetry.AuditqueryStreamFollowEvicted.Add(ctx, int64(n))
			logger.Warn("live tail: remembered record ids evicted before the overlap passed; raise stream.follow_store.max_recent_ids",
				zap.Int("evicted", n))
		},
		PollFailed: func(err error) {
			telemetry.AuditqueryStreamFollowPollErrors.Add(ctx, 1)
			logger.Warn("live tail: reading the shared store failed; the next poll reads from the same watermark", zap.Error(err))
		},
	})
}
