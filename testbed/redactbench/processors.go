// Package redactbench compares otelcol-audit's redact processor with contrib's
// redactionprocessor on the same data: throughput and allocations on batches of audit-like log
// records, and which secrets each one catches. See README.md for the method.
package redactbench

import (
	"context"
	"fmt"
	"strings"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/redactionprocessor"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor"
)

// Impl is one processor under comparison, with the configuration it runs with.
type Impl struct {
	Name    string
	Factory processor.Factory
	Config  component.Config
}

// Ours is the redact processor with its default configuration: every default rule, mask action,
// no summary.
func Ours() Impl {
	f := redactprocessor.NewFactory()
	return Impl{Name: "ours", Factory: f, Config: f.CreateDefaultConfig()}
}

// ContribKeyPatterns are the attribute key patterns given to contrib's blocked_key_patterns:
// the names our field rules mask, written as one case-insensitive expression per family.
var ContribKeyPatterns = []string{
	`(?i)pass(word|wd|phrase)?|pwd`,
	`(?i)secret`,
	`(?i)token`,
	`(?i)(api|access|private|signing|encryption)[_.-]?key|privkey`,
	`(?i)authorization|cookie|session|credential`,
	`(?i)\bssn\b|social[_.-]?security|card[_.-]?number|cc[_.-]?number|credit[_.-]?card|\bcvv2?\b|\bcvc2?\b|\bpin\b|\botp\b|\bjwt\b`,
}

// ContribValuePatterns are the expressions given to contrib's blocked_values, one per secret
// family our value rules find. Contrib replaces each whole match with ****, so the key=value
// expression masks the key with the value.
var ContribValuePatterns = []string{
	`eyJ[A-Za-z0-9_-]{7,}(?:\.[A-Za-z0-9_-]*){2,}`,                                        // JWT
	`(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*`,                                             // bearer token
	`(?i)\bbasic\s+[A-Za-z0-9+/]{8,}={0,2}`,                                               // basic auth
	`-----BEGIN[A-Z ]*PRIVATE KEY-----[\s\S]*?-----END[A-Z ]*PRIVATE KEY-----`,            // PEM
	`\b(?:4\d{3}|5[1-5]\d{2}|6011)(?:[ -]?\d{4}){3}\b|\b3[47]\d{2}[ -]?\d{6}[ -]?\d{5}\b`, // Visa, MC, Discover, Amex
	`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`,                                                       // AWS key id
	`(?i)aws_secret_access_key["']?\s*[=:]\s*["']?[A-Za-z0-9/+]{40}`,                      // AWS secret
	`\bgh[pousr]_[A-Za-z0-9]{36,}|\bgithub_pat_[A-Za-z0-9_]{22,}`,                         // GitHub
	`\bglpat-[A-Za-z0-9_-]{20,}`,                                                          // GitLab
	`\bxox[bpars]-[A-Za-z0-9-]{10,}|\bxapp-[A-Za-z0-9-]{10,}`,                             // Slack tokens
	`hooks\.slack\.com/services/[A-Za-z0-9/_-]+`,                                          // Slack webhook
	`\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}`,                                              // Stripe
	`\bAIza[A-Za-z0-9_-]{35}\b`,                                                           // Google API key
	`[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:[^\s@/]+@`,                                       // URL password
	`(?i)(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|authorization|cookie|session|credential)["']?\s*[=:]\s*["']?[^\s"'&,}]+`, // key=value
}

// Contrib is contrib's redactionprocessor configured as close to Ours as its options allow:
// every key kept (allow_all_keys), secret-named keys masked (blocked_key_patterns), secrets in
// values masked (blocked_values), no summary.
func Contrib() Impl {
	f := redactionprocessor.NewFactory()
	cfg := f.CreateDefaultConfig().(*redactionprocessor.Config)
	cfg.AllowAllKeys = true
	cfg.BlockedKeyPatterns = ContribKeyPatterns
	cfg.BlockedValues = ContribValuePatterns
	cfg.Summary = "silent"
	return Impl{Name: "contrib", Factory: f, Config: cfg}
}

// ContribCombined is Contrib with all key patterns joined into one expression and all value
// patterns into another: the same matches, in two regular expressions instead of 21, which is
// how a user tuning contrib for speed would write it.
func ContribCombined() Impl {
	impl := Contrib()
	impl.Name = "contrib-combined"
	cfg := impl.Config.(*redactionprocessor.Config)
	cfg.BlockedKeyPatterns = []string{joinAlternatives(ContribKeyPatterns)}
	cfg.BlockedValues = []string{joinAlternatives(ContribValuePatterns)}
	return impl
}

// joinAlternatives joins expressions into one that matches what any of them matches; each
// keeps its own flags inside a group.
func joinAlternatives(exprs []string) string {
	parts := make([]string, len(exprs))
	for i, e := range exprs {
		parts[i] = "(?:" + e + ")"
	}
	return strings.Join(parts, "|")
}

// NewLogs creates impl's logs processor in front of next.
func NewLogs(impl Impl, next consumer.Logs) (processor.Logs, error) {
	if err := confmap.Validate(impl.Config); err != nil {
		return nil, fmt.Errorf("%s: validate config: %w", impl.Name, err)
	}
	p, err := impl.Factory.CreateLogs(context.Background(), processortest.NewNopSettings(impl.Factory.Type()), impl.Config, next)
	if err != nil {
		return nil, fmt.Errorf("%s: create logs processor: %w", impl.Name, err)
	}
	return p, nil
}
