package redactprocessor

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/redact"
)

// Config is the redact processor's configuration. The zero value of every list means "the
// defaults only"; createDefaultConfig holds the rest of the defaults.
type Config struct {
	// Mask replaces each secret (a whole value for field rules, the secret part of a string for
	// value rules).
	Mask string `mapstructure:"mask"`
	// Summary adds redaction.count and redaction.rules to every record, span and data point
	// that had something redacted.
	Summary bool `mapstructure:"summary"`
	// AllowKeys are attribute keys (exact, case-insensitive) whose values are never redacted,
	// neither by field rules nor by value rules, at any depth below them.
	AllowKeys []string `mapstructure:"allow_keys"`
	// FieldRules tune the key-name patterns that mask a whole value.
	FieldRules FieldRulesConfig `mapstructure:"field_rules"`
	// ValueRules tune the built-in rules that find secrets inside strings.
	ValueRules ValueRulesConfig `mapstructure:"value_rules"`
	// CustomRules are extra value rules given as regular expressions.
	CustomRules []CustomRuleConfig `mapstructure:"custom_rules"`
}

// FieldRulesConfig adds key-name patterns to the defaults or removes defaults.
type FieldRulesConfig struct {
	Add    []string `mapstructure:"add"`
	Remove []string `mapstructure:"remove"`
}

// ValueRulesConfig switches built-in value rules off by name.
type ValueRulesConfig struct {
	Disable []string `mapstructure:"disable"`
}

// CustomRuleConfig is a named regular expression. When it has capture groups only the first
// group is masked, otherwise the whole match.
type CustomRuleConfig struct {
	Name  string `mapstructure:"name"`
	Regex string `mapstructure:"regex"`
}

var _ component.Config = (*Config)(nil)

// Validate reports every problem in the configuration, each prefixed with the field it is in.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.Mask == "" {
		errs = append(errs, errors.New("mask: must not be empty"))
	}
	for i, k := range cfg.AllowKeys {
		if k == "" {
			errs = append(errs, fmt.Errorf("allow_keys[%d]: must not be empty", i))
		}
	}
	for i, p := range cfg.FieldRules.Add {
		if len(redact.NormalizeFieldPattern(p)) < 2 {
			errs = append(errs, fmt.Errorf("field_rules.add[%d]: %q needs at least two letters or digits", i, p))
		}
	}
	for i, p := range cfg.FieldRules.Remove {
		if !redact.IsDefaultFieldPattern(p) {
			errs = append(errs, fmt.Errorf("field_rules.remove[%d]: %q is not a default field pattern (defaults: %s)",
				i, p, strings.Join(redact.DefaultFieldPatterns, ", ")))
		}
	}
	for i, name := range cfg.ValueRules.Disable {
		if !redact.IsBuiltinValueRule(name) {
			errs = append(errs, fmt.Errorf("value_rules.disable[%d]: unknown rule %q (built-in rules: %s)",
				i, name, strings.Join(redact.BuiltinValueRules, ", ")))
		}
	}
	names := make(map[string]int, len(cfg.CustomRules))
	for i, cr := range cfg.CustomRules {
		switch prev, dup := names[cr.Name]; {
		case cr.Name == "":
			errs = append(errs, fmt.Errorf("custom_rules[%d].name: must not be empty", i))
		case redact.IsBuiltinValueRule(cr.Name):
			errs = append(errs, fmt.Errorf("custom_rules[%d].name: %q is the name of a built-in rule", i, cr.Name))
		case dup:
			errs = append(errs, fmt.Errorf("custom_rules[%d].name: %q is already used by custom_rules[%d]", i, cr.Name, prev))
		default:
			names[cr.Name] = i
		}
		if cr.Regex == "" {
			errs = append(errs, fmt.Errorf("custom_rules[%d].regex: must not be empty", i))
		} else if _, err := regexp.Compile(cr.Regex); err != nil {
			errs = append(errs, fmt.Errorf("custom_rules[%d].regex: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// redactOptions translates the configuration for the engine.
func (cfg *Config) redactOptions() redact.Options {
	custom := make([]redact.CustomRule, len(cfg.CustomRules))
	for i, cr := range cfg.CustomRules {
		custom[i] = redact.CustomRule{Name: cr.Name, Regex: cr.Regex}
	}
	return redact.Options{
		Mask:                cfg.Mask,
		AddFieldPatterns:    cfg.FieldRules.Add,
		RemoveFieldPatterns: cfg.FieldRules.Remove,
		AllowKeys:           cfg.AllowKeys,
		DisableValueRules:   cfg.ValueRules.Disable,
		CustomRules:         custom,
	}
}
