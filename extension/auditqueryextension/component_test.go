package auditqueryextension

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/metadata"
)

// This file covers what mdatagen's generated_component_test.go would.

func TestComponentFactoryType(t *testing.T) {
	assert.Equal(t, "auditquery", NewFactory().Type().String())
	assert.Equal(t, metadata.ExtensionStability, NewFactory().Stability())
}

func TestComponentConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(NewFactory().CreateDefaultConfig()))
}

func TestComponentDefaultConfigIsValidAndLoopback(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	assert.Equal(t, "127.0.0.1:8089", cfg.NetAddr.Endpoint)
	assert.False(t, cfg.AllowUnauthenticated)
	assert.NoError(t, cfg.Validate())
}

func TestComponentLifecycle(t *testing.T) {
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
	t.Run("shutdown without start", func(t *testing.T) {
		ext, err := factory.Create(context.Background(), set, cfg)
		require.NoError(t, err)
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
