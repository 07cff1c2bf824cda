package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
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
	if got, want := r.Replacement(ActionHash, "x"), wantHMAC("x"); got != want {
		t.Errorf("Replacement(hash) = %q, want %q", got, want)
	}
	other := newTestRedactor(t, Options{DefaultAction: ActionHash, HashKey: []byte("another key of thirty-two bytes!")})
	if r.Replacement(ActionHash, "hunter2") == other.Replacement(ActionHash, "hunter2") {
		t.Error("two hash keys gave the same marker: the key is not used")
	}
	if !regexp.MustCompile(`^\[HMAC:[0-9a-f]{16}\]$`).MatchString(wantHMAC("y")) {
		t.Errorf("marker %q has not the documented shape", wantHMAC("y"))
	}
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
	if out, ok := r.RedactInt(4111111111111111, nil); !ok || out != "[REDACTED-1111]" {
		t.Errorf("RedactInt(card) = %q, %v; want [REDACTED-1111]", out, ok)
	}
	custom := newTestRedactor(t, Options{DefaultAction: ActionPartial, Mask: "***"})
	if got := custom.Replacement(ActionPartial, testCard); got != "***-1111" {
		t.Errorf("partial card with mask *** = %q, want ***-1111", got)
	}
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
	if got := r.FieldAction("field:password"); got != ActionHash {
		t.Errorf("FieldAction(field:password) = %v, want hash (from field)", got)
	}
	if got := r.FieldAction("field:pin"); got != ActionMask {
		t.Errorf("FieldAction(field:pin) = %v, want mask (its own entry)", got)
	}
}

func TestActions_OverlapTakesTheFirstListedRule(t *testing.T) {
	// key_value finds "Bearer <jwt>" and jwt finds the token; jwt is listed first, so its
	// action (hash) applies to the merged part.
	r := newTestRedactor(t, Options{Actions: map[string]Action{RuleJWT: ActionHash}, HashKey: testHashKey})
	var rep Report
	got := r.RedactString("Authorization: Bearer "+testJWT, &rep)
	if want := "Authorization: " + wantHMAC("Bearer "+testJWT); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if len(rep.Tally) != 1 || rep.Tally[0] != (RuleCount{Rule: RuleJWT, N: 1}) {
		t.Errorf("tally = %+v, want one replacement under jwt", rep.Tally)
	}
}

func TestNew_HashActionNeedsAKey(t *testing.T) {
	for _, o := range []Options{
		{DefaultAction: ActionHash},
		{Actions: map[string]Action{RuleJWT: ActionHash}},
		{Actions: map[string]Action{FieldRuleAction: ActionHash}},
	} {
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), "hash key") {
			t.Errorf("New(%+v) error = %v, want one about the hash key", o, err)
		}
	}
}

func TestParseAction(t *testing.T) {
	for _, name := range []string{"mask", "hash", "partial"} {
		a, err := ParseAction(name)
		if err != nil || a.String() != name {
			t.Errorf("ParseAction(%q) = %v, %v", name, a, err)
		}
	}
	if _, err := ParseAction("drop"); err == nil || !strings.Contains(err.Error(), `"drop"`) {
		t.Errorf("ParseAction(drop) error = %v, want it to name the action", err)
	}
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
		if got, _ := r.ClassifyKey(tt.key); got != tt.want {
			t.Errorf("ClassifyKey(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
	noEntropy := newTestRedactor(t, Options{DisableValueRules: []string{RuleHighEntropy}})
	if got, _ := noEntropy.ClassifyKey("stripe.key"); got != KeyPlain {
		t.Errorf("with high_entropy off, ClassifyKey(stripe.key) = %v, want plain", got)
	}
}

func TestRedactSuspectString(t *testing.T) {
	r := newTestRedactor(t, Options{})
	var rep Report
	if got := r.RedactSuspectString(randomValue, &rep); got != "[REDACTED]" || rep.Rules[0] != RuleHighEntropy {
		t.Errorf("RedactSuspectString(random) = %q (%v), want the mask under high_entropy", got, rep.Rules)
	}
	if got := r.RedactSuspectString("standard", nil); got != "standard" {
		t.Errorf("RedactSuspectString(standard) = %q, want it kept", got)
	}
	if got := r.RedactSuspectString("v=1 password=x", nil); got != "v=1 password=[REDACTED]" {
		t.Errorf("RedactSuspectString still runs the text rules: got %q", got)
	}
}
