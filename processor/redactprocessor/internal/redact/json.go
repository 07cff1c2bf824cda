package redact

import "strings"

// maxJSONDepth bounds the nesting findJSON follows; deeper documents are scanned as text, which
// keeps a hostile document from costing more than its length.
const maxJSONDepth = 64

// startsJSON reports whether s, after leading blanks, opens an object or an array.
func startsJSON(s string) bool {
	i := skipJSONSpace(s, 0)
	return i < len(s) && (s[i] == '{' || s[i] == '[')
}

// jsonScanner walks a JSON document in place, without decoding it: keys are classified like
// attribute keys, string values are scanned by the text rules with offsets into the document,
// and a replacement is spliced into the original bytes, so formatting, key order and every
// value that holds no secret come out exactly as they went in.
type jsonScanner struct {
	r     *Redactor
	s     string
	dst   []span
	depth int
}

// findJSON appends the findings in the JSON document s. It returns ok=false, and dst as it
// was, when s is not one valid JSON value (optionally surrounded by blanks).
func (r *Redactor) findJSON(s string, dst []span) ([]span, bool) {
	js := jsonScanner{r: r, s: s, dst: dst}
	end, ok := js.value(skipJSONSpace(s, 0), KeyPlain)
	if !ok || skipJSONSpace(s, end) != len(s) {
		return dst, false
	}
	return js.dst, true
}

// value reads the value at i under a key with verdict v and returns the index after it.
func (js *jsonScanner) value(i int, v KeyVerdict) (int, bool) {
	s := js.s
	if i >= len(s) {
		return 0, false
	}
	// Below a secret key nothing is scanned: the whole value goes.
	inner := v
	if v == KeySecret {
		inner = KeyAllowed
	}
	var end int
	var ok bool
	switch c := s[i]; c {
	case '{', '[':
		if js.depth++; js.depth > maxJSONDepth {
			return 0, false
		}
		if c == '{' {
			end, ok = js.object(i, inner)
		} else {
			end, ok = js.array(i, inner)
		}
		js.depth--
		if ok && v == KeySecret {
			js.add(i, end, js.r.jsonID, kindJSONValue)
		}
		return end, ok
	case '"':
		e, ok := jsonStringEnd(s, i+1)
		if !ok {
			return 0, false
		}
		js.onString(i+1, e, v)
		return e + 1, true
	default:
		e := jsonLiteralEnd(s, i)
		if e == i {
			return 0, false
		}
		js.onScalar(i, e, v)
		return e, true
	}
}

func (js *jsonScanner) object(i int, v KeyVerdict) (int, bool) {
	s := js.s
	i = skipJSONSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return 0, false
		}
		ke, ok := jsonStringEnd(s, i+1)
		if !ok {
			return 0, false
		}
		// Inside a document a secret key is reported under json (not field:<pattern>), and
		// json's action applies.
		verdict := v
		if v == KeyPlain || v == KeySuspect {
			verdict, _ = js.r.ClassifyKey(s[i+1 : ke])
		}
		i = skipJSONSpace(s, ke+1)
		if i >= len(s) || s[i] != ':' {
			return 0, false
		}
		if i, ok = js.value(skipJSONSpace(s, i+1), verdict); !ok {
			return 0, false
		}
		i = skipJSONSpace(s, i)
		if i >= len(s) {
			return 0, false
		}
		switch s[i] {
		case ',':
			i = skipJSONSpace(s, i+1)
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

func (js *jsonScanner) array(i int, v KeyVerdict) (int, bool) {
	s := js.s
	i = skipJSONSpace(s, i+1)
	if i < len(s) && s[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = js.value(i, v); !ok {
			return 0, false
		}
		i = skipJSONSpace(s, i)
		if i >= len(s) {
			return 0, false
		}
		switch s[i] {
		case ',':
			i = skipJSONSpace(s, i+1)
		case ']':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// onString handles the string whose content (escapes not decoded) is s[b:e].
func (js *jsonScanner) onString(b, e int, v KeyVerdict) {
	content := js.s[b:e]
	switch v {
	case KeySecret:
		if e > b {
			js.add(b, e, js.r.jsonID, kindJSONString)
		}
	case KeySuspect:
		if looksRandom(content) {
			js.add(b, e, js.r.entropyID, kindJSONString)
			return
		}
		fallthrough
	case KeyPlain:
		n := len(js.dst)
		js.dst = js.r.findText(content, b, js.dst)
		for k := n; k < len(js.dst); k++ {
			js.dst[k].kind = kindJSONString
		}
	}
}

// onScalar handles a number, true, false or null at s[b:e].
func (js *jsonScanner) onScalar(b, e int, v KeyVerdict) {
	switch v {
	case KeySecret:
		js.add(b, e, js.r.jsonID, kindJSONValue)
	case KeyPlain, KeySuspect:
		lit := js.s[b:e]
		if js.r.cardID >= 0 && len(lit) >= minCardDigits && len(lit) <= maxCardDigits &&
			strings.Trim(lit, "0123456789") == "" && isCard(lit, []digitGroup{{0, len(lit)}}) {
			js.add(b, e, js.r.cardID, kindJSONValue)
		}
	}
}

func (js *jsonScanner) add(b, e, rule int, kind uint8) {
	js.dst = append(js.dst, span{start: b, end: e, rule: rule, kind: kind})
}

func skipJSONSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// jsonStringEnd returns the index of the quote closing a string whose content starts at from.
// A raw control character makes the string, and the document, invalid.
func jsonStringEnd(s string, from int) (int, bool) {
	for i := from; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '"':
			return i, true
		case c < 0x20:
			return 0, false
		}
	}
	return 0, false
}

// jsonLiteralEnd returns the end of the number, true, false or null at i (i itself when there
// is none). Numbers are checked for their alphabet only; the document's structure around them
// is what tells JSON from text.
func jsonLiteralEnd(s string, i int) int {
	for _, lit := range [...]string{"true", "false", "null"} {
		if strings.HasPrefix(s[i:], lit) {
			return i + len(lit)
		}
	}
	e := i
	for e < len(s) && (isDigit(s[e]) || s[e] == '-' || s[e] == '+' || s[e] == '.' || s[e] == 'e' || s[e] == 'E') {
		e++
	}
	if e > i && !isDigit(s[e-1]) {
		return i
	}
	return e
}

// writeJSONEscaped writes s as the content of a JSON string.
func writeJSONEscaped(b *strings.Builder, s string) {
	const hexDigits = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
}
