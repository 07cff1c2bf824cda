package redact

import (
	"encoding/base64"
	"regexp"
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
	RuleURLPassword    = "url_password"
	RuleKeyValue       = "key_value"

	// FieldRulePrefix starts the name a field rule reports under: "field:password".
	FieldRulePrefix = "field:"
)

// BuiltinValueRules lists the built-in value rules in the order they run.
var BuiltinValueRules = []string{
	RuleJWT, RuleBearerToken, RuleBasicAuth, RulePEMPrivateKey, RuleCardNumber,
	RuleAWSAccessKeyID, RuleURLPassword, RuleKeyValue,
}

// IsBuiltinValueRule reports whether name is one of BuiltinValueRules.
func IsBuiltinValueRule(name string) bool {
	for _, r := range BuiltinValueRules {
		if r == name {
			return true
		}
	}
	return false
}

// span is a byte range of the scanned string to be replaced by the mask, and the rule that found
// it (an index into Redactor.rules).
type span struct {
	start, end int
	rule       int
}

// valueRule finds secrets in a string. Before find runs, RedactString checks the rule's gate
// against a profile of the string made in one pass (which bytes occur, how many digits), so
// most rules never see most strings. find appends the spans it finds to dst and returns it; it
// must not allocate when it finds nothing.
type valueRule struct {
	name string
	gate gate
	find func(s string, dst []span, id int) []span
}

// gate is a necessary condition for a rule to find anything: at least minDigits ASCII digits,
// and for each string in each, at least one of its bytes in the scanned string.
type gate struct {
	each      []string
	minDigits int
}

func gateOf(each ...string) gate { return gate{each: each} }

func (g *gate) admits(p *stringProfile) bool {
	if p.digits < g.minDigits {
		return false
	}
	for _, chars := range g.each {
		found := false
		for i := 0; i < len(chars) && !found; i++ {
			found = p.seen[chars[i]]
		}
		if !found {
			return false
		}
	}
	return true
}

// stringProfile is what one pass over a string tells the gates: which bytes occur and how many
// ASCII digits there are. A table of flags (plain stores, no read-modify-write chain) is
// cheaper to fill than a bit set.
type stringProfile struct {
	seen   [256]bool
	digits int
}

var digitValue = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	return t
}()

func (p *stringProfile) fill(s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		p.seen[c] = true
		p.digits += int(digitValue[c])
	}
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

func builtinRules(fm *fieldMatcher) []valueRule {
	return []valueRule{
		{RuleJWT, gateOf("e", "y", "J", "."), func(s string, dst []span, id int) []span {
			if !strings.Contains(s, "eyJ") {
				return dst
			}
			return appendMatches(jwtRe, s, 0, dst, id)
		}},
		{RuleBearerToken, gateOf("bB", "rR"), func(s string, dst []span, id int) []span {
			if !containsFoldASCII(s, "bearer") {
				return dst
			}
			for _, m := range bearerRe.FindAllStringSubmatchIndex(s, -1) {
				if looksLikeBearerToken(s[m[2]:m[3]]) {
					dst = append(dst, span{m[2], m[3], id})
				}
			}
			return dst
		}},
		{RuleBasicAuth, gateOf("bB", "cC"), func(s string, dst []span, id int) []span {
			if !containsFoldASCII(s, "basic") {
				return dst
			}
			for _, m := range basicRe.FindAllStringSubmatchIndex(s, -1) {
				if isBasicCredential(s[m[2]:m[3]]) {
					dst = append(dst, span{m[2], m[3], id})
				}
			}
			return dst
		}},
		{RulePEMPrivateKey, gateOf("-", "P", "K"), func(s string, dst []span, id int) []span {
			if !strings.Contains(s, "PRIVATE KEY") || !strings.Contains(s, "-----BEGIN") {
				return dst
			}
			return appendMatches(pemRe, s, 0, dst, id)
		}},
		{RuleCardNumber, gate{minDigits: minCardDigits}, findCardNumbers},
		{RuleAWSAccessKeyID, gateOf("A", "I", "KS"), func(s string, dst []span, id int) []span {
			if !strings.Contains(s, "AKIA") && !strings.Contains(s, "ASIA") {
				return dst
			}
			return appendMatches(awsRe, s, 0, dst, id)
		}},
		{RuleURLPassword, gateOf(":", "/", "@"), func(s string, dst []span, id int) []span {
			if !strings.Contains(s, "://") || strings.IndexByte(s, '@') < 0 {
				return dst
			}
			return appendMatches(urlPasswordRe, s, 1, dst, id)
		}},
		{RuleKeyValue, gateOf("=:"), func(s string, dst []span, id int) []span {
			return findKeyValues(fm, s, dst, id)
		}},
	}
}

// appendMatches appends every match of re in s (of capture group `group` when it is > 0 and took
// part in the match), skipping empty ones.
func appendMatches(re *regexp.Regexp, s string, group int, dst []span, id int) []span {
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		a, b := m[2*group], m[2*group+1]
		if a >= 0 && b > a {
			dst = append(dst, span{a, b, id})
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
