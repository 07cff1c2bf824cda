package auditqueryextension

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/livetail"
	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// NewFactory returns the factory of the auditquery extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(
		metadata.Type,
		createDefaultConfig,
		createExtension,
		metadata.ExtensionStability,
	)
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	return &Config{
		ServerConfig: server,
		Store:        component.MustNewID("auditstore"),
		QueryTimeout: defaultQueryTimeout,
		// Default, not Some: the block is off until the user writes `jwt:`, and then these
		// claim names and the leeway apply unless overridden.
		JWT: configoptional.Default(JWTConfig{
			Leeway:      30 * time.Second,
			UserClaim:   "sub",
			TenantClaim: "tenant",
			RoleClaim:   "role",
		}),
		// 600 a minute: paging 100k records at limit=1000 is 100 requests, a viewer refreshing
		// every few seconds a few dozen. The unauthenticated loopback operator is not limited.
		RateLimit: RateLimitConfig{Requests: 600, Window: time.Minute, ExemptLoopback: true},
		Stream: StreamConfig{
			MaxPerUser:        5,
			BufferSize:        livetail.DefaultBufferSize,
			HeartbeatInterval: 15 * time.Second,
			WriteTimeout:      10 * time.Second,
			MaxReplay:         store.MaxLimit,
			// Five times the 2,000 records/s the live tail is measured at: it bounds what one
			// connection can cost without touching normal use.
			MaxMessagesPerSecond: 10_000,
			// One second is the tail's latency across a fleet; five seconds of overlap covers
			// a slow insert and the clock skew NTP leaves between hosts.
			FollowStore: FollowStoreConfig{PollInterval: time.Second, Overlap: 5 * time.Second, MaxRecentIDs: 100_000},
		},
	}
}

func createExtension(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newQueryExtension(cfg.(*Config), set), nil
}
