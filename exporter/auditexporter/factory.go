// Package auditexporter writes audit records into a store (SQLite by default) and hands that
// store to the auditquery extension.
package auditexporter

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-audit/otelcol-audit/exporter/auditexporter/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// NewFactory returns the factory of the audit exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithLogs(createLogsExporter, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Store: StoreConfig{
			Backend: backendSQLite,
			SQLite:  sqlitestore.DefaultConfig(),
		},
		MinLevel: record.LevelDebug,
		Mapping:  record.DefaultMapping(),
	}
}

func createLogsExporter(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c := cfg.(*Config)
	e := newAuditExporter(c, set)
	return exporterhelper.NewLogs(ctx, set, cfg, e.consumeLogs,
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		// consumeLogs assigns audit.id attributes in place before anything is written.
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}),
	)
}
