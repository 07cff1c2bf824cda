package auditexporter

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-audit/otelcol-audit/exporter/auditexporter/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

func TestConfig_LoadsFromYAML(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	custom := createDefaultConfig().(*Config)
	custom.Store = component.MustNewIDWithName("auditstore", "warehouse")
	custom.MinLevel = record.LevelWarn
	custom.Mapping.TenantAttributes = []string{"org.id", "tenant.id"}

	cases := []struct {
		name    string
		id      component.ID
		want    *Config
		wantErr string
	}{
		{name: "an empty section is the default config", id: component.NewID(metadata.Type), want: createDefaultConfig().(*Config)},
		{name: "every setting is read", id: component.NewIDWithName(metadata.Type, "custom"), want: custom},
		{name: "the exporter's own store section says where it moved", id: component.NewIDWithName(metadata.Type, "own_store"),
			wantErr: "store, retention moved to the auditstore extension: write them under `extensions: auditstore:`"},
		{name: "the exporter's own tamper_evidence says where it moved", id: component.NewIDWithName(metadata.Type, "own_chain"),
			wantErr: "tamper_evidence moved to the auditstore extension"},
		{name: "the query link is refused as no longer needed", id: component.NewIDWithName(metadata.Type, "query"),
			wantErr: "query: no longer needed"},
		{name: "max_queue_size names its replacement", id: component.NewIDWithName(metadata.Type, "queue_in_records"),
			wantErr: "max_queue_size: replaced by max_queue_bytes"},
		{name: "a WAL bound below one segment is refused", id: component.NewIDWithName(metadata.Type, "wal_below_segment"),
			wantErr: "wal.max_bytes: must be at least wal.segment_size"},
		{name: "an unknown level is refused while decoding", id: component.NewIDWithName(metadata.Type, "bad_level"), wantErr: `unknown level "verbose"`},
		{name: "a mapping without tenant attributes is refused", id: component.NewIDWithName(metadata.Type, "no_tenant_attributes"), wantErr: "mapping.tenant_attributes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(c.id.String())
			require.NoError(t, err)
			err = sub.Unmarshal(cfg)
			if err == nil {
				err = confmap.Validate(cfg)
			}
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, cfg.(*Config))
		})
	}
}

// max_queue_bytes: 0 is the mode's default: small in durable mode, where the WAL holds the
// backlog, larger in volatile mode, where memory is the only buffer before the DLQ.
func TestConfig_TheQueueBoundDefaultsByMode(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, 3<<20, cfg.queueBytes(), "durable")
	cfg.Mode = modeVolatile
	assert.Equal(t, 16<<20, cfg.queueBytes(), "volatile")
	cfg.MaxQueueBytes = 8 << 20
	assert.Equal(t, 8<<20, cfg.queueBytes(), "set")

	cfg.MaxQueueBytes = 512 << 10
	assert.ErrorContains(t, cfg.Validate(), "max_queue_bytes: must be 0 (the mode's default) or at least 1 MiB, got 524288")
}
