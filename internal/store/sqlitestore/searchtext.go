package sqlitestore

import (
	"slices"
	"strings"
)

// maxSearchText caps search_text, in bytes. Attribute values beyond it are not searchable;
// the cap bounds what one record costs the full-text index however many attributes it has.
const maxSearchText = 2048

// searchText returns what the full-text index sees of a record's attributes: their string
// values, flattened through nested maps (keys in sorted order, so the text and the cap are
// deterministic) and slices, one value per line, without keys, numbers, booleans or JSON
// punctuation, and without opaque identifiers (see dropWords). The result is at most
// maxSearchText bytes and never ends inside a word.
//
// Numbers and booleans are left out on purpose: nobody searches a record by "true" or by a
// byte count, and every distinct number is one more term in the index.
func searchText(attrs map[string]any) string {
	if len(attrs) == 0 {
		return ""
	}
	var b strings.Builder
	appendSearchValues(&b, attrs)
	return b.String()
}

// recordSearchText is what Insert indexes besides message and event: the record's tags, then
// its attributes (searchText). Tags come first so that the cap never cuts them off: they are
// short, chosen by the sender for finding records, and also filterable exactly (tag=).
func recordSearchText(tags []string, attrs map[string]any) string {
	if len(tags) == 0 {
		return searchText(attrs)
	}
	var b strings.Builder
	if appendSearchValues(&b, tags) && len(attrs) > 0 {
		appendSearchValues(&b, attrs)
	}
	return b.String()
}

// appendSearchValues appends v's string values to b. It reports false once b is full, so that
// the walk stops.
func appendSearchValues(b *strings.Builder, v any) bool {
	switch x := v.(type) {
	case string:
		return appendSearchString(b, x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !appendSearchValues(b, x[k]) {
				return false
			}
		}
	case []any:
		for _, e := range x {
			if !appendSearchValues(b, e) {
				return false
			}
		}
	case []string:
		for _, e := range x {
			if !appendSearchString(b, e) {
				return false
			}
		}
	}
	return true
}

// appendSearchString appends s without its opaque identifiers, on a line of its own, and
// reports whether there is room for more.
func appendSearchString(b *strings.Builder, s string) bool {
	s = dropWords(s)
	if !hasWordChar(s) {
		return true
	}
	room := maxSearchText - b.Len()
	if b.Len() > 0 {
		room-- // the newline
	}
	if room <= 0 {
		return false
	}
	full := len(s) > room
	if full {
		// Cut at an ASCII separator before the word the cap falls in, so that no half word
		// is indexed (a prefix search would otherwise find a word the record does not hold)
		// and no UTF-8 character is split: non-ASCII bytes count as word bytes here, since
		// the tokenizer reads most of them as letters.
		cut := room
		for cut > 0 && (isIDByte(s[cut]) || s[cut] >= 0x80) {
			cut--
		}
		s = s[:cut]
		if !hasWordChar(s) {
			return false
		}
	}
	if b.Len() > 0 {
		b.WriteByte('\n')
	}
	b.WriteString(s)
	return !full
}

// dropWords returns s without the words that are opaque identifiers, keeping everything else
// (spaces, punctuation, non-ASCII text) as it was. A word here is a maximal run of ASCII
// letters, digits, '+' and '=' (the base64 alphabet without '/'); every other byte separates
// words, as it does in the full-text tokenizer. Dropped:
//
//   - a UUID: 36 bytes, hex digits in groups of 8-4-4-4-12 joined by '-' (checked before
//     splitting at '-', whose pieces would each be too short for the rules below);
//   - a hex word of 16 or more digits (trace and span ids, digests, long numeric ids: 16 or
//     more decimal digits are hex digits too);
//   - a random word: 20 or more bytes holding letters and digits that switch between letter
//     and digit at least 3 times (base64 and random ids: "4eC39HqLyjWDarjtT1zdp7dc"). The
//     switches keep long words that merely end in a number ("aVeryLongCamelCaseName2") and
//     snake_case or kebab-case names, whose '_' and '-' split them into short words.
//
// Kept: words, email addresses, paths and URLs (their '/', '.', ':' and '@' split them into
// short words), short codes ("s-1a2b3c4d", "user-42"), IPs, dates. Standard base64 containing
// '/' splits into pieces that are judged one by one, so pieces shorter than 20 bytes stay.
//
// One pass over the bytes and no allocation when nothing is dropped: this runs for every
// attribute of every record on the writer's path.
func dropWords(s string) string {
	var out []byte // nil until the first word is dropped
	kept := 0      // s[kept:] has not been copied to out yet
	for i := 0; i < len(s); {
		if isUUIDAt(s, i) {
			out = append(out, s[kept:i]...)
			i += 36
			kept = i
			continue
		}
		if !isIDByte(s[i]) {
			i++
			continue
		}
		start := i
		for i < len(s) && isIDByte(s[i]) {
			i++
		}
		if opaqueWord(s[start:i]) {
			out = append(out, s[kept:start]...)
			kept = i
		}
	}
	if kept == 0 {
		return s
	}
	return string(append(out, s[kept:]...))
}

// isIDByte reports whether c belongs to a word as dropWords splits them.
func isIDByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '='
}

func isHexByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isUUIDAt reports whether a UUID starts at s[i] and is not part of a longer word.
func isUUIDAt(s string, i int) bool {
	if len(s)-i < 36 || (i > 0 && isIDByte(s[i-1])) || (len(s)-i > 36 && isIDByte(s[i+36])) {
		return false
	}
	for j := range 36 {
		c := s[i+j]
		if j == 8 || j == 13 || j == 18 || j == 23 {
			if c != '-' {
				return false
			}
		} else if !isHexByte(c) {
			return false
		}
	}
	return true
}

// opaqueWord applies dropWords' hex and random rules to one word.
func opaqueWord(w string) bool {
	if len(w) < 16 {
		return false
	}
	hex := true
	switches, letters, digits := 0, 0, 0
	prevDigit, prevSet := false, false
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !isHexByte(c) {
			hex = false
		}
		isDigit := '0' <= c && c <= '9'
		isLetter := !isDigit && c != '+' && c != '='
		if !isDigit && !isLetter {
			continue
		}
		if isDigit {
			digits++
		} else {
			letters++
		}
		if prevSet && prevDigit != isDigit {
			switches++
		}
		prevDigit, prevSet = isDigit, true
	}
	if hex {
		return true
	}
	return len(w) >= 20 && letters > 0 && digits > 0 && switches >= 3
}
