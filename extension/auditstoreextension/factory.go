// Package auditstoreextension opens the audit store (SQLite or ClickHouse) and shares it with
// the components that name it: audit exporters write through it, the auditquery extension reads
// through it. It owns the store's migrations, retention, hash-chain checkpoints, the feed of
// committed records (the live tail) and the store's health.
package auditstoreextension

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-audit/otelcol-audit/extension/auditstoreextension/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/sharedstore"
)

// NewFactory returns the factory of the auditstore extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, createExtension, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	return &Config{Config: sharedstore.DefaultConfig()}
}

func createExtension(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return sharedstore.New(cfg.(*Config).Config, set.Logger).WithTelemetry(set.TelemetrySettings), nil
}
