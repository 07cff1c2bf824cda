package otlpguardextension // import "github.com/otelcol-audit/otelcol-audit/extension/otlpguardextension"

import (
	"errors"
	"net/url"
)

// Config is the otlpguard extension's configuration.
type Config struct {
	// AuditEventsURL is where audit events belong, named in the refusal so that the sender
	// learns the right endpoint. Default: the audit receiver of the default config.
	AuditEventsURL string `mapstructure:"audit_events_url"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks that the URL a refusal names is one.
func (cfg *Config) Validate() error {
	if cfg.AuditEventsURL == "" {
		return errors.New("audit_events_url: must not be empty")
	}
	u, err := url.Parse(cfg.AuditEventsURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return errors.New("audit_events_url: expected an absolute URL such as http://127.0.0.1:8088/v1/events, got " + cfg.AuditEventsURL)
	}
	return nil
}
