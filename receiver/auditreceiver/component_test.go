package auditreceiver

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver/internal/metadata"
)

// mdatagen's generated_component_test.go checks the factory type, the config struct, a shutdown
// without start and two receivers started and shut down in turn; these check what it does not.

func TestComponentStabilityIsDeclaredForLogsOnly(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, component.StabilityLevelDevelopment, f.LogsStability())
	_, err := f.CreateTraces(context.Background(), receivertest.NewNopSettings(metadata.Type), f.CreateDefaultConfig(), consumertest.NewNop())
	assert.Error(t, err, "traces are not a signal of this receiver")
	_, err = f.CreateMetrics(context.Background(), receivertest.NewNopSettings(metadata.Type), f.CreateDefaultConfig(), consumertest.NewNop())
	assert.Error(t, err, "metrics are not a signal of this receiver")
}

func TestComponentRestartAndPortConflict(t *testing.T) {
	newLogs := func(t *testing.T) receiver.Logs {
		f := NewFactory()
		cfg := f.CreateDefaultConfig().(*Config)
		cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
		r, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
		require.NoError(t, err)
		return r
	}

	t.Run("shutdown twice succeeds", func(t *testing.T) {
		r := newLogs(t)
		require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
		require.NoError(t, r.Shutdown(context.Background()))
		require.NoError(t, r.Shutdown(context.Background()))
	})
	t.Run("a second start is refused instead of leaking a listener", func(t *testing.T) {
		r := newLogs(t)
		require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
		t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
		assert.ErrorContains(t, r.Start(context.Background(), componenttest.NewNopHost()), "already started")
	})
	t.Run("a port already in use fails start", func(t *testing.T) {
		first := newLogs(t)
		require.NoError(t, first.Start(context.Background(), componenttest.NewNopHost()))
		t.Cleanup(func() { require.NoError(t, first.Shutdown(context.Background())) })

		cfg := NewFactory().CreateDefaultConfig().(*Config)
		cfg.ServerConfig.NetAddr.Endpoint = first.(*auditReceiver).addr.String()
		second, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
		require.NoError(t, err)
		assert.ErrorContains(t, second.Start(context.Background(), componenttest.NewNopHost()), "listen on")
		require.NoError(t, second.Shutdown(context.Background()))
	})
}
