// Hand-written in mdatagen's shape because mdatagen is not available from the module proxy.

package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	Type      = component.MustNewType("audit")
	ScopeName = "github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver"
)

const (
	LogsStability = component.StabilityLevelDevelopment
)
