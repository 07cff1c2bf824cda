package auditexporter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/otelcol-audit/otelcol-audit/exporter/auditexporter/internal/metadata"
)

// mdatagen's generated_component_test.go checks the factory type, the config struct and a
// shutdown without start; its start test is skipped (see tests in metadata.yaml).
func TestComponent_Lifecycle(t *testing.T) {
	f := NewFactory()
	newExporter := func(t *testing.T) (cfgPath string, start, shutdown func() error) {
		cfg := testConfig(t)
		exp, err := f.CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
		require.NoError(t, err)
		host, _ := storeHost(t, cfg, nil)
		return storePath(cfg),
			func() error { return exp.Start(context.Background(), host) },
			func() error { return exp.Shutdown(context.Background()) }
	}
	t.Run("start then shutdown twice", func(t *testing.T) {
		_, start, shutdown := newExporter(t)
		require.NoError(t, start())
		require.NoError(t, shutdown())
		assert.NoError(t, shutdown(), "second shutdown")
	})
	t.Run("shutdown without start", func(t *testing.T) {
		_, _, shutdown := newExporter(t)
		assert.NoError(t, shutdown())
	})
}
