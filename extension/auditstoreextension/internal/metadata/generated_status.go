// Code hand-written in mdatagen's shape because mdatagen is not available from the module proxy.

package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	Type      = component.MustNewType("auditstore")
	ScopeName = "github.com/otelcol-audit/otelcol-audit/extension/auditstoreextension"
)

const (
	ExtensionStability = component.StabilityLevelDevelopment
)
