package clickhousestore

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

// The Grafana files in deploy/grafana point at the table a default config writes, and the
// data source's password is taken from Grafana's environment, never written in the file.
func TestGrafanaProvisioning_NamesTheStoresDefaultTable(t *testing.T) {
	cfg := DefaultConfig()
	cm, err := confmaptest.LoadConf("../../../deploy/grafana/provisioning/datasources/otelcol-audit-clickhouse.yaml")
	require.NoError(t, err)
	var file struct {
		Datasources []struct {
			Type     string `mapstructure:"type"`
			JSONData struct {
				DefaultDatabase string `mapstructure:"defaultDatabase"`
				Logs            struct {
					DefaultDatabase string `mapstructure:"defaultDatabase"`
					DefaultTable    string `mapstructure:"defaultTable"`
					OtelEnabled     bool   `mapstructure:"otelEnabled"`
				} `mapstructure:"logs"`
			} `mapstructure:"jsonData"`
			SecureJSONData map[string]string `mapstructure:"secureJsonData"`
		} `mapstructure:"datasources"`
	}
	require.NoError(t, cm.Unmarshal(&file, confmap.WithIgnoreUnused()))
	require.Len(t, file.Datasources, 1)
	ds := file.Datasources[0]
	assert.Equal(t, "grafana-clickhouse-datasource", ds.Type)
	assert.Equal(t, []string{cfg.Database, cfg.Database, cfg.Table}, []string{ds.JSONData.DefaultDatabase, ds.JSONData.Logs.DefaultDatabase, ds.JSONData.Logs.DefaultTable},
		"the data source's log view opens the store's default database and table")
	assert.True(t, ds.JSONData.Logs.OtelEnabled, "the table has otel_logs' columns")
	assert.Equal(t, "${CLICKHOUSE_READER_PASSWORD}", ds.SecureJSONData["password"], "the password comes from the environment")

	raw, err := os.ReadFile("../../../deploy/grafana/dashboards/otelcol-audit-logs.json")
	require.NoError(t, err)
	var dash struct {
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	var table string
	for _, v := range dash.Templating.List {
		if v.Name == "table" {
			assert.Equal(t, "constant", v.Type)
			require.NoError(t, json.Unmarshal(v.Query, &table))
		}
	}
	assert.Equal(t, cfg.Database+"."+cfg.Table, table, "the dashboard's table variable")
}
