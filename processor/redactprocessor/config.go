package redactprocessor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"

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
	// IgnoreKeys are attribute keys (exact, case-insensitive) whose values the value rules do
	// not scan, at any depth below them: values known to hold no secret (trace ids, hashes) that
	// are not worth the scan. A field rule on the key itself still applies.
	IgnoreKeys []string `mapstructure:"ignore_keys"`
	// Scopes are the parts of the data that are processed; see the scope constants.
	Scopes []string `mapstructure:"scopes"`
	// DefaultAction is what replaces a secret when Actions names no action for its rule:
	// mask, hash or partial.
	DefaultAction string `mapstructure:"default_action"`
	// Actions choose an action per rule: a value rule, a custom rule, "field" (every field
	// rule) or "field:<pattern>" (one field rule).
	Actions map[string]string `mapstructure:"actions"`
	// HashKey is the HMAC-SHA256 key of the hash action; HashKeyFile names a file holding it
	// instead (read when the processor is created; surrounding blanks are trimmed).
	HashKey     configopaque.String `mapstructure:"hash_key"`
	HashKeyFile string              `mapstructure:"hash_key_file"`
	// IdentityKeyFile holds the key of the digests that replace secret-looking identity
	// attributes (audit.id, tenant.id), created with 32 random bytes when absent; unset, a new
	// key is drawn at every start.
	IdentityKeyFile string `mapstructure:"identity_key_file"`
	// JSONMaxBytes is the largest string value read as a JSON document by the json rule.
	JSONMaxBytes int `mapstructure:"json_max_bytes"`
}

// Scope names: the parts of logs, traces and metrics that scopes can select.
const (
	ScopeLogAttributes      = "log_attributes"
	ScopeLogBody            = "log_body"
	ScopeResourceAttributes = "resource_attributes"
	ScopeScopeAttributes    = "scope_attributes"
	ScopeSpanAttributes     = "span_attributes"
	ScopeSpanEvents         = "span_events"
	ScopeSpanLinks          = "span_links"
	ScopeMetricAttributes   = "metric_attributes"
)

// allScopes lists every scope; it is the default.
var allScopes = []string{
	ScopeLogAttributes, ScopeLogBody, ScopeResourceAttributes, ScopeScopeAttributes,
	ScopeSpanAttributes, ScopeSpanEvents, ScopeSpanLinks, ScopeMetricAttributes,
}

// minHashKeyLen is the shortest accepted HMAC key: 32 bytes, the output size of SHA-256, as
// RFC 2104 recommends.
const minHashKeyLen = 32

// FieldRulesConfig adds key-name patterns to the defaults or removes defaults.
type FieldRulesConfig struct {
	Add    []string `mapstructure:"add"`
	Remove []string `mapstructure:"remove"`
}

// ValueRulesConfig switches built-in value rules off, and optional ones on, by name.
type ValueRulesConfig struct {
	Disable []string `mapstructure:"disable"`
	Enable  []string `mapstructure:"enable"`
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
	for i, name := range cfg.ValueRules.Enable {
		switch {
		case !redact.IsOptionalValueRule(name):
			errs = append(errs, fmt.Errorf("value_rules.enable[%d]: %q is not an optional rule (optional rules: %s; the others are on by default)",
				i, name, strings.Join(redact.OptionalValueRules, ", ")))
		case slices.Contains(cfg.ValueRules.Disable, name):
			errs = append(errs, fmt.Errorf("value_rules.enable[%d]: %q is also in value_rules.disable", i, name))
		}
	}
	for i, k := range cfg.IgnoreKeys {
		if k == "" {
			errs = append(errs, fmt.Errorf("ignore_keys[%d]: must not be empty", i))
		}
	}
	if len(cfg.Scopes) == 0 {
		errs = append(errs, fmt.Errorf("scopes: must name at least one of %s", strings.Join(allScopes, ", ")))
	}
	for i, sc := range cfg.Scopes {
		if !slices.Contains(allScopes, sc) {
			errs = append(errs, fmt.Errorf("scopes[%d]: unknown scope %q (scopes: %s)", i, sc, strings.Join(allScopes, ", ")))
		}
	}
	if cfg.JSONMaxBytes <= 0 {
		errs = append(errs, errors.New("json_max_bytes: must be positive (disable the json rule to stop parsing JSON)"))
	}
	errs = append(errs, cfg.validateActions()...)
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

// validateActions checks default_action, actions and the hash key they may need.
func (cfg *Config) validateActions() []error {
	var errs []error
	hashing := false
	if a, err := redact.ParseAction(cfg.DefaultAction); err != nil {
		errs = append(errs, fmt.Errorf("default_action: %w", err))
	} else if a == redact.ActionHash {
		hashing = true
	}
	names := make([]string, 0, len(cfg.Actions))
	for name := range cfg.Actions {
		names = append(names, name)
	}
	slices.Sort(names) // one error order for one config
	firstHash := ""
	for _, name := range names {
		a, err := redact.ParseAction(cfg.Actions[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("actions.%s: %w", name, err))
		} else if a == redact.ActionHash && firstHash == "" {
			firstHash = "actions." + name
		}
		if !cfg.isRuleName(name) {
			errs = append(errs, fmt.Errorf("actions.%s: no such rule (a value rule, a custom rule, %q or %q<pattern>)",
				name, redact.FieldRuleAction, redact.FieldRulePrefix))
		}
	}
	if firstHash == "" && hashing {
		firstHash = "default_action"
	}
	switch {
	case cfg.HashKey != "" && cfg.HashKeyFile != "":
		errs = append(errs, errors.New("hash_key: set either hash_key or hash_key_file, not both"))
	case firstHash != "" && cfg.HashKey == "" && cfg.HashKeyFile == "":
		errs = append(errs, fmt.Errorf("hash_key: required because %s is hash (or set hash_key_file)", firstHash))
	case cfg.HashKey != "" && len(cfg.HashKey) < minHashKeyLen:
		errs = append(errs, fmt.Errorf("hash_key: must be at least %d bytes, got %d", minHashKeyLen, len(cfg.HashKey)))
	}
	return errs
}

// isRuleName reports whether name can key actions.
func (cfg *Config) isRuleName(name string) bool {
	if redact.IsBuiltinValueRule(name) || name == redact.FieldRuleAction {
		return true
	}
	if pattern, ok := strings.CutPrefix(name, redact.FieldRulePrefix); ok {
		n := redact.NormalizeFieldPattern(pattern)
		if redact.IsDefaultFieldPattern(pattern) {
			return !slices.ContainsFunc(cfg.FieldRules.Remove, func(r string) bool { return redact.NormalizeFieldPattern(r) == n })
		}
		return slices.ContainsFunc(cfg.FieldRules.Add, func(a string) bool { return redact.NormalizeFieldPattern(a) == n })
	}
	return slices.ContainsFunc(cfg.CustomRules, func(cr CustomRuleConfig) bool { return cr.Name == name })
}

// redactOptions translates the configuration for the engine. hashKey is the key read from
// hash_key or hash_key_file. Validate has accepted cfg, so names and actions parse.
func (cfg *Config) redactOptions(hashKey []byte) (redact.Options, error) {
	custom := make([]redact.CustomRule, len(cfg.CustomRules))
	for i, cr := range cfg.CustomRules {
		custom[i] = redact.CustomRule{Name: cr.Name, Regex: cr.Regex}
	}
	def, err := redact.ParseAction(cfg.DefaultAction)
	if err != nil {
		return redact.Options{}, fmt.Errorf("default_action: %w", err)
	}
	actions := make(map[string]redact.Action, len(cfg.Actions))
	for name, a := range cfg.Actions {
		if actions[name], err = redact.ParseAction(a); err != nil {
			return redact.Options{}, fmt.Errorf("actions.%s: %w", name, err)
		}
	}
	return redact.Options{
		Mask:                cfg.Mask,
		AddFieldPatterns:    cfg.FieldRules.Add,
		RemoveFieldPatterns: cfg.FieldRules.Remove,
		AllowKeys:           cfg.AllowKeys,
		IgnoreKeys:          cfg.IgnoreKeys,
		DisableValueRules:   cfg.ValueRules.Disable,
		EnableValueRules:    cfg.ValueRules.Enable,
		CustomRules:         custom,
		Actions:             actions,
		DefaultAction:       def,
		HashKey:             hashKey,
		JSONMaxBytes:        cfg.JSONMaxBytes,
	}, nil
}

// loadHashKey returns the HMAC key from hash_key or hash_key_file (nil when neither is set).
func (cfg *Config) loadHashKey() ([]byte, error) {
	if cfg.HashKeyFile == "" {
		if cfg.HashKey == "" {
			return nil, nil
		}
		return []byte(cfg.HashKey), nil
	}
	data, err := os.ReadFile(cfg.HashKeyFile)
	if err != nil {
		return nil, fmt.Errorf("hash_key_file: read key: %w", err)
	}
	key := bytes.TrimSpace(data)
	if len(key) < minHashKeyLen {
		return nil, fmt.Errorf("hash_key_file: %s holds %d bytes, at least %d are needed", cfg.HashKeyFile, len(key), minHashKeyLen)
	}
	return key, nil
}

// scopeSet says which parts of the data are processed.
type scopeSet struct {
	logAttributes, logBody, resourceAttributes, scopeAttributes bool
	spanAttributes, spanEvents, spanLinks, metricAttributes     bool
}

func (cfg *Config) scopeSet() scopeSet {
	has := func(name string) bool { return slices.Contains(cfg.Scopes, name) }
	return scopeSet{
		logAttributes:      has(ScopeLogAttributes),
		logBody:            has(ScopeLogBody),
		resourceAttributes: has(ScopeResourceAttributes),
		scopeAttributes:    has(ScopeScopeAttributes),
		spanAttributes:     has(ScopeSpanAttributes),
		spanEvents:         has(ScopeSpanEvents),
		spanLinks:          has(ScopeSpanLinks),
		metricAttributes:   has(ScopeMetricAttributes),
	}
}
