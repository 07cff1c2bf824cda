package clickhousestore

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
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

// searchText is the search_text value of a record.
func searchText(parts ...string) string {
	var words []string
	for _, p := range parts {
		words = append(words, searchWords(p)...)
	}
	if len(words) == 0 {
		return " "
	}
	return " " + strings.Join(words, " ") + " "
}

// searchCondition translates Filter.Text into a SQL condition over search_text. "" (and no
// error) for a blank text; an error wrapping store.ErrInvalidQuery for a text it cannot parse.
func (d dialect) searchCondition(text string) (string, error) {
	toks, err := lexSearch(text)
	if err != nil {
		return "", fmt.Errorf("%w: search %q: %w", store.ErrInvalidQuery, text, err)
	}
	if len(toks) == 0 {
		return "", nil
	}
	p := searchParser{toks: toks, d: d}
	expr, err := p.or()
	switch {
	case err != nil:
	case p.pos < len(p.toks):
		err = fmt.Errorf("unmatched ')' at offset %d", p.toks[p.pos].offset)
	case expr == "":
		// Without a letter or digit there is no word to look for: matching nothing and
		// dropping the filter would both answer something else than what was asked.
		err = errors.New("no letters or digits to search for")
	}
	if err != nil {
		return "", fmt.Errorf("%w: search %q: %w", store.ErrInvalidQuery, text, err)
	}
	return expr, nil
}

type searchTokenKind int

const (
	tokTerm searchTokenKind = iota
	tokAnd
	tokOr
	tokNot
	tokOpen
	tokClose
)

type searchToken struct {
	kind   searchTokenKind
	words  []string // tokTerm: the term's words; empty when it has none
	prefix bool     // tokTerm: the last word is a prefix
	offset int
}

func lexSearch(text string) ([]searchToken, error) {
	var toks []searchToken
	i := 0
	for i < len(text) {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, searchToken{kind: tokOpen, offset: i})
			i++
		case c == ')':
			toks = append(toks, searchToken{kind: tokClose, offset: i})
			i++
		case c == '"':
			end := strings.IndexByte(text[i+1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote at offset %d", i)
			}
			phrase := text[i+1 : i+1+end]
			next := i + 1 + end + 1
			prefix := next < len(text) && text[next] == '*'
			if prefix {
				next++
			}
			toks = append(toks, searchToken{kind: tokTerm, words: searchWords(phrase), prefix: prefix, offset: i})
			i = next
		default:
			start := i
			for i < len(text) && !strings.ContainsRune(" \t\n\r()\"", rune(text[i])) {
				i++
			}
			switch word := text[start:i]; word {
			case "AND":
				toks = append(toks, searchToken{kind: tokAnd, offset: start})
			case "OR":
				toks = append(toks, searchToken{kind: tokOr, offset: start})
			case "NOT":
				toks = append(toks, searchToken{kind: tokNot, offset: start})
			default:
				stem, prefix := strings.CutSuffix(word, "*")
				toks = append(toks, searchToken{kind: tokTerm, words: searchWords(stem), prefix: prefix, offset: start})
			}
		}
	}
	return toks, nil
}

// termSQL renders one term; "" for a term without words, which the parser leaves out.
func (d dialect) termSQL(t searchToken) string {
	if len(t.words) == 0 {
		return ""
	}
	needle := " " + strings.Join(t.words, " ")
	if !t.prefix {
		needle += " "
	}
	cond := "position(search_text, " + quoteString(needle) + ") > 0"
	if !d.modern() {
		return cond
	}
	whole := t.words
	if t.prefix {
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

// searchParser is a recursive-descent parser over
//
//	or   = and { "OR" and }
//	and  = not { ["AND"] not }
//	not  = atom { "NOT" atom }
//	atom = term | "(" or ")"
//
// rendering each node parenthesized. A term without words renders as "" and is left out of
// the node it belongs to, as sqlitestore does.
type searchParser struct {
	toks []searchToken
	pos  int
	d    dialect
}

func (p *searchParser) peek() (searchToken, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return searchToken{}, false
}

func (p *searchParser) or() (string, error) {
	left, err := p.and()
	if err != nil {
		return "", err
	}
	for {
		t, ok := p.peek()
		if !ok || t.kind != tokOr {
			return left, nil
		}
		p.pos++
		right, err := p.and()
		if err != nil {
			return "", err
		}
		left = combine(left, "OR", right)
	}
}

func (p *searchParser) and() (string, error) {
	left, err := p.not()
	if err != nil {
		return "", err
	}
	for {
		t, ok := p.peek()
		if !ok || t.kind == tokOr || t.kind == tokClose {
			return left, nil
		}
		if t.kind == tokAnd {
			p.pos++
		}
		right, err := p.not()
		if err != nil {
			return "", err
		}
		left = combine(left, "AND", right)
	}
}

func (p *searchParser) not() (string, error) {
	left, err := p.atom()
	if err != nil {
		return "", err
	}
	for {
		t, ok := p.peek()
		if !ok || t.kind != tokNot {
			return left, nil
		}
		p.pos++
		right, err := p.atom()
		if err != nil {
			return "", err
		}
		if left != "" && right != "" {
			left = "(" + left + " AND NOT " + right + ")"
		}
	}
}

func (p *searchParser) atom() (string, error) {
	t, ok := p.peek()
	if !ok {
		if p.pos == 0 {
			return "", errors.New("nothing to search for")
		}
		return "", fmt.Errorf("the query ends after %s; a term must follow", describeToken(p.toks[p.pos-1]))
	}
	switch t.kind {
	case tokTerm:
		p.pos++
		return p.d.termSQL(t), nil
	case tokOpen:
		p.pos++
		inner, err := p.or()
		if err != nil {
			return "", err
		}
		closing, ok := p.peek()
		if !ok || closing.kind != tokClose {
			return "", fmt.Errorf("'(' at offset %d is never closed", t.offset)
		}
		p.pos++
		return inner, nil
	default:
		return "", fmt.Errorf("%s at offset %d needs a term before it", describeToken(t), t.offset)
	}
}

func combine(left, op, right string) string {
	switch {
	case left == "":
		return right
	case right == "":
		return left
	}
	return "(" + left + " " + op + " " + right + ")"
}

func describeToken(t searchToken) string {
	switch t.kind {
	case tokAnd:
		return "AND"
	case tokOr:
		return "OR"
	case tokNot:
		return "NOT"
	case tokOpen:
		return "'('"
	case tokClose:
		return "')'"
	}
	return "a term"
}
