package redact

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeToken returns n deterministic characters from alphabet, mixing cases and digits like a
// real random token; tests build vendor tokens from it so that no real-looking credential is
// written in the source.
func fakeToken(n int, alphabet string) string {
	var b strings.Builder
	x := uint32(2463534242)
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte(alphabet[int(x%uint32(len(alphabet)))])
	}
	return b.String()
}

const (
	base62    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	base64URL = base62 + "-_"
	// awsDocsSecret is the example secret access key of the AWS documentation.
	awsDocsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

var (
	ghpToken    = "ghp_" + fakeToken(36, base62)
	ghPAT       = "github_pat_" + fakeToken(22, base62) + "_" + fakeToken(59, base62)
	glToken     = "glpat-" + fakeToken(20, base64URL)
	slackBot    = "xoxb-123456789012-1234567890123-" + fakeToken(24, base62)
	slackApp    = "xapp-1-A0123456789-1234567890123-" + strings.ToLower(fakeToken(32, base62))
	stripeLive  = "sk_live_" + fakeToken(24, base62)
	stripeTest  = "sk_test_" + fakeToken(24, base62)
	stripeRK    = "rk_live_" + fakeToken(24, base62)
	googleKey   = "AIza" + fakeToken(35, base64URL)
	slackHook   = "T00000000/B00000000/" + fakeToken(24, base62)
	randomValue = fakeToken(24, base62)
)

func TestRedactString_AWSSecretAccessKey(t *testing.T) {
	runStringCases(t, newTestRedactor(t, Options{}), []stringCase{
		{"a secret key after the word aws is masked", "aws creds AKIAIOSFODNN7EXAMPLE " + awsDocsSecret + " loaded",
			"aws creds [REDACTED] [REDACTED] loaded", []string{RuleAWSAccessKeyID, RuleAWSSecretKey}},
		{"a secret key in an env dump is masked", "AWS_SECRET_ACCESS_KEY=" + awsDocsSecret,
			"AWS_SECRET_ACCESS_KEY=[REDACTED]", []string{RuleAWSSecretKey, RuleKeyValue}},
		{"a secret key near the word secret is masked", "the secret is " + awsDocsSecret + ".",
			"the secret is [REDACTED].", []string{RuleAWSSecretKey}},
		{"40 base64 characters with no aws or secret nearby survive", "object " + awsDocsSecret,
			"object " + awsDocsSecret, nil},
		{"a git SHA-1 near the word secret survives", "secret rotated in da39a3ee5e6b4b0d3255bfef95601890afd80709",
			"secret rotated in da39a3ee5e6b4b0d3255bfef95601890afd80709", nil},
		{"a 41-character run survives", "aws " + awsDocsSecret + "X", "aws " + awsDocsSecret + "X", nil},
		{"the word aws far before the run does not count", "aws" + strings.Repeat(" ", 80) + awsDocsSecret,
			"aws" + strings.Repeat(" ", 80) + awsDocsSecret, nil},
	})
}

func TestRedactString_VendorTokens(t *testing.T) {
	runStringCases(t, newTestRedactor(t, Options{}), []stringCase{
		{"a GitHub classic token is masked", "cloned with " + ghpToken + " ok", "cloned with [REDACTED] ok", []string{RuleGitHubToken}},
		{"a GitHub OAuth token is masked", "gho_" + ghpToken[4:], "[REDACTED]", []string{RuleGitHubToken}},
		{"a GitHub fine-grained token is masked", "pat " + ghPAT, "pat [REDACTED]", []string{RuleGitHubToken}},
		{"ghp_ with too short a body survives", "ghp_" + ghpToken[4:30], "ghp_" + ghpToken[4:30], nil},
		{"ghp_ inside a longer word survives", "xghp_" + ghpToken[4:], "xghp_" + ghpToken[4:], nil},
		{"a ghx_ prefix is not GitHub's", "ghx_" + ghpToken[4:], "ghx_" + ghpToken[4:], nil},

		{"a GitLab token is masked, a sentence dot kept", "use " + glToken + ".", "use [REDACTED].", []string{RuleGitLabToken}},
		{"glpat- with a short body survives", "glpat-abc", "glpat-abc", nil},

		{"a Slack bot token is masked", "slack " + slackBot, "slack [REDACTED]", []string{RuleSlackToken}},
		{"a Slack app token is masked", slackApp, "[REDACTED]", []string{RuleSlackToken}},
		{"xoxb- alone survives", "prefix xoxb- only", "prefix xoxb- only", nil},
		{"a Slack webhook keeps its host", "posted to https://hooks.slack.com/services/" + slackHook + " ok",
			"posted to https://hooks.slack.com/services/[REDACTED] ok", []string{RuleSlackWebhook}},
		{"the Slack webhook docs path survives", "see https://hooks.slack.com/services/", "see https://hooks.slack.com/services/", nil},

		{"a Stripe live secret key is masked", "stripe " + stripeLive, "stripe [REDACTED]", []string{RuleStripeKey}},
		{"a Stripe test secret key is masked", stripeTest, "[REDACTED]", []string{RuleStripeKey}},
		{"a Stripe restricted key is masked", stripeRK, "[REDACTED]", []string{RuleStripeKey}},
		{"a Stripe publishable key survives", "pk_live_" + stripeLive[8:], "pk_live_" + stripeLive[8:], nil},
		{"a mask_live_ word is not a key", "task_live_" + stripeLive[8:], "task_live_" + stripeLive[8:], nil},

		{"a Google API key is masked", "maps?key=" + googleKey + "&x=1", "maps?key=[REDACTED]&x=1", []string{RuleGoogleAPIKey, RuleHighEntropy}},
		{"AIza with 34 characters survives", googleKey[:38], googleKey[:38], nil},
		{"AIza with 36 characters survives", googleKey + "A", googleKey + "A", nil},
	})
}

func TestRedactString_URLQuery(t *testing.T) {
	runStringCases(t, newTestRedactor(t, Options{}), []stringCase{
		{"token and password values are masked, names kept",
			"GET https://api.example.com/v1?user=bob&token=abc123&password=hunter2 200",
			"GET https://api.example.com/v1?user=bob&token=[REDACTED]&password=[REDACTED] 200",
			[]string{RuleURLQuery, RuleKeyValue}},
		{"pre-signed URL signatures are masked", "https://bucket.s3.amazonaws.com/o?X-Amz-Expires=300&X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
			"https://bucket.s3.amazonaws.com/o?X-Amz-Expires=300&X-Amz-Signature=[REDACTED]", []string{RuleURLQuery, RuleHighEntropy}},
		{"an Azure SAS sig is masked, the fragment kept", "https://a.blob.core.windows.net/c/b?sv=2022-11-02&sig=abc%2Bdef#frag",
			"https://a.blob.core.windows.net/c/b?sv=2022-11-02&sig=[REDACTED]#frag", []string{RuleURLQuery}},
		{"ordinary parameters survive", "/search?q=signature+design&page=2", "/search?q=signature+design&page=2", nil},
		{"a question in prose survives", "why? sig=yes", "why? sig=yes", nil},
		{"an empty value survives", "/x?sig=&a=1", "/x?sig=&a=1", nil},
	})
}

func TestRedactString_HighEntropy(t *testing.T) {
	runStringCases(t, newTestRedactor(t, Options{}), []stringCase{
		{"a random value under a suspect key is masked", "license_key=" + randomValue + " plan=pro",
			"license_key=[REDACTED] plan=pro", []string{RuleHighEntropy}},
		{"a random header value under a signature key is masked", "X-Hub-Signature: " + randomValue,
			"X-Hub-Signature: [REDACTED]", []string{RuleHighEntropy}},
		{"a readable value under a suspect key survives", "license_key=standard-edition plan=pro",
			"license_key=standard-edition plan=pro", nil},
		{"a short value survives", "cache_key=Ab12", "cache_key=Ab12", nil},
		{"a random value under a key ending in id survives", "key_id=" + randomValue, "key_id=" + randomValue, nil},
		{"a value with separators survives", "cache_key=user:42:profile:" + randomValue[:8],
			"cache_key=user:42:profile:" + randomValue[:8], nil},
	})
}

func TestRedactString_HighEntropyWithoutKeyValue(t *testing.T) {
	r := newTestRedactor(t, Options{DisableValueRules: []string{RuleKeyValue}})
	runStringCases(t, r, []stringCase{
		{"high_entropy runs its own pass", "license_key=" + randomValue + " password=x",
			"license_key=[REDACTED] password=x", []string{RuleHighEntropy}},
	})
}

func TestLooksRandom_Threshold(t *testing.T) {
	tests := []struct {
		name string
		v    string
		want bool
	}{
		{"24 random base62 characters", randomValue, true},
		{"32 random hex characters", "9f86d081884c7d659a2feaa0c55ad015", true},
		{"a kebab-case phrase", "standard-edition-for-teams", false},
		{"a repeated pattern", "abab1212abab1212abab", false},
		{"a long lower-case word without digits", "internationalization", false},
		{"fifteen characters are too short", randomValue[:15], false},
		{"a value with a blank", randomValue[:10] + " " + randomValue[10:], false},
		{"a numbered object path", "uploads/2024/01/report-final.pdf", false},
		{"a camel-case name with a year", "StandardEditionLicense2024", false},
		{"a kebab-case name with a number", "my-bucket-key-Production01", false},
		{"a repeated hex word", "deadbeefdeadbeefdeadbeef", false},
		{"digits only", "20240102030405060708", false},
		{"24 random hex characters", "9f86d081884c7d659a2feaa0", true},
		{"the AWS documentation's secret key", awsDocsSecret, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, looksRandom(tt.v), "looksRandom(%q)", tt.v)
		})
	}
}

func TestRedactString_OptionalRulesAreOffByDefault(t *testing.T) {
	r := newTestRedactor(t, Options{})
	for _, s := range []string{"mail alice@example.com", "from 203.0.113.7", "via 2001:db8::1", "call +1 (555) 123-4567"} {
		assert.Equal(t, s, r.RedactString(s, nil), "RedactString(%q) with the optional rules off", s)
	}
}

func TestRedactString_OptionalRules(t *testing.T) {
	r := newTestRedactor(t, Options{EnableValueRules: OptionalValueRules})
	runStringCases(t, r, []stringCase{
		{"an e-mail address is masked", "mail alice.smith+audit@mail.example.com.", "mail [REDACTED].", []string{RuleEmail}},
		{"a URL user is not an e-mail address", "ssh://git@example.com/repo", "ssh://git@example.com/repo", nil},
		{"a handle without a domain dot survives", "ping @alice", "ping @alice", nil},
		{"an address with a numeric tld survives", "x@1.2", "x@1.2", nil},

		{"an IPv4 address is masked", "from 203.0.113.7:443", "from [REDACTED]:443", []string{RuleIPv4}},
		{"an octet over 255 survives", "from 203.0.113.256", "from 203.0.113.256", nil},
		{"a five-part version survives", "v1.2.3.4.5", "v1.2.3.4.5", nil},
		{"a leading zero survives", "10.01.1.1", "10.01.1.1", nil},

		{"an IPv6 address is masked", "via 2001:db8::8a2e:370:7334 ok", "via [REDACTED] ok", []string{RuleIPv6}},
		{"a bracketed IPv6 with port keeps the port", "[fe80::1]:4317", "[[REDACTED]]:4317", []string{RuleIPv6}},
		{"a clock time survives", "at 03:04:05", "at 03:04:05", nil},
		{"a MAC address survives", "mac 00:1a:2b:3c:4d:5e", "mac 00:1a:2b:3c:4d:5e", nil},
		{"the unspecified address survives", "bind [::]:80", "bind [::]:80", nil},

		{"a grouped E.164 number is masked", "call +1 (555) 123-4567 now", "call [REDACTED] now", []string{RulePhone}},
		{"a compact E.164 number is masked", "sms +4930901820", "sms [REDACTED]", []string{RulePhone}},
		{"a time zone offset survives", "2024-01-02T03:04:05+02:00", "2024-01-02T03:04:05+02:00", nil},
		{"a short plus number survives", "score +12345", "score +12345", nil},
		{"arithmetic survives", "1+2345678901", "1+2345678901", nil},
	})
}

func TestRedactString_JSONDocuments(t *testing.T) {
	r := newTestRedactor(t, Options{IgnoreKeys: []string{"trace_id"}, AllowKeys: []string{"session"}})
	runStringCases(t, r, []stringCase{
		{"a secret key's string value is masked in place",
			`{"user":"bob","password":"hunter2","n":1}`,
			`{"user":"bob","password":"[REDACTED]","n":1}`, []string{RuleJSON}},
		{"a secret key's object value becomes a JSON string",
			`{"credentials": {"user": "a", "pass": "b"}, "ok": true}`,
			`{"credentials": "[REDACTED]", "ok": true}`, []string{RuleJSON}},
		{"a secret key's number becomes a JSON string", `{"pin": 1234}`, `{"pin": "[REDACTED]"}`, []string{RuleJSON}},
		{"secrets in nested string values are found by the text rules",
			`[{"msg": "auth with ` + testJWT + ` done"}, {"dsn": "postgres://app:s3cr3t@db/x"}]`,
			`[{"msg": "auth with [REDACTED] done"}, {"dsn": "postgres://app:[REDACTED]@db/x"}]`,
			[]string{RuleJWT, RuleURLPassword}},
		{"a card number stored as a JSON number is masked", `{"amount": 12, "pan": 4111111111111111}`,
			`{"amount": 12, "pan": "[REDACTED]"}`, []string{RuleCardNumber}},
		{"a random value under a suspect key is masked", `{"license_key": "` + randomValue + `"}`,
			`{"license_key": "[REDACTED]"}`, []string{RuleHighEntropy}},
		{"an ignored key is not scanned", `{"trace_id": "` + testCard + `"}`, `{"trace_id": "` + testCard + `"}`, nil},
		{"an allowed key keeps its value and everything below it", `{"session": {"token": "x"}}`,
			`{"session": {"token": "x"}}`, nil},
		{"formatting and key order are kept", "{\n  \"z\": 1,\n  \"token\" : \"abc\"\n}",
			"{\n  \"z\": 1,\n  \"token\" : \"[REDACTED]\"\n}", []string{RuleJSON}},
		{"invalid JSON falls back to the text rules", `{"password": "hunter2", broken`,
			`{"password": "[REDACTED]", broken`, []string{RuleKeyValue}},
		{"a document without secrets is returned as is", `{"a":[1,2,{"b":null}],"c":"d"}`, `{"a":[1,2,{"b":null}],"c":"d"}`, nil},
	})
}

func TestRedactString_JSONStaysValid(t *testing.T) {
	r := newTestRedactor(t, Options{Mask: `"masked"`, DefaultAction: ActionMask})
	in := `{"password": {"x": [1, 2]}, "token": "t", "list": [{"secret": 5}], "note": "Bearer ` + testJWT + `"}`
	out := r.RedactString(in, nil)
	require.True(t, json.Valid([]byte(out)), "RedactString(%q) = %q is not valid JSON", in, out)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Equal(t, `"masked"`, doc["password"], "want the mask as a JSON string")
	assert.Equal(t, `"masked"`, doc["token"], "want the mask as a JSON string")
}

func TestRedactString_JSONLimits(t *testing.T) {
	t.Run("a document over the size limit is scanned as text", func(t *testing.T) {
		r := newTestRedactor(t, Options{JSONMaxBytes: 16})
		runStringCases(t, r, []stringCase{
			{"text rules", `{"pin": 1234, "x": 1}`, `{"pin": [REDACTED], "x": 1}`, []string{RuleKeyValue}},
		})
	})
	t.Run("json can be disabled", func(t *testing.T) {
		r := newTestRedactor(t, Options{DisableValueRules: []string{RuleJSON}})
		runStringCases(t, r, []stringCase{
			{"text rules", `{"pin": 1234}`, `{"pin": [REDACTED]}`, []string{RuleKeyValue}},
		})
	})
	t.Run("a document nested deeper than the limit is scanned as text", func(t *testing.T) {
		r := newTestRedactor(t, Options{})
		deep := strings.Repeat("[", maxJSONDepth+1) + `"password=x"` + strings.Repeat("]", maxJSONDepth+1)
		want := strings.Repeat("[", maxJSONDepth+1) + `"password=[REDACTED]"` + strings.Repeat("]", maxJSONDepth+1)
		runStringCases(t, r, []stringCase{{"deep", deep, want, []string{RuleKeyValue}}})
	})
}
