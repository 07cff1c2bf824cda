// Package redactprocessor masks secrets in logs, traces and metrics before anything downstream
// can store them. The matching lives in internal/redact; this package walks pdata and applies it.
package redactprocessor

import (
	"context"
	"fmt"
	"slices"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/redact"
)

// The processor rewrites attribute values in place.
var processorCapabilities = consumer.Capabilities{MutatesData: true}

// NewFactory returns the factory of the redact processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithLogs(createLogs, metadata.LogsStability),
		processor.WithTraces(createTraces, metadata.TracesStability),
		processor.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Mask:          redact.DefaultMask,
		Scopes:        slices.Clone(allScopes),
		DefaultAction: redact.ActionNameMask,
		JSONMaxBytes:  redact.DefaultJSONMaxBytes,
	}
}

func newProcessorFromConfig(set processor.Settings, cfg component.Config) (*redactProcessor, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("redact: config is %T, not *redactprocessor.Config", cfg)
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("redact: create telemetry: %w", err)
	}
	return newRedactProcessor(c, tb, set.Logger)
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	p, err := newProcessorFromConfig(set, cfg)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithCapabilities(processorCapabilities))
}

func createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	p, err := newProcessorFromConfig(set, cfg)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces,
		processorhelper.WithCapabilities(processorCapabilities))
}

func createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, err := newProcessorFromConfig(set, cfg)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		processorhelper.WithCapabilities(processorCapabilities))
}
