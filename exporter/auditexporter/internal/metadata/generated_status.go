// Hand-written in the shape mdatagen generates: mdatagen is not served by the module proxy on
// our build machines, so this file is kept in step with ../../metadata.yaml by hand.

package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	Type      = component.MustNewType("audit")
	ScopeName = "github.com/otelcol-audit/otelcol-audit/exporter/auditexporter"
)

const (
	LogsStability = component.StabilityLevelDevelopment
)
