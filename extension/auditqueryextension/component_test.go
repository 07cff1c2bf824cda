package auditqueryextension

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/metadata"
)

// mdatagen's generated_component_test.go checks the factory type, the config struct and a
// shutdown without start (its start test is skipped: see tests in metadata.yaml); these check
// what it does not.

func TestComponentStability(t *testing.T) {
	assert.Equal(t, metadata.ExtensionStability, NewFactory().Stability())
}

func TestComponentDefaultConfigIsValidAndLoopback(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	assert.Equal(t, "127.0.0.1:8089", cfg.NetAddr.Endpoint)
	assert.False(t, cfg.AllowUnauthenticated)
	assert.NoError(t, cfg.Validate())
}

func TestComponentStartAndShutdown(t *testing.T) {
	factory := NewFactory()
	// The default config with only the port moved to 0: 8089 may be taken on a shared machine.
	cfg := factory.CreateDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	set := extensiontest.NewNopSettings(metadata.Type)

	t.Run("create, start and shutdown", func(t *testing.T) {
		ext, err := factory.Create(context.Background(), set, cfg)
		require.NoError(t, err)
		require.NoError(t, ext.Start(context.Background(), storeHost(t)))
		require.NoError(t, ext.Shutdown(context.Background()))
	})
	t.Run("shutdown twice", func(t *testing.T) {
		ext, err := factory.Create(context.Background(), set, cfg)
		require.NoError(t, err)
		require.NoError(t, ext.Start(context.Background(), storeHost(t)))
		require.NoError(t, ext.Shutdown(context.Background()))
		require.NoError(t, ext.Shutdown(context.Background()))
	})
}
