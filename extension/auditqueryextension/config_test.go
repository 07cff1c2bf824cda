package auditqueryextension

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	withDefaults := func(edit func(*Config)) *Config {
		cfg := createDefaultConfig().(*Config)
		edit(cfg)
		return cfg
	}
	tests := []struct {
		id            component.ID
		want          *Config
		wantErr       string
		wantDecodeErr string
	}{
		{
			id:   component.NewID(metadata.Type),
			want: withDefaults(func(*Config) {}),
		},
		{
			id: component.NewIDWithName(metadata.Type, "custom"),
			want: withDefaults(func(c *Config) {
				c.NetAddr.Endpoint = "127.0.0.1:9099"
				c.ReadHeaderTimeout = 5 * time.Second
				c.WriteTimeout = 10 * time.Second
				c.QueryTimeout = 5 * time.Second
			}),
		},
		{
			id: component.NewIDWithName(metadata.Type, "open_with_auth"),
			want: withDefaults(func(c *Config) {
				c.NetAddr.Endpoint = "0.0.0.0:8089"
				c.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: component.MustNewID("bearertokenauth")}})
			}),
		},
		{
			id: component.NewIDWithName(metadata.Type, "open_allowed"),
			want: withDefaults(func(c *Config) {
				c.NetAddr.Endpoint = "0.0.0.0:8089"
				c.AllowUnauthenticated = true
			}),
		},
		{
			id:      component.NewIDWithName(metadata.Type, "open_without_auth"),
			wantErr: `endpoint "0.0.0.0:8089" is not loopback and no auth is configured; set jwt, auth or allow_unauthenticated: true`,
		},
		{
			id:      component.NewIDWithName(metadata.Type, "all_interfaces_without_auth"),
			wantErr: `endpoint ":8089" is not loopback and no auth is configured`,
		},
		{
			id:      component.NewIDWithName(metadata.Type, "empty_endpoint"),
			wantErr: "endpoint: must not be empty",
		},
		{
			id: component.NewIDWithName(metadata.Type, "full"),
			want: withDefaults(func(c *Config) {
				c.NetAddr.Endpoint = "0.0.0.0:8089"
				c.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: component.MustNewID("oidc")}})
				c.TLS = configoptional.Some(configtls.ServerConfig{Config: configtls.Config{
					CertFile: "/etc/otelcol-audit/tls/query.crt",
					KeyFile:  "/etc/otelcol-audit/tls/query.key",
				}})
				c.CORS = configoptional.Some(confighttp.CORSConfig{AllowedOrigins: []string{"https://audit.example.com"}})
				c.ReadHeaderTimeout = 10 * time.Second
			}),
		},
		{
			id:      component.NewIDWithName(metadata.Type, "zero_query_timeout"),
			wantErr: "query_timeout: must be positive, got 0s",
		},
		{
			id:            component.NewIDWithName(metadata.Type, "misspelled_option"),
			wantDecodeErr: "allow_unauthenticate",
		},
		{
			id: component.NewIDWithName(metadata.Type, "jwt"),
			want: withDefaults(func(c *Config) {
				c.NetAddr.Endpoint = "0.0.0.0:8089"
				j := c.JWT.GetOrInsertDefault()
				j.JWKSFile = "/etc/otelcol-audit/jwks.json"
				j.Issuer = "https://idp.example.com"
				j.Audience = "audit-api"
				j.TenantClaim = "org"
				c.RateLimit = RateLimitConfig{Requests: 600, Window: time.Minute, ExemptLoopback: true}
				c.Stream = StreamConfig{MaxPerUser: 10, BufferSize: 1024, MaxSkipped: 100_000, HeartbeatInterval: 30 * time.Second, WriteTimeout: 5 * time.Second, MaxReplay: 500, MaxMessagesPerSecond: 200,
					FollowStore: FollowStoreConfig{PollInterval: time.Second, Overlap: 5 * time.Second, MaxRecentIDs: 100_000}}
			}),
		},
		{
			id:      component.NewIDWithName(metadata.Type, "jwt_with_auth"),
			wantErr: "jwt: cannot be combined with auth; configure one of them",
		},
		{
			id:      component.NewIDWithName(metadata.Type, "jwt_without_key"),
			wantErr: "jwt: one of secret, secret_file or jwks_file is required",
		},
		{
			id:      component.NewIDWithName(metadata.Type, "jwt_short_secret"),
			wantErr: "jwt.secret: 9 bytes is too short for HS256; use at least 32",
		},
		{
			id:      component.NewIDWithName(metadata.Type, "jwt_both_secrets"),
			wantErr: "jwt: set secret or secret_file, not both",
		},
		{
			id:      component.NewIDWithName(metadata.Type, "jwt_huge_leeway"),
			wantErr: "jwt.leeway: must be between 0s and 5m0s, got 1h0m0s",
		},
		{
			id:      component.NewIDWithName(metadata.Type, "rate_limit_without_window"),
			wantErr: "rate_limit.window: must be positive, got 0s",
		},
		{
			id:   component.NewIDWithName(metadata.Type, "rate_limit_off"),
			want: withDefaults(func(c *Config) { c.RateLimit.Requests = 0 }),
		},
		{
			id:      component.NewIDWithName(metadata.Type, "stream_without_buffer"),
			wantErr: "stream.buffer_size: must be at least 1, got 0",
		},
		{
			id:            component.NewIDWithName(metadata.Type, "jwt_misspelled_key"),
			wantDecodeErr: "jwks_fil",
		},
		{
			id:            component.NewIDWithName(metadata.Type, "stream_misspelled_key"),
			wantDecodeErr: "max_per_usr",
		},
		{
			id:            component.NewIDWithName(metadata.Type, "stream_follow_misspelled_key"),
			wantDecodeErr: "stream.follow_store.enable: unknown configuration key",
		},
		{
			id:      component.NewIDWithName(metadata.Type, "stream_negative_message_bound"),
			wantErr: "stream.max_messages_per_second: must not be negative, got -1",
		},
		{
			id:   component.NewIDWithName(metadata.Type, "loopback_rate_limited"),
			want: withDefaults(func(c *Config) { c.RateLimit.ExemptLoopback = false }),
		},
		{
			id:      component.NewIDWithName(metadata.Type, "stream_replay_too_large"),
			wantErr: "stream.max_replay: must be between 0 and 1000, got 5000",
		},
		{
			id: component.NewIDWithName(metadata.Type, "stream_follows_store"),
			want: withDefaults(func(c *Config) {
				on := true
				c.Stream.FollowStore = FollowStoreConfig{Enabled: &on, PollInterval: 250 * time.Millisecond, Overlap: 2 * time.Second, MaxRecentIDs: 5000}
			}),
		},
		{
			id: component.NewIDWithName(metadata.Type, "stream_not_following"),
			want: withDefaults(func(c *Config) {
				off := false
				c.Stream.FollowStore.Enabled = &off
			}),
		},
		{
			id:      component.NewIDWithName(metadata.Type, "stream_follow_without_interval"),
			wantErr: "stream.follow_store.poll_interval: must be positive, got 0s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			err = sub.Unmarshal(cfg)
			if tt.wantDecodeErr != "" {
				require.Error(t, err, "a misspelled key must not be ignored")
				assert.Contains(t, err.Error(), tt.wantDecodeErr)
				return
			}
			require.NoError(t, err)

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
