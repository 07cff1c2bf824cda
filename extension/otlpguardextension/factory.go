package otlpguardextension // import "github.com/otelcol-audit/otelcol-audit/extension/otlpguardextension"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-audit/otelcol-audit/extension/otlpguardextension/internal/metadata"
)

const defaultAuditEventsURL = "http://127.0.0.1:8088/v1/events"

// NewFactory returns the factory of the otlpguard extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, createExtension, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	return &Config{AuditEventsURL: defaultAuditEventsURL}
}

func createExtension(_ context.Context, _ extension.Settings, cfg component.Config) (extension.Extension, error) {
	return &guard{auditEventsURL: cfg.(*Config).AuditEventsURL}, nil
}
