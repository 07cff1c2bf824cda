package auditreceiver // import "github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver"

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver/internal/metadata"
)

const (
	defaultEndpoint            = "127.0.0.1:8088"
	defaultMaxRequestBodySize  = 5 << 20 // 5 MiB, after decompression
	defaultMaxEventsPerRequest = 10000
	defaultRetryAfter          = 5 * time.Second
)

// NewFactory returns the factory of the audit receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	server.MaxRequestBodySize = defaultMaxRequestBodySize
	return &Config{
		ServerConfig:        server,
		MaxEventsPerRequest: defaultMaxEventsPerRequest,
		RetryAfter:          defaultRetryAfter,
		TrustedSenders:      []string{"127.0.0.0/8", "::1"},
	}
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	rcfg, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("create audit receiver: unexpected config type %T", cfg)
	}
	return newAuditReceiver(rcfg, set, next)
}
