package auditstoreextension

import (
	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-audit/otelcol-audit/internal/sharedstore"
)

// Config is the store's configuration: the backend, read_only, retention and tamper_evidence
// (README.md).
type Config struct {
	sharedstore.Config `mapstructure:",squash"`
}

var _ component.Config = (*Config)(nil)
