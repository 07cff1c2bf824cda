package redact

import "strings"

// findKeyValues masks the value of `key=value`, `key: value` and `"key": "value"` pairs inside a
// string whose key is sensitive by the field rules (and not in allow_keys). Where the value ends
// depends on how it is written:
//
//   - quoted ("...", '...' or \"...\" in doubly encoded JSON): at the closing quote;
//   - starting with { or [: at the matching bracket (the whole nested object is the secret);
//   - after '=' (query strings, logfmt) or after ':' with no space ("password:x"): at the next
//     space, '&' or quote;
//   - after a quoted key and ':' (JSON): at the next space, ',', '}' or ']';
//   - after an unquoted key, ':' and a space (headers, YAML, prose): at the end of the line, so
//     "Cookie: a=1; b=2" and "Authorization: Digest ..." are masked whole.
//
// An unquoted value that is an HTTP auth scheme ("Bearer", "Basic", ...) takes the next word
// with it.
//
// The same pass serves high_entropy (entropyID >= 0): the value of a pair whose key no field
// rule matches but whose last word is suspect is reported when it looks random. Either id may
// be -1 when its rule is off.
func findKeyValues(fm *fieldMatcher, s string, dst []span, kvID, entropyID int) []span {
	for i := 0; i < len(s); {
		j := strings.IndexAny(s[i:], "=:")
		if j < 0 {
			break
		}
		sep := i + j
		i = sep + 1
		key, vs, ve, ok := keyValueAt(s, sep)
		if !ok || fm.allowed(key) {
			continue
		}
		p, suspect := fm.lookup(key)
		id := -1
		switch {
		case p != nil:
			id = kvID
		case suspect && entropyID >= 0 && looksRandom(s[vs:ve]):
			id = entropyID
		}
		if id >= 0 {
			dst = append(dst, span{start: vs, end: ve, rule: id})
			i = max(i, ve)
		}
	}
	return dst
}

// maxInlineKeyLen bounds the key looked for before a separator: of a longer run of key
// characters only the tail is read, which keeps the scan linear on blobs (base64 with '='
// padding) and still finds "....database.password=".
const maxInlineKeyLen = 128

// keyValueAt reads the pair around the separator at sep: the key before it and the span of the
// value after it. ok is false when there is no key or no value.
func keyValueAt(s string, sep int) (key string, vs, ve int, ok bool) {
	c := s[sep]
	if sep+1 < len(s) {
		next := s[sep+1]
		if c == '=' && next == '=' || c == ':' && next == '/' {
			return "", 0, 0, false // comparison or URL scheme
		}
	}
	k := sep
	for k > 0 && (s[k-1] == ' ' || s[k-1] == '\t') {
		k--
	}
	quotedKey := false
	if k > 0 && (s[k-1] == '"' || s[k-1] == '\'') {
		quotedKey = true
		k--
		if k > 0 && s[k-1] == '\\' {
			k--
		}
	}
	keyEnd := k
	for k > 0 && keyEnd-k < maxInlineKeyLen && isInlineKeyChar(s[k-1]) {
		k--
	}
	if k == keyEnd {
		return "", 0, 0, false
	}
	key = s[k:keyEnd]

	v := sep + 1
	spaced := false
	for v < len(s) && (s[v] == ' ' || s[v] == '\t') {
		v++
		spaced = true
	}
	if v >= len(s) {
		return "", 0, 0, false
	}
	switch {
	case s[v] == '\\' && v+1 < len(s) && s[v+1] == '"':
		vs = v + 2
		if e := strings.Index(s[vs:], `\"`); e >= 0 {
			ve = vs + e
		} else {
			ve = len(s)
		}
	case s[v] == '"' || s[v] == '\'':
		vs = v + 1
		ve = closingQuote(s, vs, s[v])
	case s[v] == '{' || s[v] == '[':
		vs = v
		ve = matchingBracket(s, v)
	default:
		vs = v
		switch {
		case c == ':' && !quotedKey && spaced:
			ve = endOfLine(s, vs)
		case c == ':' && quotedKey:
			ve = indexAnyFrom(s, vs, " \t\r\n,}]")
		default:
			ve = indexAnyFrom(s, vs, " \t\r\n&\"'")
		}
		if ve < len(s) && isAuthScheme(s[vs:ve]) {
			ve = extendOverNextWord(s, ve)
		}
	}
	return key, vs, ve, ve > vs
}

func isInlineKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '.'
}

// closingQuote returns the index of the quote q closing a string that starts at from, honouring
// backslash escapes; an unterminated string runs to the end.
func closingQuote(s string, from int, q byte) int {
	for i := from; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q:
			return i
		}
	}
	return len(s)
}

// matchingBracket returns the index just past the bracket closing the one at open, skipping
// quoted strings; an unbalanced value runs to the end.
func matchingBracket(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		case '"':
			i = closingQuote(s, i+1, '"')
		}
	}
	return len(s)
}

func endOfLine(s string, from int) int {
	e := indexAnyFrom(s, from, "\r\n")
	for e > from && (s[e-1] == ' ' || s[e-1] == '\t') {
		e--
	}
	return e
}

func indexAnyFrom(s string, from int, chars string) int {
	if e := strings.IndexAny(s[from:], chars); e >= 0 {
		return from + e
	}
	return len(s)
}

func isAuthScheme(w string) bool {
	switch len(w) {
	case 4, 5, 6, 9:
	default:
		return false
	}
	for _, scheme := range [...]string{"bearer", "basic", "token", "digest", "negotiate", "ntlm"} {
		if strings.EqualFold(w, scheme) {
			return true
		}
	}
	return false
}

// extendOverNextWord moves end past the blanks and the word that follow it.
func extendOverNextWord(s string, end int) int {
	i := end
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if i == end || i == len(s) {
		return end
	}
	return indexAnyFrom(s, i, " \t\r\n&\"',}]")
}
