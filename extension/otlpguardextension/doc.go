// Package otlpguardextension is an HTTP server middleware for the OTLP receiver: it refuses a
// JSON body that is not an OTLP request (most often an audit event meant for the audit receiver),
// which the OTLP JSON decoder would otherwise accept as an empty request, answer 200, and store
// nothing of.
package otlpguardextension // import "github.com/otelcol-audit/otelcol-audit/extension/otlpguardextension"
