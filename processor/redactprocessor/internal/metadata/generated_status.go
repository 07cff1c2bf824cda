// Hand-written in the shape mdatagen emits for metadata.yaml, because mdatagen is not available
// from the module proxy here. Keep it in step with metadata.yaml.

package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	Type      = component.MustNewType("redact")
	ScopeName = "github.com/otelcol-audit/otelcol-audit/processor/redactprocessor"
)

const (
	LogsStability    = component.StabilityLevelDevelopment
	TracesStability  = component.StabilityLevelDevelopment
	MetricsStability = component.StabilityLevelDevelopment
)
