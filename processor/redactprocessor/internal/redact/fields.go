package redact

import (
	"fmt"
	"math"
)

// DefaultFieldPatterns are the key-name patterns that mark an attribute as a secret. Each is
// compared after normalisation (see normalizePattern), so `api_key`, `apikey` and `API-Key` are
// one pattern.
var DefaultFieldPatterns = []string{
	"password", "passwd", "pwd", "passphrase",
	"secret",
	"token", "access_token", "refresh_token", "id_token", "auth_token",
	"api_key", "apikey", "access_key", "private_key", "privkey", "signing_key", "encryption_key",
	"authorization",
	"cookie", "set-cookie",
	"session",
	"credential",
	"ssn", "social_security",
	"card_number", "cc_number", "credit_card", "cvv", "cvv2", "cvc", "cvc2", "pin", "otp",
	"jwt",
}

// shortPatternLen is the length up to which a normalised pattern must match whole words: a
// three-letter pattern such as "ssn" found inside a longer word ("classname",
// "process.name" -> "processname") says nothing about the key.
const shortPatternLen = 4

// maxKeyLen bounds the keys the matcher normalises on the stack; longer keys are still matched,
// at the cost of a heap allocation.
const maxKeyLen = 256

// qualifierWords, as the last word of a key whose hit lies in an earlier word, describe a secret
// rather than hold it: `password_policy`, `token_count`, `session.duration`.
var qualifierWords = map[string]struct{}{
	"count": {}, "length": {}, "len": {}, "size": {}, "limit": {}, "max": {}, "min": {},
	"used": {}, "type": {}, "kind": {}, "policy": {}, "expiry": {}, "expires": {}, "expired": {},
	"expiration": {}, "ttl": {}, "age": {}, "duration": {}, "timeout": {}, "enabled": {},
	"required": {}, "name": {}, "status": {},
}

// benignWords are words that contain a pattern without being about a secret. They only suppress
// a hit that lies inside the one word and is not the whole word (so a user pattern "tokens"
// still matches the key "tokens"). "tokens" is here because OpenTelemetry's gen_ai conventions
// use it for counts (gen_ai.usage.input_tokens); the multi-word defaults access_token,
// refresh_token, id_token and auth_token keep their plurals secret.
var benignWords = map[string]struct{}{
	"tokens": {}, "tokenizer": {}, "tokenizers": {}, "tokenize": {}, "tokenized": {},
	"tokenization": {}, "tokenizing": {},
	"secretary": {}, "secretaries": {},
	"possession": {}, "possessions": {}, "obsession": {},
	"passwordless": {}, "cookieless": {}, "sessionless": {},
}

// candidate is a pattern in fieldMatcher.byFirst, with what rules most of them out without
// reading the pattern itself.
type candidate struct {
	idx    uint16
	n      uint8 // length of the normalised pattern (0 when longer than 255)
	second byte  // its second byte; patterns are at least two bytes long or rejected
}

type fieldPattern struct {
	name  string // as configured
	rule  string // "field:<name>", the rule name reported in summaries
	norm  string // normalised form searched in normalised keys
	whole bool   // short pattern: both ends must fall on word boundaries
}

// fieldMatcher decides whether an attribute key names a secret. It is immutable after
// construction and safe for concurrent use.
type fieldMatcher struct {
	patterns []fieldPattern
	// byFirst lists, for each byte, the patterns starting with it in ascending index order, so
	// a key is read once instead of once per pattern.
	byFirst [256][]candidate
	allow   map[string]struct{} // lower-cased exact keys that are never redacted
	ignore  map[string]struct{} // lower-cased exact keys whose values are not scanned
}

// normalizePattern lower-cases a pattern and drops every separator, so that it can be searched
// in a normalised key: "Set-Cookie" -> "setcookie".
func normalizePattern(p string) string {
	buf, _ := normalizeKey(p, nil, nil)
	return string(buf)
}

// NormalizeFieldPattern exposes the normal form used to compare patterns, so configuration
// validation can tell which default a `remove` entry refers to.
func NormalizeFieldPattern(p string) string { return normalizePattern(p) }

// IsDefaultFieldPattern reports whether p names one of DefaultFieldPatterns (after
// normalisation).
func IsDefaultFieldPattern(p string) bool {
	n := normalizePattern(p)
	for _, d := range DefaultFieldPatterns {
		if normalizePattern(d) == n {
			return true
		}
	}
	return false
}

func newFieldMatcher(add, remove, allow, ignore []string) (*fieldMatcher, error) {
	removed := make(map[string]bool, len(remove))
	for _, r := range remove {
		removed[normalizePattern(r)] = true
	}
	m := &fieldMatcher{}
	seen := make(map[string]bool)
	addPattern := func(p string) error {
		n := normalizePattern(p)
		if len(n) < 2 {
			return fmt.Errorf("field pattern %q needs at least two letters or digits", p)
		}
		if seen[n] || removed[n] {
			return nil
		}
		seen[n] = true
		m.patterns = append(m.patterns, fieldPattern{
			name:  p,
			rule:  FieldRulePrefix + p,
			norm:  n,
			whole: len(n) <= shortPatternLen,
		})
		return nil
	}
	for _, p := range DefaultFieldPatterns {
		if err := addPattern(p); err != nil {
			return nil, err
		}
	}
	for _, p := range add {
		if err := addPattern(p); err != nil {
			return nil, err
		}
	}
	if len(m.patterns) > math.MaxUint16 {
		return nil, fmt.Errorf("%d field patterns; at most %d are supported", len(m.patterns), math.MaxUint16)
	}
	for i, p := range m.patterns {
		c := candidate{idx: uint16(i), second: p.norm[1]}
		if len(p.norm) <= 255 {
			c.n = uint8(len(p.norm))
		}
		m.byFirst[p.norm[0]] = append(m.byFirst[p.norm[0]], c)
	}
	m.allow = lowerSet(allow)
	m.ignore = lowerSet(ignore)
	return m, nil
}

// lowerSet is the set of keys lower-cased (ASCII only, as in inSet).
func lowerSet(keys []string) map[string]struct{} {
	set := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		lower := []byte(k)
		for i, c := range lower {
			lower[i] = toLower(c)
		}
		set[string(lower)] = struct{}{}
	}
	return set
}

// allowed reports whether key is in allow_keys (exact, ASCII case-insensitive).
func (m *fieldMatcher) allowed(key string) bool { return inSet(m.allow, key) }

// ignored reports whether key is in ignore_keys (exact, ASCII case-insensitive).
func (m *fieldMatcher) ignored(key string) bool { return inSet(m.ignore, key) }

func inSet(set map[string]struct{}, key string) bool {
	if len(set) == 0 {
		return false
	}
	var stack [maxKeyLen]byte
	lower := stack[:0]
	for i := 0; i < len(key); i++ {
		lower = append(lower, toLower(key[i]))
	}
	_, ok := set[string(lower)]
	return ok
}

// match returns the pattern that makes key sensitive, or nil. It does not consult allow_keys.
// When several patterns hit, the one listed first (defaults, then additions) is reported.
func (m *fieldMatcher) match(key string) *fieldPattern {
	p, _ := m.lookup(key)
	return p
}

// lookup returns the pattern that makes key sensitive (or nil) and whether key is suspect
// (its last word is one of suspectWords), normalising the key once for both answers.
func (m *fieldMatcher) lookup(key string) (*fieldPattern, bool) {
	var bufStack [maxKeyLen]byte
	var startStack [64]int
	buf, starts := normalizeKey(key, bufStack[:0], startStack[:0])
	return m.matchNormalized(buf, starts), isSuspect(buf, starts)
}

func (m *fieldMatcher) matchNormalized(buf []byte, starts []int) *fieldPattern {
	best := len(m.patterns)
	for i := 0; i+1 < len(buf); i++ {
		for _, c := range m.byFirst[buf[i]] {
			if int(c.idx) >= best {
				break
			}
			if c.second != buf[i+1] || c.n != 0 && i+int(c.n) > len(buf) {
				continue
			}
			p := &m.patterns[c.idx]
			e := i + len(p.norm)
			if e <= len(buf) && string(buf[i:e]) == p.norm && acceptHit(buf, starts, i, e, p.whole) {
				best = int(c.idx)
				break
			}
		}
	}
	if best == len(m.patterns) {
		return nil
	}
	return &m.patterns[best]
}

// acceptHit applies the near-miss policy to one occurrence [s, e) of a pattern in the normalised
// key buf, whose words start at starts (with len(buf) as the final sentinel).
func acceptHit(buf []byte, starts []int, s, e int, whole bool) bool {
	ws, we := wordAt(starts, s), wordAt(starts, e-1)
	startAligned := starts[ws] == s
	wordEnd := starts[we+1]
	endAligned := wordEnd == e || isPluralTail(buf[e:wordEnd])
	aligned := startAligned && endAligned
	if whole && !aligned {
		return false
	}
	// A hit that straddles words must start and end on them: "sec_retention" holds no secret.
	if ws != we && !aligned {
		return false
	}
	if ws == we && !(startAligned && wordEnd == e) {
		if _, ok := benignWords[string(buf[starts[ws]:wordEnd])]; ok {
			return false
		}
	}
	last := len(starts) - 2
	if we < last {
		if _, ok := qualifierWords[string(buf[starts[last]:starts[last+1]])]; ok {
			return false
		}
	}
	return true
}

func isPluralTail(b []byte) bool {
	return len(b) == 1 && b[0] == 's' || len(b) == 2 && b[0] == 'e' && b[1] == 's'
}

// wordAt returns the index of the word containing offset i.
func wordAt(starts []int, i int) int {
	w := 0
	for w+1 < len(starts)-1 && starts[w+1] <= i {
		w++
	}
	return w
}

// normalizeKey lower-cases key and splits it into words: at every character that is not an
// ASCII letter or digit (dropped), at lower-to-upper case changes ("sessionToken"), before the
// last capital of an acronym followed by a lower-case letter ("APIKey" -> api, key) and at
// digit-to-upper changes ("OAuth2Token"). Bytes >= 0x80 are kept as word characters. It
// appends the letters to buf and each word's start offset to starts, then len(buf) as a
// sentinel, and returns both; with buf and starts backed by stack arrays it does not allocate.
func normalizeKey(key string, buf []byte, starts []int) ([]byte, []int) {
	const (
		sep = iota
		lower
		upper
		digit
		other
	)
	prev := sep
	for i := 0; i < len(key); i++ {
		c := key[i]
		cls := sep
		switch {
		case c >= 'a' && c <= 'z':
			cls = lower
		case c >= 'A' && c <= 'Z':
			cls = upper
		case c >= '0' && c <= '9':
			cls = digit
		case c >= 0x80:
			cls = other
		}
		if cls == sep {
			prev = sep
			continue
		}
		newWord := prev == sep
		if cls == upper && (prev == lower || prev == digit) {
			newWord = true
		}
		if cls == upper && prev == upper && i+1 < len(key) && key[i+1] >= 'a' && key[i+1] <= 'z' {
			newWord = true
		}
		if newWord {
			starts = append(starts, len(buf))
		}
		buf = append(buf, toLower(c))
		prev = cls
	}
	starts = append(starts, len(buf))
	return buf, starts
}

func toLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
