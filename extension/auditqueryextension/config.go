package auditqueryextension

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/confignet"
	"go.opentelemetry.io/collector/confmap"
)

// defaultEndpoint keeps the API on the local machine: without auth every caller is an admin, so
// the default must not be reachable from the network.
const defaultEndpoint = "127.0.0.1:8089"

// defaultQueryTimeout matches confighttp's default write timeout: a query that cannot finish
// before the response would be cut anyway is better stopped with a clear error.
const defaultQueryTimeout = 30 * time.Second

// Config is the configuration of the auditquery extension.
type Config struct {
	// ServerConfig is the HTTP server (endpoint, TLS, CORS, auth, timeouts, middlewares).
	confighttp.ServerConfig `mapstructure:",squash"`

	// AllowUnauthenticated lets the server bind a non-loopback endpoint with no auth configured.
	// Every caller of such a server is an admin and reads every tenant's records, so this must
	// be said explicitly; it is meant for a network that is already closed (a sidecar, a pod).
	AllowUnauthenticated bool `mapstructure:"allow_unauthenticated"`

	// QueryTimeout bounds each store call of a request. A query that runs longer answers 503
	// with code "timeout".
	QueryTimeout time.Duration `mapstructure:"query_timeout"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ confmap.Unmarshaler = (*Config)(nil)

// Unmarshal exists because ServerConfig's own Unmarshal would otherwise be promoted through the
// embedding and decode only the server's fields, silently dropping allow_unauthenticated.
// The confmap hook that calls this hands over a Conf that skips this top-level Unmarshal, so
// decoding cfg here runs ServerConfig's Unmarshal for the squashed part and plain decoding for
// the rest.
//
// confmap ignores unknown keys beside a squashed Unmarshaler, so a misspelled `tls` or `auth`
// would pass unnoticed and leave the API open; the top-level keys are checked here instead.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	known := map[string]bool{}
	mapstructureKeys(reflect.TypeOf(*cfg), known)
	for _, key := range conf.AllKeys() {
		top, _, _ := strings.Cut(key, confmap.KeyDelimiter)
		if !known[top] {
			return fmt.Errorf("%s: unknown configuration key", top)
		}
	}
	return conf.Unmarshal(cfg)
}

// mapstructureKeys adds the top-level keys a struct decodes, following squashed embeddings.
func mapstructureKeys(t reflect.Type, into map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if name == "-" {
			continue
		}
		if slices.Contains(strings.Split(opts, ","), "squash") && f.Type.Kind() == reflect.Struct {
			mapstructureKeys(f.Type, into)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		into[name] = true
	}
}

// Validate checks the configuration without doing any I/O.
func (cfg *Config) Validate() error {
	if strings.TrimSpace(cfg.NetAddr.Endpoint) == "" {
		return errors.New("endpoint: must not be empty")
	}
	if cfg.QueryTimeout <= 0 {
		return fmt.Errorf("query_timeout: must be positive, got %s", cfg.QueryTimeout)
	}
	return cfg.checkExposure()
}

// checkExposure refuses an open endpoint without auth.
func (cfg *Config) checkExposure() error {
	if cfg.Auth.HasValue() || cfg.AllowUnauthenticated {
		return nil
	}
	if isLocalEndpoint(cfg.NetAddr.Transport, cfg.NetAddr.Endpoint) {
		return nil
	}
	return fmt.Errorf("endpoint %q is not loopback and no auth is configured; set auth or allow_unauthenticated: true", cfg.NetAddr.Endpoint)
}

// isLocalEndpoint reports whether only this machine can reach the endpoint: a Unix socket, or a
// TCP host of localhost, 127.0.0.0/8 or ::1. An empty host listens on every interface, and any
// other name could resolve anywhere, so both count as exposed.
func isLocalEndpoint(transport confignet.TransportType, endpoint string) bool {
	if transport == confignet.TransportTypeUnix {
		return true
	}
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	// A zone ("fe80::1%eth0") never belongs to a loopback address; ParseIP rejects it anyway.
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
