package redactprocessor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err, "load testdata/config.yaml")
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
			expected: &Config{Mask: "[REDACTED]", Scopes: allScopes, DefaultAction: "mask", JSONMaxBytes: 65536},
		},
		{
			name: "every option is read",
			id:   component.NewIDWithName(metadata.Type, "full"),
			expected: &Config{
				Mask:       "***",
				Summary:    true,
				AllowKeys:  []string{"session.id", "Trace.Token"},
				FieldRules: FieldRulesConfig{Add: []string{"employee_salary", "x-internal-signature"}, Remove: []string{"session", "pin"}},
				ValueRules: ValueRulesConfig{Disable: []string{"basic_auth"}, Enable: []string{"email", "phone"}},
				CustomRules: []CustomRuleConfig{
					{Name: "badge_pin", Regex: `pin-(\d{4})`},
					{Name: "employee_id", Regex: `EMP\d{6}`},
				},
				IgnoreKeys:    []string{"trace_id", "content.sha256"},
				Scopes:        []string{"log_attributes", "log_body", "span_attributes"},
				DefaultAction: "partial",
				Actions: map[string]string{
					"card_number": "partial", "jwt": "hash", "field": "hash", "field:employee_salary": "mask", "badge_pin": "mask",
				},
				HashKey:      "0123456789abcdef0123456789abcdef",
				JSONMaxBytes: 4096,
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
			name:     "a hash action without a key names the action and hash_key",
			id:       component.NewIDWithName(metadata.Type, "hash_without_key"),
			wantErrs: []string{"hash_key: required because actions.jwt is hash"},
		},
		{
			name:     "a hash default action without a key names default_action",
			id:       component.NewIDWithName(metadata.Type, "hash_default_without_key"),
			wantErrs: []string{"hash_key: required because default_action is hash"},
		},
		{
			name:     "a short hash key is rejected",
			id:       component.NewIDWithName(metadata.Type, "short_hash_key"),
			wantErrs: []string{"hash_key: must be at least 32 bytes, got 5"},
		},
		{
			name:     "a hash key and a key file cannot both be set",
			id:       component.NewIDWithName(metadata.Type, "two_hash_keys"),
			wantErrs: []string{"hash_key: set either hash_key or hash_key_file, not both"},
		},
		{
			name:     "an unknown action is rejected with its rule",
			id:       component.NewIDWithName(metadata.Type, "bad_action"),
			wantErrs: []string{`actions.jwt: unknown action "drop"`, `default_action: unknown action "erase"`},
		},
		{
			name:     "an action for a rule that does not exist is rejected",
			id:       component.NewIDWithName(metadata.Type, "unknown_action_rule"),
			wantErrs: []string{"actions.jwtt: no such rule", "actions.field:pasword: no such rule", "actions.field:pin: no such rule"},
		},
		{
			name:     "enabling a rule that is not optional is rejected",
			id:       component.NewIDWithName(metadata.Type, "bad_enable"),
			wantErrs: []string{`value_rules.enable[0]: "jwt" is not an optional rule`, `value_rules.enable[1]: "email" is also in value_rules.disable`},
		},
		{
			name:     "an unknown scope is rejected",
			id:       component.NewIDWithName(metadata.Type, "bad_scope"),
			wantErrs: []string{`scopes[1]: unknown scope "span_names"`},
		},
		{
			name:     "an empty scope list is rejected",
			id:       component.NewIDWithName(metadata.Type, "no_scopes"),
			wantErrs: []string{"scopes: must name at least one of"},
		},
		{
			name:     "an empty ignored key and a zero JSON limit are rejected",
			id:       component.NewIDWithName(metadata.Type, "bad_ignore_and_json"),
			wantErrs: []string{"ignore_keys[0]: must not be empty", "json_max_bytes: must be positive"},
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
			require.NoError(t, err, "Sub(%s)", tt.id)
			require.NoError(t, sub.Unmarshal(cfg), "Unmarshal(%s)", tt.id)
			err = confmap.Validate(cfg)
			if len(tt.wantErrs) > 0 {
				require.Error(t, err, "Validate(%s) = nil, want an error containing %q", tt.id, tt.wantErrs)
				for _, want := range tt.wantErrs {
					assert.ErrorContains(t, err, want, "Validate(%s) = %q, want it to contain %q", tt.id, err, want)
				}
				return
			}
			require.NoError(t, err, "Validate(%s)", tt.id)
			assert.Equal(t, tt.expected, cfg, "config %s =\n%+v\nwant\n%+v", tt.id, cfg, tt.expected)
		})
	}
}

func TestConfig_ValidConfigBuildsAProcessor(t *testing.T) {
	// Validate and the engine must agree: what Validate accepts, the engine builds.
	cfg := defaultConfig(func(c *Config) {
		c.Mask = "#"
		c.AllowKeys = []string{"a"}
		c.IgnoreKeys = []string{"b"}
		c.FieldRules = FieldRulesConfig{Add: []string{"xy"}, Remove: []string{"API-KEY"}}
		c.ValueRules = ValueRulesConfig{Disable: []string{"jwt", "key_value"}, Enable: []string{"ipv6"}}
		c.CustomRules = []CustomRuleConfig{{Name: "n", Regex: `\d+`}}
		c.Actions = map[string]string{"n": "hash", "field:xy": "partial", "field:password": "mask"}
		c.HashKey = "0123456789abcdef0123456789abcdef"
	})
	require.NoError(t, cfg.Validate(), "Validate")
	_, err := newRedactProcessor(cfg, nil, zap.NewNop())
	assert.NoError(t, err, "newRedactProcessor with a valid config")
}

func TestConfig_HashKeyFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "key")
	require.NoError(t, os.WriteFile(good, []byte("0123456789abcdef0123456789abcdef\n"), 0o600))
	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("abc\n"), 0o600))
	hashing := func(file string) *Config {
		return defaultConfig(func(c *Config) { c.DefaultAction = "hash"; c.HashKeyFile = file })
	}

	t.Run("a key read from a file hashes like the same inline key", func(t *testing.T) {
		fromFile, err := newRedactProcessor(hashing(good), nil, zap.NewNop())
		require.NoError(t, err)
		inline, err := newRedactProcessor(defaultConfig(func(c *Config) {
			c.DefaultAction = "hash"
			c.HashKey = "0123456789abcdef0123456789abcdef"
		}), nil, zap.NewNop())
		require.NoError(t, err)
		a := fromFile.redactor.RedactString("password=hunter2", nil)
		b := inline.redactor.RedactString("password=hunter2", nil)
		assert.Equal(t, b, a, "file key gave %q, inline key %q; want the same HMAC marker", a, b)
		assert.True(t, strings.HasPrefix(a, "password=[HMAC:"), "file key gave %q, inline key %q; want the same HMAC marker", a, b)
	})
	t.Run("a missing file is an error naming hash_key_file", func(t *testing.T) {
		_, err := newRedactProcessor(hashing(filepath.Join(dir, "absent")), nil, zap.NewNop())
		assert.ErrorContains(t, err, "hash_key_file: read key", "err = %v, want a hash_key_file read error", err)
	})
	t.Run("a short key in a file is an error naming hash_key_file", func(t *testing.T) {
		_, err := newRedactProcessor(hashing(short), nil, zap.NewNop())
		assert.ErrorContains(t, err, "hash_key_file:", "err = %v, want a hash_key_file length error", err)
		assert.ErrorContains(t, err, "3 bytes", "err = %v, want a hash_key_file length error", err)
	})
}

func TestConfig_ReadmeExampleValidates(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "readme").String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg), "the README example does not validate")
	const msg = "the README example was not read whole: %+v"
	assert.Equal(t, "mask", cfg.Actions["field:password"], msg, cfg)
	assert.NotEmpty(t, cfg.HashKeyFile, msg, cfg)
	assert.Len(t, cfg.Scopes, len(allScopes), msg, cfg)
}
