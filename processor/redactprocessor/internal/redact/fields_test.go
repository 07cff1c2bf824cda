package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestRedactor(t testing.TB, o Options) *Redactor {
	t.Helper()
	r, err := New(o)
	require.NoError(t, err, "New(%+v)", o)
	return r
}

func TestClassifyKey_DefaultPatterns(t *testing.T) {
	r := newTestRedactor(t, Options{})
	tests := []struct {
		name string
		key  string
		want KeyVerdict
		rule string
	}{
		// Secrets, however the key is spelled.
		{"a dotted key ending in password is secret", "db.password", KeySecret, "field:password"},
		{"a header name with dashes is secret", "X-Api-Key", KeySecret, "field:api_key"},
		{"a snake_case client secret is secret", "client_secret", KeySecret, "field:secret"},
		{"a camelCase session token is secret", "sessionToken", KeySecret, "field:token"},
		{"an acronym followed by a word is split", "APIKey", KeySecret, "field:api_key"},
		{"an all-caps joined key matches", "APIKEY", KeySecret, "field:api_key"},
		{"a pattern glued inside one word matches", "dbpassword", KeySecret, "field:password"},
		{"the plural of a secret is secret", "passwords", KeySecret, "field:password"},
		{"plural api keys are secret", "x_api_keys", KeySecret, "field:api_key"},
		{"plural access tokens are secret", "access_tokens", KeySecret, "field:access_token"},
		{"an authorization header is secret", "Authorization", KeySecret, "field:authorization"},
		{"a proxy authorization header is secret", "proxy-authorization", KeySecret, "field:authorization"},
		{"a set-cookie header is secret", "Set-Cookie", KeySecret, "field:cookie"},
		{"a session id is secret", "session.id", KeySecret, "field:session"},
		{"credentials in the plural are secret", "aws.credentials", KeySecret, "field:credential"},
		{"a private key is secret", "tls.private_key", KeySecret, "field:private_key"},
		{"a short pattern as a whole word is secret", "user.ssn", KeySecret, "field:ssn"},
		{"pwd as a whole word is secret", "PWD", KeySecret, "field:pwd"},
		{"cvv as a whole word is secret", "card.cvv", KeySecret, "field:cvv"},
		{"a card number is secret", "payment.card_number", KeySecret, "field:card_number"},
		{"a credit card number is secret", "creditCardNumber", KeySecret, "field:card_number"},
		{"an OAuth2 token is secret", "OAuth2Token", KeySecret, "field:token"},
		{"a password reset is not a qualifier", "password_reset", KeySecret, "field:password"},
		{"a hit in the last word beats a qualifier", "policy.token", KeySecret, "field:token"},
		{"a password hash is secret", "password_hash", KeySecret, "field:password"},

		// Near misses that must survive.
		{"a token count is a number, not a secret", "token_count", KeyPlain, ""},
		{"tokens used is a number", "tokens_used", KeyPlain, ""},
		{"gen_ai input tokens is a count", "gen_ai.usage.input_tokens", KeyPlain, ""},
		{"max tokens is a limit", "gen_ai.request.max_tokens", KeyPlain, ""},
		{"a tokenizer is a name", "tokenizer", KeyPlain, ""},
		{"a password policy describes passwords", "password_policy", KeyPlain, ""},
		{"a password length describes a password", "password.length", KeyPlain, ""},
		{"a secret name is a reference", "k8s.secret.name", KeyPlain, ""},
		{"a session duration is a measure", "session.duration", KeyPlain, ""},
		{"a token type is the scheme", "token_type", KeyPlain, ""},
		{"process.name does not hide ssn", "process.name", KeyPlain, ""},
		{"classname does not hide ssn", "classname", KeyPlain, ""},
		{"business number does not hide ssn", "business_number", KeyPlain, ""},
		{"spinner does not hide pin", "spinner", KeyPlain, ""},
		{"a pattern straddling words is no hit", "sec_retention", KeyPlain, ""},
		{"a secretary is a person", "secretary", KeyPlain, ""},
		{"possession does not hide session", "possession", KeyPlain, ""},
		{"an author is not an authorization", "author", KeyPlain, ""},
		{"an ordinary key is plain", "http.request.method", KeyPlain, ""},
		{"a user id is plain", "user.id", KeyPlain, ""},
		{"an empty key is plain", "", KeyPlain, ""},
		{"a key of separators only is plain", "--..__", KeyPlain, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rule := r.ClassifyKey(tt.key)
			assert.Equal(t, tt.want, got, "ClassifyKey(%q) verdict", tt.key)
			assert.Equal(t, tt.rule, rule, "ClassifyKey(%q) rule", tt.key)
		})
	}
}

func TestClassifyKey_Options(t *testing.T) {
	r := newTestRedactor(t, Options{
		AddFieldPatterns:    []string{"Employee-Salary", "tokens"},
		RemoveFieldPatterns: []string{"SESSION", "pin"},
		AllowKeys:           []string{"Trace.Token", "db.password"},
	})
	tests := []struct {
		name string
		key  string
		want KeyVerdict
	}{
		{"an added pattern matches in its normal form", "hr.employee_salary", KeySecret},
		{"an added pattern matches camelCase", "employeeSalary", KeySecret},
		{"a user pattern equal to a benign word matches that word", "input_tokens", KeySecret},
		{"a removed default no longer matches", "session.id", KeyPlain},
		{"a removed short default no longer matches", "pin", KeyPlain},
		{"other defaults still match", "session.token", KeySecret},
		{"an allowed key is allowed whatever its case", "TRACE.TOKEN", KeyAllowed},
		{"allow_keys match the exact key only", "db.password.old", KeySecret},
		{"an allowed key that is also a pattern is allowed", "db.password", KeyAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := r.ClassifyKey(tt.key)
			assert.Equal(t, tt.want, got, "ClassifyKey(%q)", tt.key)
		})
	}
}

func TestNormalizeKey_SplitsWords(t *testing.T) {
	tests := []struct {
		key   string
		words []string
	}{
		{"X-Api-Key", []string{"x", "api", "key"}},
		{"sessionToken", []string{"session", "token"}},
		{"APIKey", []string{"api", "key"}},
		{"OAuth2Token", []string{"o", "auth2", "token"}},
		{"db.password", []string{"db", "password"}},
		{"__", nil},
	}
	for _, tt := range tests {
		buf, starts := normalizeKey(tt.key, nil, nil)
		var words []string
		for i := 0; i+1 < len(starts); i++ {
			words = append(words, string(buf[starts[i]:starts[i+1]]))
		}
		assert.Equal(t, tt.words, words, "normalizeKey(%q) words", tt.key)
	}
}

func TestClassifyKey_LongKeysStillMatch(t *testing.T) {
	r := newTestRedactor(t, Options{})
	long := ""
	for len(long) < 2*maxKeyLen {
		long += "segment."
	}
	got, _ := r.ClassifyKey(long + "password")
	assert.Equal(t, KeySecret, got, "a %d-byte key ending in password", len(long)+8)
}

func TestClassifyKey_DoesNotAllocate(t *testing.T) {
	r := newTestRedactor(t, Options{AllowKeys: []string{"keep.me"}})
	keys := []string{"http.request.method", "db.password", "gen_ai.usage.input_tokens", "user_agent.original"}
	allocs := testing.AllocsPerRun(100, func() {
		for _, k := range keys {
			r.ClassifyKey(k)
		}
	})
	assert.Zero(t, allocs, "ClassifyKey allocations per run")
}
