package auditexporter

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// Config is the exporter's configuration. Defaults live in createDefaultConfig.
type Config struct {
	// Store selects and configures the backend that keeps the records.
	Store StoreConfig `mapstructure:"store"`

	// Query names the auditquery extension that serves this store. The exporter registers its
	// store there at Start, so the extension never opens a second writer. Empty: no query API.
	Query *component.ID `mapstructure:"query"`

	// MinLevel drops records below it; security records are always kept.
	MinLevel record.Level `mapstructure:"min_level"`

	// Mapping says where record fields, such as the tenant, come from.
	Mapping record.Mapping `mapstructure:"mapping"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// StoreConfig selects the backend.
type StoreConfig struct {
	// Backend is "sqlite" (the embedded default).
	Backend string             `mapstructure:"backend"`
	SQLite  sqlitestore.Config `mapstructure:"sqlite"`
}

const backendSQLite = "sqlite"

var _ component.Config = (*Config)(nil)

// Validate checks the configuration without touching the disk or the network.
func (c *Config) Validate() error {
	var errs []error
	switch c.Store.Backend {
	case backendSQLite:
		if err := c.Store.SQLite.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("store.sqlite: %w", err))
		}
	default:
		errs = append(errs, fmt.Errorf("store.backend: unknown backend %q: expected %q", c.Store.Backend, backendSQLite))
	}
	if !c.MinLevel.Valid() {
		errs = append(errs, fmt.Errorf("min_level: unknown level %d: expected one of debug, info, warn, error, security", c.MinLevel))
	}
	if len(c.Mapping.TenantAttributes) == 0 {
		errs = append(errs, errors.New("mapping.tenant_attributes: must name at least one attribute"))
	}
	return errors.Join(errs...)
}
