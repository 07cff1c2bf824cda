package redact

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
		"eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." +
		"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	testPEM = "-----BEGIN RSA PRIVATE KEY-----\n" +
		"MIIEowIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aozN3tihPmljnnudb9G3HECdnH\n" +
		"lWu2/a1gB9JW5TBQ+AVpum9Okx7KfqkfBKL9mcHgSL0yWMdjMfNOqNtrQqKlN4kE\n" +
		"-----END RSA PRIVATE KEY-----"
	testCard = "4111111111111111"
)

type stringCase struct {
	name  string
	in    string
	want  string
	rules []string // rule names the report must list; nil when nothing is redacted
}

func runStringCases(t *testing.T, r *Redactor, tests []stringCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rep Report
			got := r.RedactString(tt.in, &rep)
			assert.Equal(t, tt.want, got, "RedactString(%q)", tt.in)
			if len(tt.rules) == 0 {
				assert.Empty(t, rep.Rules, "RedactString(%q) reported rules", tt.in)
			} else {
				assert.Equal(t, tt.rules, rep.Rules, "RedactString(%q) reported rules", tt.in)
			}
			assert.Equal(t, tt.rules == nil, rep.Count == 0, "RedactString(%q) reported count %d with rules %q", tt.in, rep.Count, tt.rules)
		})
	}
}

func TestRedactString_JWT(t *testing.T) {
	runStringCases(t, newTestRedactor(t, Options{}), []stringCase{
		{"a signed JWT in a message is masked, the text kept", "auth with " + testJWT + " done",
			"auth with [REDACTED] done", []string{RuleJWT}},
		{"an unsigned JWT with an empty signature is masked", "t=eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
			"t=[REDACTED]", []string{RuleJWT}},
		{"a five-segment JWE is masked whole", "eyJhbGciOiJkaXIifQ..iv12.cipher.tag",
			"[REDACTED]", []string{RuleJWT}},
		{"a lone base64 JSON segment is not a JWT", "eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9", nil},
		{"the letters eyJ in prose are not a JWT", "heyJohn.how.are", "heyJohn.how.are", nil},
	})
}

func TestRedactString_BearerToken(t *testing.T) {
	runStringCases(t, newTestRedactor(t, Options{}), []stringCase{
		{"a bearer token in prose is masked", "sent Bearer abc123def456 upstream",
			"sent Bearer [REDACTED] upstream", []string{RuleBearerToken}},
		{"a token68 with punctuation is masked", "bearer mF_9.B5f-4.1JqM",
			"bearer [REDACTED]", []string{RuleBearerToken}},
		{"a long letters-only token is masked", "BEARER abcdefghijklmnopqrstuvwxyz",
			"BEARER [REDACTED]", []string{RuleBearerToken}},
		{"the phrase bearer token survives", "use a bearer token for this API",
			"use a bearer token for this API", nil},
		{"bearer authentication in prose survives", "Bearer authentication is required",
			"Bearer authentication is required", nil},
	})
}

func TestRedactString_BasicAuth(t *testing.T) {
	runStringCases(t, newTestRedactor(t, Options{}), []stringCase{
		{"base64 of user:password is masked", "Basic dXNlcjpwYXNzd29yZA== sent",
			"Basic [REDACTED] sent", []string{RuleBasicAuth}},
		{"unpadded base64 of user:pass is masked", "basic dXNlcjpwYXNz",
			"basic [REDACTED]", []string{RuleBasicAuth}},
		{"basic followed by a word survives", "Basic information", "Basic information", nil},
		{"base64 without a colon is not a credential", "basic aGVsbG8=", "basic aGVsbG8=", nil},
	})
}

func TestRedactString_PEMPrivateKey(t *testing.T) {
	runStringCases(t, newTestRedactor(t, Options{}), []stringCase{
		{"a private key block is masked, the text around kept", "loaded " + testPEM + " ok",
			"loaded [REDACTED] ok", []string{RulePEMPrivateKey}},
		{"an OpenSSH key block is masked",
			"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----",
			"[REDACTED]", []string{RulePEMPrivateKey}},
		{"a PGP private key block is masked",
			"-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----",
			"[REDACTED]", []string{RulePEMPrivateKey}},
		{"a block with escaped newlines is masked",
			`{"k":"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----"}`,
			`{"k":"[REDACTED]"}`, []string{RulePEMPrivateKey}},
		{"a truncated block is masked to the end", "key: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEE",
			"key: [REDACTED]", []string{RulePEMPrivateKey}},
		{"a certificate survives", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
			"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", nil},
		{"a public key survives", "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
			"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", nil},
	})
}

func TestRedactString_CardNumber(t *testing.T) {
	runStringCases(t, newTestRedactor(t, Options{}), []stringCase{
		{"a Visa test number in spaced groups is masked", "card 4111 1111 1111 1111 exp 12/26",
			"card [REDACTED] exp 12/26", []string{RuleCardNumber}},
		{"a dashed number is masked", "4111-1111-1111-1111", "[REDACTED]", []string{RuleCardNumber}},
		{"a plain Mastercard number is masked", "pan=5555555555554444;", "pan=[REDACTED];", []string{RuleCardNumber}},
		{"a 15-digit Amex number is masked", "amex 3782 822463 10005", "amex [REDACTED]", []string{RuleCardNumber}},
		{"a card among other digit groups is masked alone", "ref 12 4111 1111 1111 1111",
			"ref 12 [REDACTED]", []string{RuleCardNumber}},
		{"two cards are both masked", "4111111111111111 and 6011111111111117",
			"[REDACTED] and [REDACTED]", []string{RuleCardNumber}},
		{"a Luhn-invalid 16-digit number survives", "order 4111111111111112",
			"order 4111111111111112", nil},
		{"a 22-digit identifier survives", "id 4111111111111111111111", "id 4111111111111111111111", nil},
		{"an ISBN-13 survives", "isbn 978-3-16-148410-0", "isbn 978-3-16-148410-0", nil},
		{"a nanosecond timestamp survives", "ts=1704067200123456789", "ts=1704067200123456789", nil},
		{"twelve digits are too few", "411111111111", "411111111111", nil},
	})
}

func TestRedactString_AWSAccessKeyID(t *testing.T) {
	runStringCases(t, newTestRedactor(t, Options{}), []stringCase{
		{"a long-term access key id is masked", "using AKIAIOSFODNN7EXAMPLE now",
			"using [REDACTED] now", []string{RuleAWSAccessKeyID}},
		{"a temporary access key id is masked", "ASIAY34FZKBOKMUTVV7A", "[REDACTED]", []string{RuleAWSAccessKeyID}},
		{"a 19-character look-alike survives", "AKIAIOSFODNN7EXAMPL", "AKIAIOSFODNN7EXAMPL", nil},
		{"lower-case characters break the id", "AKIAiosfodnn7example", "AKIAiosfodnn7example", nil},
		{"the word ASIAN survives", "ASIAN markets opened", "ASIAN markets opened", nil},
	})
}

func TestRedactString_URLPassword(t *testing.T) {
	runStringCases(t, newTestRedactor(t, Options{}), []stringCase{
		{"a database URL keeps all but the password", "dsn postgres://app:s3cr3t@db:5432/audit",
			"dsn postgres://app:[REDACTED]@db:5432/audit", []string{RuleURLPassword}},
		{"a password without a user is masked", "redis://:pass@cache:6379",
			"redis://:[REDACTED]@cache:6379", []string{RuleURLPassword}},
		{"a port is not a password", "https://example.com:8443/path?q=1",
			"https://example.com:8443/path?q=1", nil},
		{"a user without password survives", "ssh://git@example.com/repo", "ssh://git@example.com/repo", nil},
	})
}

func TestRedactString_KeyValue(t *testing.T) {
	runStringCases(t, newTestRedactor(t, Options{}), []stringCase{
		{"a logfmt password is masked, its neighbours kept", "login failed password=hunter2 user=bob",
			"login failed password=[REDACTED] user=bob", []string{RuleKeyValue}},
		{"a JSON string value in text is masked inside its quotes", `sent {"user":"bob","password":"hunter2"}`,
			`sent {"user":"bob","password":"[REDACTED]"}`, []string{RuleKeyValue}},
		{"doubly encoded JSON is masked inside its quotes", `{\"password\":\"hunter2\"}`,
			`{\"password\":\"[REDACTED]\"}`, []string{RuleKeyValue}},
		{"an escaped quote does not end a value", `got {"secret":"a\"b","x":1}`,
			`got {"secret":"[REDACTED]","x":1}`, []string{RuleKeyValue}},
		{"a JSON number in text is masked up to the comma", `got {"pin": 1234, "x": 1}`,
			`got {"pin": [REDACTED], "x": 1}`, []string{RuleKeyValue}},
		{"a nested object under a secret key is masked whole", `"credentials": {"user": "a", "pass": "b"}, "ok": true`,
			`"credentials": [REDACTED], "ok": true`, []string{RuleKeyValue}},
		{"a header line is masked to its end", "Cookie: a=1; b=2\nHost: x",
			"Cookie: [REDACTED]\nHost: x", []string{RuleKeyValue}},
		{"an authorization header is masked with its scheme", "Authorization: Bearer abc",
			"Authorization: [REDACTED]", []string{RuleKeyValue}},
		{"a query parameter is masked up to the ampersand", "/cb?code=1&access_token=abc.def&state=x",
			"/cb?code=1&access_token=[REDACTED]&state=x", []string{RuleURLQuery, RuleKeyValue}},
		{"a quoted value with spaces is masked", `password = "hunter 2"`, `password = "[REDACTED]"`, []string{RuleKeyValue}},
		{"a colon without a space masks one word", "token:abc def", "token:[REDACTED] def", []string{RuleKeyValue}},
		{"a scheme after = takes the next word", "auth_token=Bearer xyz rest", "auth_token=[REDACTED] rest", []string{RuleKeyValue}},
		{"a token count survives", "token_count=5 tokens_used=10", "token_count=5 tokens_used=10", nil},
		{"a password policy survives", "password_policy: strict", "password_policy: strict", nil},
		{"a comparison is not an assignment", "if token == nil", "if token == nil", nil},
		{"a tokenizer name survives", "tokenizer=cl100k_base", "tokenizer=cl100k_base", nil},
		{"a key with nothing after it survives", "password=", "password=", nil},
		{"a clock time survives", "at 03:04:05", "at 03:04:05", nil},
		{"a masked value is not masked again", "password=[REDACTED] user=bob", "password=[REDACTED] user=bob", nil},
	})
}

func TestRedactString_OverlappingFindingsAreMaskedOnce(t *testing.T) {
	runStringCases(t, newTestRedactor(t, Options{}), []stringCase{
		{"a header holding a JWT is one mask reported by every rule that found it", "Authorization: Bearer " + testJWT,
			"Authorization: [REDACTED]", []string{RuleKeyValue, RuleJWT, RuleBearerToken}},
		{"a URL password that is a JWT is one mask", "https://u:" + testJWT + "@h/",
			"https://u:[REDACTED]@h/", []string{RuleJWT, RuleURLPassword}},
	})
}

func TestRedactString_NearMissesSurvive(t *testing.T) {
	r := newTestRedactor(t, Options{})
	for _, s := range []string{
		"550e8400-e29b-41d4-a716-446655440000",     // UUID
		"4bf92f3577b34da6a3ce929d0e0e4736",         // trace id
		"00f067aa0ba902b7",                         // span id
		"da39a3ee5e6b4b0d3255bfef95601890afd80709", // git SHA-1
		"2024-01-02T03:04:05Z",
		"2024-01-02T03:04:05.123456789+02:00",
		"v1.68.0", "1.2.3-rc.1+build.5", "0.162.0",
		"tokenizer", "The secret garden", "reset your password", "session expired",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"GET /api/v1/users/42?limit=100&cursor=abc",
		"https://example.com/login?next=/home",
		"+1 (555) 123-4567", "192.168.10.1:8080", "[::1]:4317",
		"4111111111111112", "1234 5678 9012 3456",
	} {
		var rep Report
		assert.Equal(t, s, r.RedactString(s, &rep), "RedactString(%q), want it unchanged", s)
		assert.Zero(t, rep.Count, "RedactString(%q) count, want it unchanged", s)
	}
}

func TestRedactString_Options(t *testing.T) {
	t.Run("a disabled rule does not run", func(t *testing.T) {
		r := newTestRedactor(t, Options{DisableValueRules: []string{RuleKeyValue, RuleCardNumber}})
		runStringCases(t, r, []stringCase{
			{"key_value off", "password=hunter2", "password=hunter2", nil},
			{"card_number off", testCard, testCard, nil},
			{"jwt still on", testJWT, "[REDACTED]", []string{RuleJWT}},
		})
		_, ok := r.RedactInt(4111111111111111, nil)
		assert.False(t, ok, "RedactInt masked a card number with card_number disabled")
	})
	t.Run("a custom rule with a group masks the group", func(t *testing.T) {
		r := newTestRedactor(t, Options{CustomRules: []CustomRule{
			{Name: "badge_pin", Regex: `pin-(\d{4})`},
			{Name: "employee_id", Regex: `EMP\d{6}`},
		}})
		runStringCases(t, r, []stringCase{
			{"grouped", "badge pin-1234 ok", "badge pin-[REDACTED] ok", []string{"badge_pin"}},
			{"whole match", "by EMP123456.", "by [REDACTED].", []string{"employee_id"}},
			{"no match", "pin-12", "pin-12", nil},
		})
	})
	t.Run("the mask is configurable", func(t *testing.T) {
		r := newTestRedactor(t, Options{Mask: "***"})
		runStringCases(t, r, []stringCase{
			{"custom mask", "password=x", "password=***", []string{RuleKeyValue}},
			{"custom mask is idempotent", "password=***", "password=***", nil},
		})
	})
}

func TestNew_RejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"an unknown disabled rule", Options{DisableValueRules: []string{"jwtt"}}, `"jwtt"`},
		{"a custom rule without a name", Options{CustomRules: []CustomRule{{Regex: "x"}}}, "custom rule 0: empty name"},
		{"a custom rule named like a built-in", Options{CustomRules: []CustomRule{{Name: "jwt", Regex: "x"}}}, "built-in"},
		{"an invalid expression", Options{CustomRules: []CustomRule{{Name: "a", Regex: "("}}}, "error parsing regexp"},
		{"a field pattern without letters", Options{AddFieldPatterns: []string{"--"}}, "at least two letters or digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.o)
			assert.ErrorContains(t, err, tt.want, "New()")
		})
	}
}

func TestRedactInt_CardNumbers(t *testing.T) {
	r := newTestRedactor(t, Options{})
	tests := []struct {
		name string
		v    int64
		want bool
	}{
		{"a Luhn-valid 16-digit number is a card", 4111111111111111, true},
		{"a Luhn-invalid number is not", 4111111111111112, false},
		{"a nanosecond timestamp is not", 1704067200123456789, false},
		{"a small number is not", 42, false},
		{"a negative number is not", -4111111111111111, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rep Report
			_, got := r.RedactInt(tt.v, &rep)
			assert.Equal(t, tt.want, got, "RedactInt(%d)", tt.v)
			assert.Equal(t, tt.want, rep.Count == 1, "RedactInt(%d) count %d", tt.v, rep.Count)
		})
	}
}

func TestRedactString_DoesNotAllocateWithoutSecrets(t *testing.T) {
	r := newTestRedactor(t, Options{})
	inputs := []string{
		"GET", "/api/v1/users/42", "2024-01-02T03:04:05Z", "4bf92f3577b34da6a3ce929d0e0e4736",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "user logged in from 10.0.0.1",
		"a=b c=d", "https://example.com/path", "order 4111111111111112",
		"user.created", "550e8400-e29b-41d4-a716-446655440000",
		// Strings that pass the gates and literal checks of the second-stage rules.
		"/search?q=signature+design&page=2", "license_key=standard-edition", "xoxb- only",
		`{"a":[1,2,{"b":null}],"c":"d","e":"f g h"}`, "[1, 2, 3]",
		"aws secret rotated da39a3ee5e6b4b0d3255bfef95601890afd80709", "ghp_short github_pat_x",
		"task_live_abcdefghijklmnopqrstuvwxyz", "see https://hooks.slack.com/services/",
	}
	allocs := testing.AllocsPerRun(200, func() {
		for _, s := range inputs {
			// A plain comparison here: require.Equal would box its arguments and allocate.
			if r.RedactString(s, nil) != s {
				require.FailNow(t, "changed a string without secrets", "RedactString(%q)", s)
			}
		}
	})
	assert.Zero(t, allocs, "RedactString allocations per run on strings without secrets")
}

func TestRedactString_ReturnsTheSameStringWhenNothingIsFound(t *testing.T) {
	r := newTestRedactor(t, Options{})
	for _, s := range []string{strings.Repeat("plain text ", 10), "password=[REDACTED]"} {
		got := r.RedactString(s, nil)
		assert.Equal(t, s, got, "RedactString(%q) changed the string", s)
		assert.True(t, unsafe.StringData(got) == unsafe.StringData(s), "RedactString(%q) returned a copy", s)
	}
}
