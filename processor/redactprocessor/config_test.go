package redactprocessor

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatalf("load testdata/config.yaml: %v", err)
	}
	tests := []struct {
		name     string
		id       component.ID
		expected *Config
		// wantErrs are substrings that must all appear in the validation error.
		wantErrs []string
	}{
		{
			name:     "an empty section gives the defaults",
			id:       component.NewID(metadata.Type),
			expected: &Config{Mask: "[REDACTED]"},
		},
		{
			name: "every option is read",
			id:   component.NewIDWithName(metadata.Type, "full"),
			expected: &Config{
				Mask:       "***",
				Summary:    true,
				AllowKeys:  []string{"session.id", "Trace.Token"},
				FieldRules: FieldRulesConfig{Add: []string{"employee_salary", "x-internal-signature"}, Remove: []string{"session", "pin"}},
				ValueRules: ValueRulesConfig{Disable: []string{"basic_auth"}},
				CustomRules: []CustomRuleConfig{
					{Name: "badge_pin", Regex: `pin-(\d{4})`},
					{Name: "employee_id", Regex: `EMP\d{6}`},
				},
			},
		},
		{
			name:     "an empty mask is rejected",
			id:       component.NewIDWithName(metadata.Type, "empty_mask"),
			wantErrs: []string{"mask: must not be empty"},
		},
		{
			name:     "an invalid expression names its rule index and the parser error",
			id:       component.NewIDWithName(metadata.Type, "bad_regex"),
			wantErrs: []string{"custom_rules[1].regex: error parsing regexp: missing closing )"},
		},
		{
			name:     "a custom rule without a name is rejected",
			id:       component.NewIDWithName(metadata.Type, "unnamed_rule"),
			wantErrs: []string{"custom_rules[0].name: must not be empty"},
		},
		{
			name:     "a custom rule cannot take a built-in name",
			id:       component.NewIDWithName(metadata.Type, "builtin_name"),
			wantErrs: []string{`custom_rules[0].name: "jwt" is the name of a built-in rule`},
		},
		{
			name:     "two custom rules cannot share a name",
			id:       component.NewIDWithName(metadata.Type, "duplicate_name"),
			wantErrs: []string{`custom_rules[1].name: "a" is already used by custom_rules[0]`},
		},
		{
			name:     "a custom rule needs an expression",
			id:       component.NewIDWithName(metadata.Type, "empty_regex"),
			wantErrs: []string{"custom_rules[0].regex: must not be empty"},
		},
		{
			name:     "disabling an unknown rule names it and lists the known ones",
			id:       component.NewIDWithName(metadata.Type, "unknown_disable"),
			wantErrs: []string{`value_rules.disable[1]: unknown rule "card"`, "card_number"},
		},
		{
			name:     "removing a pattern that is not a default is rejected",
			id:       component.NewIDWithName(metadata.Type, "unknown_remove"),
			wantErrs: []string{`field_rules.remove[0]: "pasword" is not a default field pattern`},
		},
		{
			name:     "an added pattern needs letters or digits",
			id:       component.NewIDWithName(metadata.Type, "bad_add"),
			wantErrs: []string{`field_rules.add[0]: "--" needs at least two letters or digits`},
		},
		{
			name:     "an empty allowed key is rejected",
			id:       component.NewIDWithName(metadata.Type, "empty_allow_key"),
			wantErrs: []string{"allow_keys[0]: must not be empty"},
		},
		{
			name: "every problem is reported at once",
			id:   component.NewIDWithName(metadata.Type, "several_problems"),
			wantErrs: []string{
				"mask: must not be empty",
				"custom_rules[0].name: must not be empty",
				"custom_rules[0].regex: error parsing regexp",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			if err != nil {
				t.Fatalf("Sub(%s): %v", tt.id, err)
			}
			if err := sub.Unmarshal(cfg); err != nil {
				t.Fatalf("Unmarshal(%s): %v", tt.id, err)
			}
			err = confmap.Validate(cfg)
			if len(tt.wantErrs) > 0 {
				if err == nil {
					t.Fatalf("Validate(%s) = nil, want an error containing %q", tt.id, tt.wantErrs)
				}
				for _, want := range tt.wantErrs {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("Validate(%s) = %q, want it to contain %q", tt.id, err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate(%s): %v", tt.id, err)
			}
			if !reflect.DeepEqual(cfg, tt.expected) {
				t.Errorf("config %s =\n%+v\nwant\n%+v", tt.id, cfg, tt.expected)
			}
		})
	}
}

func TestConfig_ValidConfigBuildsAProcessor(t *testing.T) {
	// Validate and the engine must agree: what Validate accepts, the engine builds.
	cfg := &Config{
		Mask:        "#",
		AllowKeys:   []string{"a"},
		FieldRules:  FieldRulesConfig{Add: []string{"xy"}, Remove: []string{"API-KEY"}},
		ValueRules:  ValueRulesConfig{Disable: []string{"jwt", "key_value"}},
		CustomRules: []CustomRuleConfig{{Name: "n", Regex: `\d+`}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if _, err := newRedactProcessor(cfg); err != nil {
		t.Fatalf("newRedactProcessor with a valid config: %v", err)
	}
}
