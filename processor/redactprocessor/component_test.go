package redactprocessor

// mdatagen's generated_component_test.go checks the factory type, the config struct, one
// start-consume-shutdown and a shutdown without start; these check what it does not.

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/metadata"
)

func TestComponentDefaultConfigIsValid(t *testing.T) {
	assert.NoError(t, NewFactory().CreateDefaultConfig().(*Config).Validate(), "default config does not validate")
}

func TestComponentShutdownTwiceAndMutatesData(t *testing.T) {
	factory := NewFactory()
	tests := []struct {
		name   string
		create func(ctx context.Context, set processor.Settings, cfg component.Config) (component.Component, error)
		// consume sends one empty batch of the signal through the created component.
		consume func(ctx context.Context, c component.Component) error
	}{
		{
			name: "logs",
			create: func(ctx context.Context, set processor.Settings, cfg component.Config) (component.Component, error) {
				return factory.CreateLogs(ctx, set, cfg, consumertest.NewNop())
			},
			consume: func(ctx context.Context, c component.Component) error {
				return c.(processor.Logs).ConsumeLogs(ctx, plog.NewLogs())
			},
		},
		{
			name: "traces",
			create: func(ctx context.Context, set processor.Settings, cfg component.Config) (component.Component, error) {
				return factory.CreateTraces(ctx, set, cfg, consumertest.NewNop())
			},
			consume: func(ctx context.Context, c component.Component) error {
				return c.(processor.Traces).ConsumeTraces(ctx, ptrace.NewTraces())
			},
		},
		{
			name: "metrics",
			create: func(ctx context.Context, set processor.Settings, cfg component.Config) (component.Component, error) {
				return factory.CreateMetrics(ctx, set, cfg, consumertest.NewNop())
			},
			consume: func(ctx context.Context, c component.Component) error {
				return c.(processor.Metrics).ConsumeMetrics(ctx, pmetric.NewMetrics())
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name+" starts, consumes an empty batch and shuts down twice", func(t *testing.T) {
			ctx := context.Background()
			c, err := tt.create(ctx, processortest.NewNopSettings(metadata.Type), factory.CreateDefaultConfig())
			require.NoError(t, err, "create")
			require.NoError(t, c.Start(ctx, componenttest.NewNopHost()), "Start")
			require.NoError(t, tt.consume(ctx, c), "consume")
			require.NoError(t, c.Shutdown(ctx), "Shutdown")
			assert.NoError(t, c.Shutdown(ctx), "second Shutdown")
		})
		t.Run(tt.name+" reports that it mutates data", func(t *testing.T) {
			c, err := tt.create(context.Background(), processortest.NewNopSettings(metadata.Type), factory.CreateDefaultConfig())
			require.NoError(t, err, "create")
			assert.True(t, mutatesData(c), "Capabilities().MutatesData = false, want true: the processor rewrites values in place")
		})
	}
}

func mutatesData(c component.Component) bool {
	switch p := c.(type) {
	case processor.Logs:
		return p.Capabilities().MutatesData
	case processor.Traces:
		return p.Capabilities().MutatesData
	case processor.Metrics:
		return p.Capabilities().MutatesData
	}
	return false
}

func TestComponent_InvalidConfigFailsCreation(t *testing.T) {
	cfg := &Config{Mask: "x", CustomRules: []CustomRuleConfig{{Name: "a", Regex: "("}}}
	_, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	assert.Error(t, err, "CreateLogs accepted an invalid expression")
}
