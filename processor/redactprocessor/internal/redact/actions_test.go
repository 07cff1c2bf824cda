package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testHashKey = []byte("0123456789abcdef0123456789abcdef")

func wantHMAC(secret string) string {
	mac := hmac.New(sha256.New, testHashKey)
	mac.Write([]byte(secret))
	return "[HMAC:" + hex.EncodeToString(mac.Sum(nil))[:16] + "]"
}

func TestActions_Hash(t *testing.T) {
	r := newTestRedactor(t, Options{DefaultAction: ActionHash, HashKey: testHashKey})
	runStringCases(t, r, []stringCase{
		{"a secret becomes its keyed hash", "login password=hunter2 ok",
			"login password=" + wantHMAC("hunter2") + " ok", []string{RuleKeyValue}},
		{"equal secrets give equal markers", "a password=hunter2 b token=hunter2",
			"a password=" + wantHMAC("hunter2") + " b token=" + wantHMAC("hunter2"), []string{RuleKeyValue}},
		{"a hashed value is not hashed again", "password=" + wantHMAC("hunter2"), "password=" + wantHMAC("hunter2"), nil},
	})
	assert.Equal(t, wantHMAC("x"), r.Replacement(ActionHash, "x"), "Replacement(hash)")
	other := newTestRedactor(t, Options{DefaultAction: ActionHash, HashKey: []byte("another key of thirty-two bytes!")})
	assert.NotEqual(t, r.Replacement(ActionHash, "hunter2"), other.Replacement(ActionHash, "hunter2"),
		"two hash keys gave the same marker: the key is not used")
	assert.Regexp(t, `^\[HMAC:[0-9a-f]{16}\]$`, wantHMAC("y"), "marker has not the documented shape")
}

func TestActions_Partial(t *testing.T) {
	r := newTestRedactor(t, Options{DefaultAction: ActionPartial, EnableValueRules: []string{RuleEmail}})
	runStringCases(t, r, []stringCase{
		{"a card keeps its last four digits", "card 4111 1111 1111 1234 ok", "card 4111 1111 1111 1234 ok", nil},
		{"a valid card keeps its last four digits", "card 4111 1111 1111 1111 ok", "card [REDACTED-1111] ok", []string{RuleCardNumber}},
		{"a GitHub token keeps its type prefix", "t " + ghpToken, "t ghp_[REDACTED]", []string{RuleGitHubToken}},
		{"a Stripe key keeps its mode", stripeTest, "sk_test_[REDACTED]", []string{RuleStripeKey}},
		{"an e-mail address keeps its domain", "to bob@example.com", "to [REDACTED]@example.com", []string{RuleEmail}},
		{"a password has nothing to keep", "password=hunter2", "password=[REDACTED]", []string{RuleKeyValue}},
		{"a partial card is not redacted again", "card [REDACTED-1111] ok", "card [REDACTED-1111] ok", nil},
		{"a partial token under a secret key is not redacted again", "token=ghp_[REDACTED]", "token=ghp_[REDACTED]", nil},
	})
	out, ok := r.RedactInt(4111111111111111, nil)
	assert.True(t, ok, "RedactInt(card) redacts")
	assert.Equal(t, "[REDACTED-1111]", out, "RedactInt(card)")
	custom := newTestRedactor(t, Options{DefaultAction: ActionPartial, Mask: "***"})
	assert.Equal(t, "***-1111", custom.Replacement(ActionPartial, testCard), "partial card with mask ***")
}

func TestActions_PerRuleOverridesDefault(t *testing.T) {
	r := newTestRedactor(t, Options{
		DefaultAction: ActionMask,
		Actions: map[string]Action{
			RuleCardNumber:          ActionPartial,
			RuleJWT:                 ActionHash,
			FieldRuleAction:         ActionHash,
			FieldRulePrefix + "pin": ActionMask,
			"badge":                 ActionPartial,
			RuleGitHubToken:         ActionMask,
		},
		HashKey:     testHashKey,
		CustomRules: []CustomRule{{Name: "badge", Regex: `B-\d{6}`}},
	})
	runStringCases(t, r, []stringCase{
		{"card is partial", "4111111111111111", "[REDACTED-1111]", []string{RuleCardNumber}},
		{"jwt is hashed", testJWT, wantHMAC(testJWT), []string{RuleJWT}},
		{"github stays masked", ghpToken, "[REDACTED]", []string{RuleGitHubToken}},
		{"a custom rule takes its own action", "B-123456", "[REDACTED]", []string{"badge"}},
	})
	assert.Equal(t, ActionHash, r.FieldAction("field:password"), "FieldAction(field:password), want hash (from field)")
	assert.Equal(t, ActionMask, r.FieldAction("field:pin"), "FieldAction(field:pin), want mask (its own entry)")
}

func TestActions_OverlapTakesTheFirstListedRule(t *testing.T) {
	// key_value finds "Bearer <jwt>" and jwt finds the token; jwt is listed first, so its
	// action (hash) applies to the merged part.
	r := newTestRedactor(t, Options{Actions: map[string]Action{RuleJWT: ActionHash}, HashKey: testHashKey})
	var rep Report
	got := r.RedactString("Authorization: Bearer "+testJWT, &rep)
	assert.Equal(t, "Authorization: "+wantHMAC("Bearer "+testJWT), got)
	assert.Equal(t, []RuleCount{{Rule: RuleJWT, N: 1}}, rep.Tally, "tally, want one replacement under jwt")
}

func TestNew_HashActionNeedsAKey(t *testing.T) {
	for _, o := range []Options{
		{DefaultAction: ActionHash},
		{Actions: map[string]Action{RuleJWT: ActionHash}},
		{Actions: map[string]Action{FieldRuleAction: ActionHash}},
	} {
		_, err := New(o)
		assert.ErrorContains(t, err, "hash key", "New(%+v), want an error about the hash key", o)
	}
}

func TestParseAction(t *testing.T) {
	for _, name := range []string{"mask", "hash", "partial"} {
		a, err := ParseAction(name)
		if assert.NoError(t, err, "ParseAction(%q)", name) {
			assert.Equal(t, name, a.String(), "ParseAction(%q)", name)
		}
	}
	_, err := ParseAction("drop")
	assert.ErrorContains(t, err, `"drop"`, "ParseAction(drop), want the error to name the action")
}

func TestClassifyKey_IgnoreAndSuspect(t *testing.T) {
	r := newTestRedactor(t, Options{IgnoreKeys: []string{"Trace_ID", "api_key"}, AllowKeys: []string{"license_key"}})
	tests := []struct {
		key  string
		want KeyVerdict
	}{
		{"trace_id", KeyIgnored},
		{"TRACE_ID", KeyIgnored},
		{"api_key", KeySecret}, // a field rule wins over ignore_keys
		{"license_key", KeyAllowed},
		{"stripe.key", KeySuspect},
		{"webhookSignature", KeySuspect},
		{"key_id", KeyPlain},
		{"monkey", KeyPlain},
	}
	for _, tt := range tests {
		got, _ := r.ClassifyKey(tt.key)
		assert.Equal(t, tt.want, got, "ClassifyKey(%q)", tt.key)
	}
	noEntropy := newTestRedactor(t, Options{DisableValueRules: []string{RuleHighEntropy}})
	got, _ := noEntropy.ClassifyKey("stripe.key")
	assert.Equal(t, KeyPlain, got, "with high_entropy off, ClassifyKey(stripe.key)")
}

func TestRedactSuspectString(t *testing.T) {
	r := newTestRedactor(t, Options{})
	var rep Report
	assert.Equal(t, "[REDACTED]", r.RedactSuspectString(randomValue, &rep), "RedactSuspectString(random), want the mask")
	require.NotEmpty(t, rep.Rules, "RedactSuspectString(random) reports a rule")
	assert.Equal(t, RuleHighEntropy, rep.Rules[0], "RedactSuspectString(random), want the mask under high_entropy")
	assert.Equal(t, "standard", r.RedactSuspectString("standard", nil), "RedactSuspectString(standard), want it kept")
	assert.Equal(t, "v=1 password=[REDACTED]", r.RedactSuspectString("v=1 password=x", nil), "RedactSuspectString still runs the text rules")
}
