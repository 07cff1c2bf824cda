package auditreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	custom := createDefaultConfig().(*Config)
	custom.ServerConfig.NetAddr.Endpoint = "127.0.0.1:9088"
	custom.ServerConfig.MaxRequestBodySize = 1 << 20
	custom.MaxEventsPerRequest = 500
	custom.PartialSuccess = true
	custom.TrustedProxies = []string{"10.0.0.0/8", "192.168.1.7", "::1"}
	custom.TrustedSenders = []string{"10.20.0.0/16"}
	custom.RetryAfter = 30 * time.Second
	custom.ServerConfig.CORS.GetOrInsertDefault().AllowedOrigins = []string{"https://admin.example.com"}

	publicOptIn := createDefaultConfig().(*Config)
	publicOptIn.ServerConfig.NetAddr.Endpoint = "0.0.0.0:8088"
	publicOptIn.AllowUnauthenticated = true

	noSender := createDefaultConfig().(*Config)
	noSender.TrustedSenders = []string{}

	tests := []struct {
		name    string
		id      component.ID
		want    *Config
		wantErr string
	}{
		{name: "an empty section yields the defaults", id: component.NewID(metadata.Type), want: createDefaultConfig().(*Config)},
		{name: "every setting is read", id: component.NewIDWithName(metadata.Type, "custom"), want: custom},
		{name: "a public endpoint is allowed without auth when opted in", id: component.NewIDWithName(metadata.Type, "public_with_optin"), want: publicOptIn},
		{name: "a public endpoint without auth is refused", id: component.NewIDWithName(metadata.Type, "public_without_auth"), wantErr: `endpoint: "0.0.0.0:8088" is not a loopback address and no auth extension is configured`},
		{name: "a CIDR with too many bits is refused", id: component.NewIDWithName(metadata.Type, "bad_proxy"), wantErr: `trusted_proxies[0]: "10.0.0.0/33" is not a CIDR`},
		{name: "a host name as trusted proxy is refused", id: component.NewIDWithName(metadata.Type, "not_an_ip_proxy"), wantErr: `trusted_proxies[0]: "proxy.internal" is neither a CIDR nor an IP address`},
		{name: "an empty trusted_senders replaces the loopback default", id: component.NewIDWithName(metadata.Type, "trust_no_sender"), want: noSender},
		{name: "a host name as trusted sender is refused", id: component.NewIDWithName(metadata.Type, "bad_sender"), wantErr: `trusted_senders[0]: "backend.internal" is neither a CIDR nor an IP address`},
		{name: "zero events per request is refused", id: component.NewIDWithName(metadata.Type, "zero_events"), wantErr: "max_events_per_request: must be positive, got 0"},
		{name: "a zero retry_after is refused", id: component.NewIDWithName(metadata.Type, "zero_retry_after"), wantErr: "retry_after: must be positive, got 0s"},
		{name: "a negative body size is refused", id: component.NewIDWithName(metadata.Type, "negative_body_size"), wantErr: "max_request_body_size: must not be negative, got -1"},
		{name: "an empty endpoint is refused", id: component.NewIDWithName(metadata.Type, "empty_endpoint"), wantErr: "endpoint: must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))

			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestDefaultConfigHoldsTheDocumentedDefaults(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, "127.0.0.1:8088", cfg.ServerConfig.NetAddr.Endpoint)
	assert.Equal(t, int64(5<<20), cfg.ServerConfig.MaxRequestBodySize)
	assert.Equal(t, 10000, cfg.MaxEventsPerRequest)
	assert.Equal(t, 5*time.Second, cfg.RetryAfter)
	assert.False(t, cfg.PartialSuccess)
	assert.Empty(t, cfg.TrustedProxies)
	assert.Equal(t, []string{"127.0.0.0/8", "::1"}, cfg.TrustedSenders, "loopback senders may name their end user")
	assert.NoError(t, confmap.Validate(cfg))
}

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		name  string
		entry string
		want  string
	}{
		{name: "a CIDR is kept", entry: "10.0.0.0/8", want: "10.0.0.0/8"},
		{name: "host bits of a CIDR are masked off", entry: "10.1.2.3/8", want: "10.0.0.0/8"},
		{name: "a single IPv4 address is a /32", entry: "192.168.1.7", want: "192.168.1.7/32"},
		{name: "a single IPv6 address is a /128", entry: "::1", want: "::1/128"},
		{name: "an IPv4-mapped address is unmapped", entry: "::ffff:10.0.0.1", want: "10.0.0.1/32"},
		{name: "an IPv4-mapped CIDR is unmapped", entry: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAddressList("trusted_proxies", []string{tt.entry})
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, tt.want, got[0].String())
		})
	}
}

func TestLoopbackEndpointDetection(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		want     bool
	}{
		{name: "127.0.0.1 is loopback", endpoint: "127.0.0.1:8088", want: true},
		{name: "any 127/8 address is loopback", endpoint: "127.1.2.3:8088", want: true},
		{name: "localhost is loopback", endpoint: "localhost:8088", want: true},
		{name: "[::1] is loopback", endpoint: "[::1]:8088", want: true},
		{name: "0.0.0.0 is every interface", endpoint: "0.0.0.0:8088", want: false},
		{name: "an empty host is every interface", endpoint: ":8088", want: false},
		{name: "a host name might resolve anywhere", endpoint: "collector.internal:8088", want: false},
		{name: "an endpoint without port is not understood", endpoint: "127.0.0.1", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.ServerConfig.NetAddr.Endpoint = tt.endpoint
			assert.Equal(t, tt.want, isLoopbackEndpoint(cfg.ServerConfig.NetAddr))
		})
	}
}
