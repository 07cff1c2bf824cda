package redact

import "strings"

// charClass is a set of bytes, used by the hand-written scanners below instead of regular
// expressions: vendor tokens start with a fixed literal, so finding the literal with
// strings.Index and then counting allowed bytes is both cheaper and allocation-free.
type charClass [256]bool

func classOf(ranges ...string) *charClass {
	var c charClass
	for _, r := range ranges {
		if len(r) == 3 && r[1] == '-' {
			for b := int(r[0]); b <= int(r[2]); b++ {
				c[b] = true
			}
			continue
		}
		for i := 0; i < len(r); i++ {
			c[r[i]] = true
		}
	}
	return &c
}

var (
	alnum        = classOf("a-z", "A-Z", "0-9")
	alnumUnder   = classOf("a-z", "A-Z", "0-9", "_")
	alnumDash    = classOf("a-z", "A-Z", "0-9", "-")
	urlSafe64    = classOf("a-z", "A-Z", "0-9", "-", "_")
	gitlabBody   = classOf("a-z", "A-Z", "0-9", "-", "_", ".")
	stdBase64    = classOf("a-z", "A-Z", "0-9", "+", "/")
	tokenWordEnd = classOf("a-z", "A-Z", "0-9", "_", "-") // bytes that glue a token to a word
)

// prefixToken describes a vendor token: one of prefixes, found by searching lead, followed by
// min..max bytes of body. The byte before the prefix must not be a word byte, and the body must
// end where the class ends (a longer run is a different thing, not a truncated token).
type prefixToken struct {
	lead     string
	prefixes []string
	body     *charClass
	min, max int
	// trimDot drops trailing dots from the body: a token at the end of a sentence.
	trimDot bool
}

// find appends the tokens in s; it allocates only when it appends.
func (t *prefixToken) find(s string, dst []span, id int) []span {
	for i := 0; ; {
		j := strings.Index(s[i:], t.lead)
		if j < 0 {
			return dst
		}
		at := i + j
		i = at + 1
		if at > 0 && tokenWordEnd[s[at-1]] {
			continue
		}
		prefix := ""
		for _, p := range t.prefixes {
			if strings.HasPrefix(s[at:], p) {
				prefix = p
				break
			}
		}
		if prefix == "" {
			continue
		}
		b := at + len(prefix)
		e := b
		for e < len(s) && t.body[s[e]] {
			e++
		}
		if t.trimDot {
			for e > b && s[e-1] == '.' {
				e--
			}
		}
		if n := e - b; n < t.min || n > t.max {
			continue
		}
		dst = append(dst, span{start: at, end: e, rule: id})
		i = e
	}
}

var (
	// GitHub classic tokens are a prefix and 36 base62 characters; fine-grained personal access
	// tokens are github_pat_ and 82 characters of [A-Za-z0-9_]. Lengths are left open above for
	// future formats.
	githubToken = prefixToken{lead: "gh", prefixes: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"},
		body: alnum, min: 36, max: 251}
	githubPAT = prefixToken{lead: "github_pat_", prefixes: []string{"github_pat_"},
		body: alnumUnder, min: 36, max: 251}
	gitlabPAT = prefixToken{lead: "glpat-", prefixes: []string{"glpat-"},
		body: gitlabBody, min: 20, max: 255, trimDot: true}
	// Slack bot, user, app-level, refresh and legacy tokens.
	slackToken = prefixToken{lead: "xox", prefixes: []string{"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"},
		body: alnumDash, min: 10, max: 255}
	slackAppToken = prefixToken{lead: "xapp-", prefixes: []string{"xapp-"}, body: alnumDash, min: 10, max: 255}
	// Stripe secret and restricted keys, live and test: test keys read and write a test
	// account's data and leak alongside live ones, so they are secrets too. Publishable keys
	// (pk_) are meant for browsers and are not matched.
	stripeSecretKey = prefixToken{lead: "sk_", prefixes: []string{"sk_live_", "sk_test_"},
		body: alnum, min: 16, max: 247}
	stripeRestrictedKey = prefixToken{lead: "rk_", prefixes: []string{"rk_live_", "rk_test_"},
		body: alnum, min: 16, max: 247}
	// Google API keys: AIza and exactly 35 URL-safe base64 characters.
	googleAPIKey = prefixToken{lead: "AIza", prefixes: []string{"AIza"}, body: urlSafe64, min: 35, max: 35}
)

// findTokens runs each token scanner in turn.
func findTokens(tokens ...*prefixToken) func(s string, dst []span, id int) []span {
	return func(s string, dst []span, id int) []span {
		for _, t := range tokens {
			dst = t.find(s, dst, id)
		}
		return dst
	}
}

const slackWebhookPrefix = "hooks.slack.com/services/"

// findSlackWebhooks masks the secret path of a Slack incoming webhook URL
// (https://hooks.slack.com/services/T.../B.../...), keeping the host so the log still says
// where it posted.
func findSlackWebhooks(s string, dst []span, id int) []span {
	for i := 0; ; {
		j := strings.Index(s[i:], slackWebhookPrefix)
		if j < 0 {
			return dst
		}
		b := i + j + len(slackWebhookPrefix)
		e := b
		for e < len(s) && (alnum[s[e]] || s[e] == '/' || s[e] == '_' || s[e] == '-') {
			e++
		}
		// T…/B…/secret: at least two slashes and a 16+ byte secret-ish tail.
		if e-b >= 20 && strings.Count(s[b:e], "/") >= 2 {
			dst = append(dst, span{start: b, end: e, rule: id})
		}
		i = e // past the prefix, so the search always moves on
	}
}

// awsSecretLen is the length of an AWS secret access key: 40 characters of standard base64.
const awsSecretLen = 40

// awsSecretContext is how far before a 40-character run the words "aws" or "secret" may be for
// the run to count as a secret access key. Without such a word nearby, 40 base64 characters are
// as likely a SHA-1, a hash or an identifier.
const awsSecretContext = 64

// findAWSSecretKeys masks 40-character base64 runs (standard alphabet, standing alone) that
// mix upper- and lower-case letters, when "aws" or "secret" (any case) appears within
// awsSecretContext bytes before them: `aws_secret_access_key = wJalrXUtnFEMI/...`,
// `AWS credentials AKIA... wJalr...`. Hex strings (SHA-1s) have no upper case and never match.
func findAWSSecretKeys(s string, dst []span, id int) []span {
	if len(s) < awsSecretLen || !containsFoldASCII(s, "aws") && !containsFoldASCII(s, "secret") {
		return dst
	}
	for i := 0; i < len(s); {
		if !stdBase64[s[i]] {
			i++
			continue
		}
		b := i
		upper, lower := false, false
		for i < len(s) && stdBase64[s[i]] {
			c := s[i]
			upper = upper || c >= 'A' && c <= 'Z'
			lower = lower || c >= 'a' && c <= 'z'
			i++
		}
		if i-b != awsSecretLen || !upper || !lower {
			continue
		}
		// A run glued to '=', '-' or '_' on either side is part of something longer.
		if b > 0 && tokenWordEnd[s[b-1]] || i < len(s) && (tokenWordEnd[s[i]] || s[i] == '=') {
			continue
		}
		from := max(0, b-awsSecretContext)
		if ctx := s[from:b]; containsFoldASCII(ctx, "aws") || containsFoldASCII(ctx, "secret") {
			dst = append(dst, span{start: b, end: i, rule: id})
		}
	}
	return dst
}
