// Package auditreceiver accepts audit events as JSON or NDJSON over HTTP and turns them into
// OpenTelemetry log records carrying the attribute names internal/record maps, so that senders
// without an OpenTelemetry SDK (shell scripts, webhooks, legacy applications) reach the same
// pipeline as OTLP senders.
package auditreceiver // import "github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver"
