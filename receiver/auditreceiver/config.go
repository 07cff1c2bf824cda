package auditreceiver // import "github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver"

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/confignet"
)

// Config is the audit receiver's configuration.
type Config struct {
	// ServerConfig carries the endpoint, TLS, auth, CORS, request decompression and
	// max_request_body_size (which applies to the decompressed body too). It is a named field, not
	// an embedded one: embedding would promote its Unmarshal method to Config, and confmap would
	// then decode only the server settings and silently drop the receiver's own.
	ServerConfig confighttp.ServerConfig `mapstructure:",squash"`

	// MaxEventsPerRequest bounds the events in one request; a request with more is answered 413.
	MaxEventsPerRequest int `mapstructure:"max_events_per_request"`

	// PartialSuccess accepts the valid events of a batch that also holds invalid ones and lists the
	// invalid ones in the response. When false a single invalid event rejects the whole batch.
	PartialSuccess bool `mapstructure:"partial_success"`

	// TrustedProxies lists the peers (CIDRs or single addresses) whose X-Forwarded-For header is
	// believed. From any other peer the header is ignored and the peer address is the client.
	TrustedProxies []string `mapstructure:"trusted_proxies"`

	// TrustedSenders lists the senders (CIDRs or single addresses, matched against the client
	// address after trusted_proxies) that may name their end user's ip_address and user_agent in
	// an event: a backend posting on behalf of its users. An event with those fields from any
	// other sender is refused. Default: loopback, the senders the default deployment already
	// trusts with every other field of the trail.
	TrustedSenders []string `mapstructure:"trusted_senders"`

	// RetryAfter is sent as the Retry-After header (whole seconds, rounded up) when the pipeline
	// answers with a retryable error or throttles.
	RetryAfter time.Duration `mapstructure:"retry_after"`

	// AllowUnauthenticated permits listening on a non-loopback address without an auth extension.
	// Without it such a configuration is refused, because anyone who can reach the port could
	// write records into the audit trail.
	AllowUnauthenticated bool `mapstructure:"allow_unauthenticated"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the receiver's own settings; confighttp validates its nested sections itself.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.ServerConfig.NetAddr.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: must not be empty"))
	}
	if cfg.MaxEventsPerRequest <= 0 {
		errs = append(errs, fmt.Errorf("max_events_per_request: must be positive, got %d", cfg.MaxEventsPerRequest))
	}
	if cfg.ServerConfig.MaxRequestBodySize < 0 {
		errs = append(errs, fmt.Errorf("max_request_body_size: must not be negative, got %d", cfg.ServerConfig.MaxRequestBodySize))
	}
	if cfg.RetryAfter <= 0 {
		errs = append(errs, fmt.Errorf("retry_after: must be positive, got %s", cfg.RetryAfter))
	}
	if _, err := parseAddressList("trusted_proxies", cfg.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	if _, err := parseAddressList("trusted_senders", cfg.TrustedSenders); err != nil {
		errs = append(errs, err)
	}
	if !cfg.ServerConfig.Auth.HasValue() && !cfg.AllowUnauthenticated && !isLoopbackEndpoint(cfg.ServerConfig.NetAddr) {
		errs = append(errs, fmt.Errorf("endpoint: %q is not a loopback address and no auth extension is configured; "+
			"configure auth, or set allow_unauthenticated: true to accept events from anyone who can reach it", cfg.ServerConfig.NetAddr.Endpoint))
	}
	return errors.Join(errs...)
}

// parseAddressList reads the setting called name. It accepts CIDRs ("10.0.0.0/8") and single addresses ("10.1.2.3", taken as a
// /32 or /128). IPv4-mapped IPv6 forms are unmapped so that a v4 proxy matches whichever way the
// socket reports it.
func parseAddressList(name string, entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for i, s := range entries {
		s = strings.TrimSpace(s)
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%s[%d]: %q is not a CIDR: %w", name, i, entries[i], err)
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %q is neither a CIDR nor an IP address: %w", name, i, entries[i], err)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// isLoopbackEndpoint reports whether the endpoint can only be reached from this host. It decides
// from the text alone (Validate does no I/O): a host name other than localhost, an empty host and
// the unspecified addresses all count as reachable from elsewhere. Unix sockets are guarded by
// file permissions and count as local.
func isLoopbackEndpoint(addr confignet.AddrConfig) bool {
	if addr.Transport == confignet.TransportTypeUnix {
		return true
	}
	host, _, err := net.SplitHostPort(addr.Endpoint)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
