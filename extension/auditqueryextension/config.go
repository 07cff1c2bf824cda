package auditqueryextension

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/confignet"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/jwtauth"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

const minSecretLen = jwtauth.MinSecretLen

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

	// Store names the auditstore extension whose store the API serves. Its collector may run no
	// exporter at all: a query node over a store another collector writes (read_only).
	Store component.ID `mapstructure:"store"`

	// AllowUnauthenticated lets the server bind a non-loopback endpoint with no auth configured.
	// Every caller of such a server is an admin and reads every tenant's records, so this must
	// be said explicitly; it is meant for a network that is already closed (a sidecar, a pod).
	AllowUnauthenticated bool `mapstructure:"allow_unauthenticated"`

	// QueryTimeout bounds each store call of a request. A query that runs longer answers 503
	// with code "timeout".
	QueryTimeout time.Duration `mapstructure:"query_timeout"`

	// JWT is the API's built-in bearer token check. It is the alternative to `auth` (an
	// authenticator extension run by confighttp); the two cannot be combined.
	JWT configoptional.Optional[JWTConfig] `mapstructure:"jwt"`

	// RateLimit bounds the REST requests of each caller.
	RateLimit RateLimitConfig `mapstructure:"rate_limit"`

	// Stream configures the live stream (/api/v1/stream).
	Stream StreamConfig `mapstructure:"stream"`

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
// would pass unnoticed and leave the API open; the top-level keys are checked here instead, and
// so are the keys inside this package's own sections (`stream`, `stream.follow_store`, `rate_limit`), which are
// decoded the same lenient way. (`jwt` is an Optional, whose own Unmarshal is strict.)
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	known := map[string]bool{}
	sections := map[string]map[string]bool{}
	mapstructureKeys(reflect.TypeOf(*cfg), "", known, sections)
	for _, key := range conf.AllKeys() {
		parts := strings.Split(key, confmap.KeyDelimiter)
		if !known[parts[0]] {
			return fmt.Errorf("%s: unknown configuration key", parts[0])
		}
		// Each section on the path (stream, stream.follow_store) knows its own keys.
		for i := 1; i < len(parts); i++ {
			fields, ok := sections[strings.Join(parts[:i], ".")]
			if !ok {
				break
			}
			if !fields[parts[i]] {
				return fmt.Errorf("%s: unknown configuration key", strings.Join(parts[:i+1], "."))
			}
		}
	}
	return conf.Unmarshal(cfg)
}

var configPkgPath = reflect.TypeFor[Config]().PkgPath()

// mapstructureKeys adds the keys a struct decodes, following squashed embeddings, and records
// under its dotted path (prefix + name) the keys of each field whose type is a plain struct of
// this package, at any depth.
func mapstructureKeys(t reflect.Type, prefix string, into map[string]bool, sections map[string]map[string]bool) {
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
			mapstructureKeys(f.Type, prefix, into, sections)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		into[name] = true
		if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == configPkgPath {
			fields := map[string]bool{}
			mapstructureKeys(f.Type, prefix+name+".", fields, sections)
			sections[prefix+name] = fields
		}
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
	if cfg.JWT.HasValue() {
		if cfg.Auth.HasValue() {
			return errors.New("jwt: cannot be combined with auth; configure one of them")
		}
		if err := cfg.JWT.Get().validate(); err != nil {
			return err
		}
	}
	if err := cfg.RateLimit.validate(); err != nil {
		return err
	}
	if err := cfg.Stream.validate(); err != nil {
		return err
	}
	return cfg.checkExposure()
}

// authenticated reports whether callers prove who they are (built-in JWT or an auth extension).
func (cfg *Config) authenticated() bool { return cfg.Auth.HasValue() || cfg.JWT.HasValue() }

// checkExposure refuses an open endpoint without auth.
func (cfg *Config) checkExposure() error {
	if cfg.authenticated() || cfg.AllowUnauthenticated {
		return nil
	}
	if isLocalEndpoint(cfg.NetAddr.Transport, cfg.NetAddr.Endpoint) {
		return nil
	}
	return fmt.Errorf("endpoint %q is not loopback and no auth is configured; set jwt, auth or allow_unauthenticated: true", cfg.NetAddr.Endpoint)
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

// JWTConfig is the built-in bearer token check. At least one key source is required; the
// algorithms accepted are exactly those a key is configured for (HS256 for a secret, RS256 and
// ES256 for the keys of the JWKS file).
type JWTConfig struct {
	// Secret is the HS256 shared secret (at least 32 bytes). Prefer SecretFile.
	Secret configopaque.String `mapstructure:"secret"`
	// SecretFile holds the HS256 secret; surrounding whitespace is trimmed.
	SecretFile string `mapstructure:"secret_file"`
	// JWKSFile is a JSON Web Key Set with the RS256/ES256 public keys. It is read at start.
	JWKSFile string `mapstructure:"jwks_file"`
	// Issuer, when set, must equal the token's iss.
	Issuer string `mapstructure:"issuer"`
	// Audience, when set, must be among the token's aud.
	Audience string `mapstructure:"audience"`
	// Leeway tolerates clock skew on exp, nbf and iat.
	Leeway time.Duration `mapstructure:"leeway"`
	// UserClaim, TenantClaim and RoleClaim name the claims that give the caller's user, tenant
	// and role (viewer or admin).
	UserClaim   string `mapstructure:"user_claim"`
	TenantClaim string `mapstructure:"tenant_claim"`
	RoleClaim   string `mapstructure:"role_claim"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// maxLeeway keeps "small" small: a leeway of hours would make exp meaningless.
const maxLeeway = 5 * time.Minute

func (j *JWTConfig) validate() error {
	if j.Secret != "" && j.SecretFile != "" {
		return errors.New("jwt: set secret or secret_file, not both")
	}
	if j.Secret == "" && j.SecretFile == "" && j.JWKSFile == "" {
		return errors.New("jwt: one of secret, secret_file or jwks_file is required")
	}
	if n := len(j.Secret); n > 0 && n < minSecretLen {
		return fmt.Errorf("jwt.secret: %d bytes is too short for HS256; use at least %d", n, minSecretLen)
	}
	if j.Leeway < 0 || j.Leeway > maxLeeway {
		return fmt.Errorf("jwt.leeway: must be between 0s and %s, got %s", maxLeeway, j.Leeway)
	}
	for name, v := range map[string]string{"jwt.user_claim": j.UserClaim, "jwt.tenant_claim": j.TenantClaim, "jwt.role_claim": j.RoleClaim} {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("%s: must not be empty", name)
		}
	}
	return nil
}

// RateLimitConfig is a token bucket per caller: Requests per Window on average, with bursts of
// up to Requests.
type RateLimitConfig struct {
	// Requests per Window; 0 disables the limit.
	Requests int `mapstructure:"requests"`
	// Window is the period Requests refers to.
	Window time.Duration `mapstructure:"window"`
	// ExemptLoopback leaves unauthenticated requests from a loopback address unlimited: the
	// local operator, who is an admin anyway (paging a large store or keeping the viewer open
	// must not earn it 429s). Authenticated callers are always limited.
	ExemptLoopback bool `mapstructure:"exempt_loopback"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func (r *RateLimitConfig) validate() error {
	if r.Requests < 0 {
		return fmt.Errorf("rate_limit.requests: must not be negative, got %d", r.Requests)
	}
	if r.Requests > 0 && r.Window <= 0 {
		return fmt.Errorf("rate_limit.window: must be positive, got %s", r.Window)
	}
	return nil
}

// StreamConfig configures /api/v1/stream.
type StreamConfig struct {
	// MaxPerUser bounds the open streams of one caller; one more answers 429.
	MaxPerUser int `mapstructure:"max_per_user"`
	// BufferSize is how many records a stream may fall behind before it loses records (and is
	// told with a "lagged" message).
	BufferSize int `mapstructure:"buffer_size"`
	// MaxSkipped ends a stream that has lost more records than this in total; 0 never does.
	MaxSkipped int64 `mapstructure:"max_skipped"`
	// HeartbeatInterval is how often an idle stream sends an SSE comment or a WebSocket ping,
	// so that proxies keep it open and dead peers are noticed.
	HeartbeatInterval time.Duration `mapstructure:"heartbeat_interval"`
	// WriteTimeout bounds each write to a client; a client that does not read for this long is
	// disconnected.
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	// MaxReplay bounds the replay parameter.
	MaxReplay int `mapstructure:"max_replay"`
	// MaxMessagesPerSecond bounds the live records one connection is sent, in bursts of up to
	// as many; beyond it records are dropped for that connection and it is told how many
	// ({"type":"throttled","dropped":N}). 0 sends everything.
	MaxMessagesPerSecond int `mapstructure:"max_messages_per_second"`
	// FollowStore makes the stream follow the shared store, so that it carries the records
	// every collector writing it commits, not only this one's.
	FollowStore FollowStoreConfig `mapstructure:"follow_store"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// FollowStoreConfig configures the stream's store follower (internal/storefollow). A record is
// streamed at most poll_interval (plus one poll's query) after its commit, provided it commits
// within overlap of when its writer stamped it (clock skew between writers included).
type FollowStoreConfig struct {
	// Enabled: unset follows on a read-only query node over a store that can list its
	// insertions (ClickHouse); each collector of a fleet of writers sets true (Start fails on
	// a store that cannot be followed); false streams only this collector's commits, all a
	// single writer needs.
	Enabled *bool `mapstructure:"enabled"`
	// PollInterval is how often the store is read for new records.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// Overlap is how far before the latest write time seen each poll reads again, for batches
	// that commit late; every poll reads the records written in the last overlap again.
	Overlap time.Duration `mapstructure:"overlap"`
	// MaxRecentIDs bounds the records remembered to publish each once; it should exceed the
	// records written fleet-wide in overlap + poll_interval.
	MaxRecentIDs int `mapstructure:"max_recent_ids"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func (f *FollowStoreConfig) validate() error {
	switch {
	case f.PollInterval <= 0:
		return fmt.Errorf("stream.follow_store.poll_interval: must be positive, got %s", f.PollInterval)
	case f.Overlap < 0:
		return fmt.Errorf("stream.follow_store.overlap: must not be negative, got %s", f.Overlap)
	case f.MaxRecentIDs < 1:
		return fmt.Errorf("stream.follow_store.max_recent_ids: must be at least 1, got %d", f.MaxRecentIDs)
	}
	return nil
}

func (s *StreamConfig) validate() error {
	if err := s.FollowStore.validate(); err != nil {
		return err
	}
	switch {
	case s.MaxPerUser < 1:
		return fmt.Errorf("stream.max_per_user: must be at least 1, got %d", s.MaxPerUser)
	case s.BufferSize < 1:
		return fmt.Errorf("stream.buffer_size: must be at least 1, got %d", s.BufferSize)
	case s.MaxSkipped < 0:
		return fmt.Errorf("stream.max_skipped: must not be negative, got %d", s.MaxSkipped)
	case s.HeartbeatInterval <= 0:
		return fmt.Errorf("stream.heartbeat_interval: must be positive, got %s", s.HeartbeatInterval)
	case s.WriteTimeout <= 0:
		return fmt.Errorf("stream.write_timeout: must be positive, got %s", s.WriteTimeout)
	case s.MaxMessagesPerSecond < 0:
		return fmt.Errorf("stream.max_messages_per_second: must not be negative, got %d", s.MaxMessagesPerSecond)
	case s.MaxReplay < 0 || s.MaxReplay > store.MaxLimit:
		return fmt.Errorf("stream.max_replay: must be between 0 and %d, got %d", store.MaxLimit, s.MaxReplay)
	}
	return nil
}
