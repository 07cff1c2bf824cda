package bindguardconverter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
)

func config(receivers, extensions map[string]any) map[string]any {
	var recIDs, extIDs []any
	for id := range receivers {
		recIDs = append(recIDs, id)
	}
	for id := range extensions {
		extIDs = append(extIDs, id)
	}
	return map[string]any{
		"receivers":  receivers,
		"extensions": extensions,
		"exporters":  map[string]any{"audit": map[string]any{"endpoint": "0.0.0.0:1"}}, // not a listener
		"service": map[string]any{
			"extensions": extIDs,
			"pipelines":  map[string]any{"logs": map[string]any{"receivers": recIDs, "exporters": []any{"audit"}}},
		},
	}
}

func otlpHTTP(settings map[string]any) map[string]any {
	return map[string]any{"otlp": map[string]any{"protocols": map[string]any{"http": settings}}}
}

func TestConvert_TheBindRule(t *testing.T) {
	cases := []struct {
		name    string
		conf    map[string]any
		wantErr string // "" means accepted
		gone    string // a key the converter must have removed
		kept    string // a key that must stay
	}{
		{"otlp on all interfaces without auth is refused", config(otlpHTTP(map[string]any{"endpoint": "0.0.0.0:4318"}), nil),
			`receivers::otlp::protocols::http: endpoint "0.0.0.0:4318" listens beyond loopback without authentication`, "", ""},
		{"an empty host listens everywhere and is refused", config(otlpHTTP(map[string]any{"endpoint": ":4318"}), nil), "beyond loopback", "", ""},
		{"IPv6 any is refused", config(otlpHTTP(map[string]any{"endpoint": "[::]:4318"}), nil), "beyond loopback", "", ""},
		{"a host name is not loopback", config(otlpHTTP(map[string]any{"endpoint": "collector.internal:4318"}), nil), "beyond loopback", "", ""},
		{"a routable address is refused", config(otlpHTTP(map[string]any{"endpoint": "10.1.2.3:4318"}), nil), "beyond loopback", "", ""},
		{"127.0.0.1 is accepted", config(otlpHTTP(map[string]any{"endpoint": "127.0.0.1:4318"}), nil), "", "", ""},
		{"another 127/8 address is accepted", config(otlpHTTP(map[string]any{"endpoint": "127.0.0.2:4318"}), nil), "", "", ""},
		{"localhost is accepted", config(otlpHTTP(map[string]any{"endpoint": "localhost:4318"}), nil), "", "", ""},
		{"IPv6 loopback is accepted", config(otlpHTTP(map[string]any{"endpoint": "[::1]:4318"}), nil), "", "", ""},
		{"no endpoint means the component's loopback default", config(otlpHTTP(map[string]any{}), nil), "", "", ""},
		{"all interfaces with auth is accepted", config(otlpHTTP(map[string]any{"endpoint": "0.0.0.0:4318", "auth": map[string]any{"authenticator": "bearertokenauth"}}), nil), "", "", ""},
		{"the explicit opt-out is accepted and removed for otlp, which would reject it",
			config(otlpHTTP(map[string]any{"endpoint": "0.0.0.0:4318", OptOutKey: true}), nil), "",
			"receivers::otlp::protocols::http::" + OptOutKey, "receivers::otlp::protocols::http::endpoint"},
		{"the opt-out set to false is no opt-out", config(otlpHTTP(map[string]any{"endpoint": "0.0.0.0:4318", OptOutKey: false}), nil), "beyond loopback", "", ""},
		{"our audit receiver keeps its own opt-out", config(map[string]any{"audit": map[string]any{"endpoint": "0.0.0.0:8088", OptOutKey: true}}, nil), "", "", "receivers::audit::" + OptOutKey},
		{"the query extension's built-in jwt counts as auth", config(nil, map[string]any{"auditquery": map[string]any{"endpoint": "0.0.0.0:8089", "jwt": map[string]any{"secret_file": "/s"}}}), "", "", ""},
		{"an extension without auth is refused", config(nil, map[string]any{"auditquery": map[string]any{"endpoint": "0.0.0.0:8089"}}), "extensions::auditquery: endpoint", "", ""},
		{"a unix socket is no network listener", config(otlpHTTP(map[string]any{"endpoint": "/run/otel.sock", "transport": "unix"}), nil), "", "", ""},
		{"a configured receiver that no pipeline uses is not checked", func() map[string]any {
			c := config(otlpHTTP(map[string]any{"endpoint": "127.0.0.1:4318"}), nil)
			c["receivers"].(map[string]any)["otlp/unused"] = map[string]any{"protocols": map[string]any{"grpc": map[string]any{"endpoint": "0.0.0.0:4317"}}}
			return c
		}(), "", "", ""},
		{"a named instance is named in the message", config(map[string]any{"otlp/public": map[string]any{"protocols": map[string]any{"grpc": map[string]any{"endpoint": "0.0.0.0:4317"}}}}, nil),
			"receivers::otlp/public::protocols::grpc", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conf := confmap.NewFromStringMap(c.conf)
			err := NewFactory().Create(confmap.ConverterSettings{}).Convert(context.Background(), conf)
			if c.wantErr == "" {
				require.NoError(t, err, "refused")
			} else {
				require.ErrorContains(t, err, c.wantErr)
				assert.ErrorContains(t, err, OptOutKey+": true", "the error does not say how to opt out")
			}
			if c.gone != "" {
				assert.False(t, conf.IsSet(c.gone), "%s is still set", c.gone)
			}
			if c.kept != "" {
				assert.True(t, conf.IsSet(c.kept), "%s was removed", c.kept)
			}
		})
	}
}
