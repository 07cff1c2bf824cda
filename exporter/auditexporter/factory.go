// Package auditexporter writes audit records, through a write-ahead log and a dead-letter
// queue, into the store of the auditstore extension its `store` setting names.
package auditexporter

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-audit/otelcol-audit/exporter/auditexporter/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// NewFactory returns the factory of the audit exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithLogs(createLogsExporter, metadata.LogsStability),
	)
}

// defaultWALMaxBytes bounds the backlog so that a full WAL drains in well under a minute at
// the SQLite store's ceiling on the reference machine: about 1.2 KB of WAL a load generator
// record, so 256 MiB is about 220,000 records; after 20 s of overload the backlog drained in
// 18.5 s (BENCHMARKS.md, section 1; exporter README, "Choosing wal.max_bytes"). A larger WAL
// rides out longer bursts and store outages and takes longer to drain.
const defaultWALMaxBytes = 256 << 20

func createDefaultConfig() component.Config {
	return &Config{
		Mode:          modeDurable,
		DataDir:       "./data",
		WAL:           WALConfig{Sync: syncAlways, SyncInterval: 100 * time.Millisecond, SegmentSize: 64 << 20, MaxBytes: defaultWALMaxBytes},
		Batch:         BatchConfig{MaxSize: 100, FlushInterval: 5 * time.Second, Workers: 4},
		MaxQueueBytes: 0, // by mode: Config.queueBytes
		OnQueueFull:   onFullDLQ,
		TimeoutConfig: exporterhelper.TimeoutConfig{Timeout: 30 * time.Second},
		RetryOnFailure: configretry.BackOffConfig{
			Enabled:         true,
			InitialInterval: time.Second,
			// exporterhelper's default spread, so collectors that failed together retry apart.
			RandomizationFactor: configretry.NewDefaultBackOffConfig().RandomizationFactor,
			Multiplier:          2,
			MaxInterval:         4 * time.Second,
			// Attempts at about 0s, 1s, 3s and 7s: three retries, then the DLQ. The bound has
			// room for the jitter, so the third retry is not cut by it.
			MaxElapsedTime: 10 * time.Second,
		},
		DLQ:      DLQConfig{ScanInterval: time.Minute, MaxFailures: 10, MaxBytes: 1 << 30},
		Store:    component.MustNewID("auditstore"),
		Limits:   record.DefaultLimits(),
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
