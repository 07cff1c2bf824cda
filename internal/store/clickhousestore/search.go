package clickhousestore

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/otelcol-audit/otelcol-audit/internal/store/searchsyntax"
)

// Text search.
//
// The syntax is the one every store accepts (storetest pins it; sqlitestore's search.go
// documents it): words that must all appear, "quoted phrases", a trailing * for a prefix, the
// uppercase operators AND, OR, NOT and parentheses. NOT binds tighter than AND, AND tighter
// than OR.
//
// ClickHouse has no FTS5, so Insert keeps a search_text column: the words of event, message and
// the attributes' JSON (keys and values), lowercased, diacritics removed, joined by single
// spaces, with a space at each end. A word is then ' word ', a phrase ' w1 w2 ', a prefix
// ' pre' and a prefix phrase ' w1 pre': a plain position() finds each of them, on every
// server version. On the modern layout every whole word of a term also becomes hasToken(),
// which the tokenbf_v1 skip index on search_text answers without reading granules that lack
// the word; position() still decides, so both layouts return the same rows.

// searchWords splits s into the words search_text and search terms are made of: runs of
// letters and digits, lowercased, with combining marks removed (é matches e, as FTS5's
// remove_diacritics does).
func searchWords(s string) []string {
	s = norm.NFD.String(s)
	var words []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			words = append(words, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r):
			// a combining mark: part of the letter before it, dropped
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			cur.WriteRune(unicode.ToLower(r))
		default:
			flush()
		}
	}
	flush()
	return words
}

// searchText is the search_text value of a record. It is built in one buffer, and ASCII
// parts (almost all of an audit record) skip the Unicode normalization and rune tables: the
// profile of Insert had this as its largest cost (BENCHMARKS.md, ClickHouse insert).
func searchText(parts ...string) string {
	n := 1
	for _, p := range parts {
		n += len(p) + 1
	}
	buf := make([]byte, 0, n)
	for _, p := range parts {
		buf = appendSearchWords(buf, p)
	}
	if len(buf) == 0 {
		return " "
	}
	return string(append(buf, ' '))
}

// appendSearchWords appends " word" to dst for each of searchWords(s).
func appendSearchWords(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			for _, w := range searchWords(s) {
				dst = append(append(dst, ' '), w...)
			}
			return dst
		}
	}
	// ASCII: a letter or digit is a word's, anything else ends a word; no combining marks.
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		default:
			inWord = false
			continue
		}
		if !inWord {
			dst = append(dst, ' ')
			inWord = true
		}
		dst = append(dst, c)
	}
	return dst
}

// searchCondition translates Filter.Text into a SQL condition over search_text. "" (and no
// error) for a blank text; an error wrapping store.ErrInvalidQuery for a text it cannot parse.
func (d dialect) searchCondition(text string) (string, error) {
	return searchsyntax.Translate(text, searchsyntax.Syntax{
		Term: func(t searchsyntax.Term) string { return d.termSQL(searchWords(t.Text), t.Prefix) },
		And:  "AND", Or: "OR", Not: "AND NOT",
	})
}

// termSQL renders one term; "" for a term without words, which the parser leaves out.
func (d dialect) termSQL(words []string, prefix bool) string {
	if len(words) == 0 {
		return ""
	}
	needle := " " + strings.Join(words, " ")
	if !prefix {
		needle += " "
	}
	cond := "position(search_text, " + quoteString(needle) + ") > 0"
	if !d.modern() {
		return cond
	}
	whole := words
	if prefix {
		whole = whole[:len(whole)-1]
	}
	var parts []string
	for _, w := range whole {
		parts = append(parts, "hasToken(search_text, "+quoteString(w)+")")
	}
	if len(parts) == 0 {
		return cond
	}
	return "(" + strings.Join(append(parts, cond), " AND ") + ")"
}
