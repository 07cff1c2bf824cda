package redact

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
)

// Names of the built-in value rules, as used in value_rules.disable and in summaries.
const (
	RuleJWT            = "jwt"
	RuleBearerToken    = "bearer_token"
	RuleBasicAuth      = "basic_auth"
	RulePEMPrivateKey  = "pem_private_key"
	RuleCardNumber     = "card_number"
	RuleAWSAccessKeyID = "aws_access_key_id"
	RuleAWSSecretKey   = "aws_secret_access_key"
	RuleGitHubToken    = "github_token"
	RuleGitLabToken    = "gitlab_token"
	RuleSlackToken     = "slack_token"
	RuleSlackWebhook   = "slack_webhook"
	RuleStripeKey      = "stripe_key"
	RuleGoogleAPIKey   = "google_api_key"
	RuleURLPassword    = "url_password"
	RuleURLQuery       = "url_query"
	RuleKeyValue       = "key_value"
	RuleJSON           = "json"
	RuleHighEntropy    = "high_entropy"
	RuleEmail          = "email"
	RuleIPv4           = "ipv4"
	RuleIPv6           = "ipv6"
	RulePhone          = "phone"

	// FieldRulePrefix starts the name a field rule reports under: "field:password".
	FieldRulePrefix = "field:"
	// FieldRuleAction is the actions key that applies to every field rule.
	FieldRuleAction = "field"
)

// BuiltinValueRules lists the built-in value rules in the order they run. When findings of
// several rules overlap, the rule listed first decides the action.
var BuiltinValueRules = []string{
	RuleJWT, RuleBearerToken, RuleBasicAuth, RulePEMPrivateKey, RuleCardNumber,
	RuleAWSAccessKeyID, RuleAWSSecretKey, RuleGitHubToken, RuleGitLabToken, RuleSlackToken,
	RuleSlackWebhook, RuleStripeKey, RuleGoogleAPIKey, RuleURLPassword, RuleURLQuery,
	RuleKeyValue, RuleJSON, RuleHighEntropy, RuleEmail, RuleIPv4, RuleIPv6, RulePhone,
}

// OptionalValueRules are the built-in rules that are off unless enabled: they find personal
// data an audit trail often needs to keep.
var OptionalValueRules = []string{RuleEmail, RuleIPv4, RuleIPv6, RulePhone}

// IsBuiltinValueRule reports whether name is one of BuiltinValueRules.
func IsBuiltinValueRule(name string) bool { return slices.Contains(BuiltinValueRules, name) }

// IsOptionalValueRule reports whether name is one of OptionalValueRules.
func IsOptionalValueRule(name string) bool { return slices.Contains(OptionalValueRules, name) }

// Where a span's replacement goes, which decides how it is written.
const (
	kindText       uint8 = iota // plain text: the replacement as is
	kindJSONString              // inside a JSON string: JSON-escaped
	kindJSONValue               // a whole non-string JSON value: a JSON string literal
)

// span is a byte range of the scanned string to be replaced, and the rule that found it (an
// index into Redactor.rules).
type span struct {
	start, end int
	rule       int
	kind       uint8
}

// valueRule finds secrets in a string. Before find runs, RedactString checks the rule's gate
// against a profile of the string made in one pass (which bytes occur, how many digits), so
// most rules never see most strings. find appends the spans it finds to dst and returns it; it
// must not allocate when it finds nothing.
type valueRule struct {
	name   string
	gate   gate
	mask   gateMask // gate compiled by New
	find   func(s string, dst []span, id int) []span
	action Action
}

// gate is a necessary condition for a rule to find anything: at least minDigits ASCII digits,
// and for each string in each, at least one of its bytes in the scanned string. New compiles it
// into bit masks (gateMask).
type gate struct {
	each      []string
	minDigits int
}

func gateOf(each ...string) gate { return gate{each: each} }

// gateMask is a compiled gate: each group is a set of byte classes (bits of
// Redactor.byteBits), and a string passes when its profile has a bit of every group.
type gateMask struct {
	groups    []uint64
	minDigits int
}

func (g *gateMask) admits(p *stringProfile) bool {
	if p.digits < g.minDigits {
		return false
	}
	for _, m := range g.groups {
		if p.bits&m == 0 {
			return false
		}
	}
	return true
}

// byteBits maps each byte some gate mentions to one of 64 bits; bytes no gate mentions map to
// 0. When more than 64 bytes are mentioned, several share a bit, which can only make a gate
// admit more strings, never fewer: a gate stays a necessary condition.
type byteBits [256]uint64

func newByteBits(rules []valueRule) *byteBits {
	var bb byteBits
	next := 0
	for _, r := range rules {
		for _, group := range r.gate.each {
			for i := 0; i < len(group); i++ {
				if bb[group[i]] == 0 {
					bb[group[i]] = 1 << (next % 64)
					next++
				}
			}
		}
	}
	return &bb
}

func (bb *byteBits) compile(g gate) gateMask {
	gm := gateMask{minDigits: g.minDigits}
	for _, group := range g.each {
		var m uint64
		for i := 0; i < len(group); i++ {
			m |= bb[group[i]]
		}
		gm.groups = append(gm.groups, m)
	}
	return gm
}

// stringProfile is what one pass over a string tells the gates: which byte classes occur and
// how many ASCII digits there are. Both accumulate in registers.
type stringProfile struct {
	bits   uint64
	digits int
}

var digitValue = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	return t
}()

func (p *stringProfile) fill(s string, bb *byteBits) {
	var bits uint64
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		bits |= bb[c]
		digits += int(digitValue[c])
	}
	p.bits, p.digits = bits, digits
}

// The built-in expressions are compiled once, at package initialisation; nothing on the hot path
// compiles.
var (
	// Header and payload of a JWT are base64url JSON objects, so both start with "eyJ"; the
	// signature may be empty (alg "none") and a JWE has five segments.
	jwtRe = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{7,}(?:\.[A-Za-z0-9_-]*){2,}`)
	// RFC 6750 token68 alphabet.
	bearerRe = regexp.MustCompile(`(?i)\bbearer[ \t]+([A-Za-z0-9\-._~+/]+=*)`)
	basicRe  = regexp.MustCompile(`(?i)\bbasic[ \t]+([A-Za-z0-9+/]+={0,2})`)
	// A block without its END line (a truncated log line) is masked to the end of the string.
	pemRe = regexp.MustCompile(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|[\s\S]*)`)
	awsRe = regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`)
	// scheme://user:password@ — group 1 is the password.
	urlPasswordRe = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@]*:([^\s@/]+)@`)
)

// builtinRules returns every built-in rule. The key_value and high_entropy closures read r's
// rule indexes when they run, after New has set them.
func builtinRules(r *Redactor, fm *fieldMatcher) []valueRule {
	return []valueRule{
		{name: RuleJWT, gate: gateOf("e", "y", "J", "."), find: func(s string, dst []span, id int) []span {
			if !strings.Contains(s, "eyJ") {
				return dst
			}
			return appendMatches(jwtRe, s, 0, dst, id)
		}},
		{name: RuleBearerToken, gate: gateOf("bB", "rR"), find: func(s string, dst []span, id int) []span {
			if !containsFoldASCII(s, "bearer") {
				return dst
			}
			for _, m := range bearerRe.FindAllStringSubmatchIndex(s, -1) {
				if looksLikeBearerToken(s[m[2]:m[3]]) {
					dst = append(dst, span{start: m[2], end: m[3], rule: id})
				}
			}
			return dst
		}},
		{name: RuleBasicAuth, gate: gateOf("bB", "cC"), find: func(s string, dst []span, id int) []span {
			if !containsFoldASCII(s, "basic") {
				return dst
			}
			for _, m := range basicRe.FindAllStringSubmatchIndex(s, -1) {
				if isBasicCredential(s[m[2]:m[3]]) {
					dst = append(dst, span{start: m[2], end: m[3], rule: id})
				}
			}
			return dst
		}},
		{name: RulePEMPrivateKey, gate: gateOf("-", "P", "K"), find: func(s string, dst []span, id int) []span {
			if !strings.Contains(s, "PRIVATE KEY") || !strings.Contains(s, "-----BEGIN") {
				return dst
			}
			return appendMatches(pemRe, s, 0, dst, id)
		}},
		{name: RuleCardNumber, gate: gate{minDigits: minCardDigits}, find: findCardNumbers},
		{name: RuleAWSAccessKeyID, gate: gateOf("A", "I", "KS"), find: func(s string, dst []span, id int) []span {
			if !strings.Contains(s, "AKIA") && !strings.Contains(s, "ASIA") {
				return dst
			}
			return appendMatches(awsRe, s, 0, dst, id)
		}},
		// "aws" or "secret" in any case, and at least 40 bytes (digits are not required).
		{name: RuleAWSSecretKey, gate: gateOf("aAsS", "wWeE", "sScC"), find: findAWSSecretKeys},
		{name: RuleGitHubToken, gate: gateOf("g", "h", "_"), find: findTokens(&githubToken, &githubPAT)},
		{name: RuleGitLabToken, gate: gateOf("g", "l", "-"), find: findTokens(&gitlabPAT)},
		{name: RuleSlackToken, gate: gateOf("x", "-"), find: findTokens(&slackToken, &slackAppToken)},
		{name: RuleSlackWebhook, gate: gateOf("h", "k", "/"), find: findSlackWebhooks},
		{name: RuleStripeKey, gate: gateOf("sr", "k", "_"), find: findTokens(&stripeSecretKey, &stripeRestrictedKey)},
		{name: RuleGoogleAPIKey, gate: gateOf("A", "I", "z"), find: findTokens(&googleAPIKey)},
		{name: RuleURLPassword, gate: gateOf(":", "/", "@"), find: func(s string, dst []span, id int) []span {
			if !strings.Contains(s, "://") || strings.IndexByte(s, '@') < 0 {
				return dst
			}
			return appendMatches(urlPasswordRe, s, 1, dst, id)
		}},
		{name: RuleURLQuery, gate: gateOf("?", "="), find: func(s string, dst []span, id int) []span {
			return findQueryParams(fm, s, dst, id)
		}},
		{name: RuleKeyValue, gate: gateOf("=:"), find: func(s string, dst []span, id int) []span {
			return findKeyValues(fm, s, dst, id, r.entropyID)
		}},
		// json has no find: RedactString parses JSON documents itself and reports under it.
		{name: RuleJSON},
		// With key_value on, its pass reports high_entropy too; this one runs only without it.
		{name: RuleHighEntropy, gate: gateOf("=:"), find: func(s string, dst []span, id int) []span {
			if r.kvID >= 0 {
				return dst
			}
			return findKeyValues(fm, s, dst, -1, id)
		}},
		{name: RuleEmail, gate: gateOf("@", "."), find: findEmails},
		{name: RuleIPv4, gate: gate{each: []string{"."}, minDigits: 4}, find: findIPv4},
		{name: RuleIPv6, gate: gateOf(":"), find: findIPv6},
		{name: RulePhone, gate: gate{each: []string{"+"}, minDigits: minPhoneDigits}, find: findPhones},
	}
}

// appendMatches appends every match of re in s (of capture group `group` when it is > 0 and took
// part in the match), skipping empty ones.
func appendMatches(re *regexp.Regexp, s string, group int, dst []span, id int) []span {
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		a, b := m[2*group], m[2*group+1]
		if a >= 0 && b > a {
			dst = append(dst, span{start: a, end: b, rule: id})
		}
	}
	return dst
}

// looksLikeBearerToken keeps prose ("a bearer token", "Bearer authentication") out: real tokens
// are random, so they are long or contain a digit or a token68 punctuation character.
func looksLikeBearerToken(tok string) bool {
	if len(tok) >= 20 {
		return true
	}
	if len(tok) < 8 {
		return false
	}
	return strings.ContainsAny(tok, "0123456789-._~+/=")
}

// isBasicCredential is true when tok is base64 of "user:password" (RFC 7617), which tells a
// credential apart from "Basic information".
func isBasicCredential(tok string) bool {
	dec, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		dec, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(tok, "="))
		if err != nil {
			return false
		}
	}
	return len(dec) >= 2 && strings.IndexByte(string(dec), ':') >= 0
}

// containsFoldASCII reports whether s contains lowerNeedle (lower-case ASCII, starting with a
// letter), ignoring ASCII case, without allocating. Candidates are found with IndexByte, which
// is vectorised, once for each case of the first letter.
func containsFoldASCII(s, lowerNeedle string) bool {
	n := len(lowerNeedle)
	lo := lowerNeedle[0]
	for _, first := range [2]byte{lo, lo - 'a' + 'A'} {
		for i := 0; i+n <= len(s); {
			j := strings.IndexByte(s[i:len(s)-n+1], first)
			if j < 0 {
				break
			}
			i += j
			if strings.EqualFold(s[i+1:i+n], lowerNeedle[1:]) {
				return true
			}
			i++
		}
	}
	return false
}
