package sqlitestore

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// ftsQuery translates Filter.Text into an FTS5 MATCH expression.
//
// The search syntax (what users type in the viewer's search box and in ?q=):
//
//	login failed          every word must appear, in any order (message, event or attribute values)
//	"login failed"        the words in this order, next to each other
//	logi*                 any word starting with logi (also "login fa"* for a phrase)
//	login OR logout       either; AND is implied between words and may be written
//	login NOT admin       the first without the second (NOT needs a term before it)
//	(login OR logout) NOT admin
//
// The operators are the uppercase words AND, OR and NOT; in lowercase they are ordinary words.
// NOT binds tighter than AND, and AND tighter than OR, as in FTS5. Matching ignores case and
// diacritics. Punctuation separates words as it does in the index, so alice@example.com,
// 10.0.0.1 or user-42 find those words next to each other, with no quoting needed.
//
// Every term is rendered as a quoted FTS5 string, so nothing a user types reaches FTS5 as
// syntax except the operators, parentheses and prefix stars this parser accepted. A query it
// cannot parse (an unterminated quote, an unbalanced parenthesis, an operator without a term on
// each side) is an error wrapping store.ErrInvalidQuery that says what is wrong and where.
// An empty or blank text is no filter ("", nil).
func ftsQuery(text string) (string, error) {
	toks, err := lexSearch(text)
	if err != nil {
		return "", fmt.Errorf("%w: search %q: %w", store.ErrInvalidQuery, text, err)
	}
	if len(toks) == 0 {
		return "", nil
	}
	p := searchParser{toks: toks}
	expr, err := p.or()
	switch {
	case err != nil:
	case p.pos < len(p.toks):
		// Only an unmatched ')' stops the top-level expression early.
		err = fmt.Errorf("unmatched ')' at offset %d", p.toks[p.pos].offset)
	case expr == "":
		// Without a letter or digit there is no word to look up. Searching for it would match
		// nothing, and dropping the filter would match everything: neither is what was asked.
		err = errors.New("no letters or digits to search for")
	}
	if err != nil {
		return "", fmt.Errorf("%w: search %q: %w", store.ErrInvalidQuery, text, err)
	}
	return expr, nil
}

type searchTokenKind int

const (
	tokTerm searchTokenKind = iota // a word or a phrase, already rendered as an FTS5 string
	tokAnd
	tokOr
	tokNot
	tokOpen
	tokClose
)

type searchToken struct {
	kind   searchTokenKind
	text   string // for tokTerm: the FTS5 string, quoted, with a trailing * for a prefix
	offset int    // byte offset in the user's text, for error messages
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
			toks = append(toks, searchToken{kind: tokTerm, text: ftsString(phrase, prefix), offset: i})
			i = next
		default:
			start := i
			for i < len(text) && !strings.ContainsRune(" \t\n\r()\"", rune(text[i])) {
				i++
			}
			word := text[start:i]
			switch word {
			case "AND":
				toks = append(toks, searchToken{kind: tokAnd, offset: start})
			case "OR":
				toks = append(toks, searchToken{kind: tokOr, offset: start})
			case "NOT":
				toks = append(toks, searchToken{kind: tokNot, offset: start})
			default:
				stem, prefix := strings.CutSuffix(word, "*")
				toks = append(toks, searchToken{kind: tokTerm, text: ftsString(stem, prefix), offset: start})
			}
		}
	}
	return toks, nil
}

// ftsString quotes s as an FTS5 string ("" escapes a quote). FTS5 tokenizes it like the
// indexed text, so punctuation inside only separates words. A string without a letter or digit
// holds no word at all: FTS5 would match nothing for it, which inside "login @@" would hide
// every login, so it becomes "" and the parser leaves it out of its expression.
func ftsString(s string, prefix bool) string {
	if !hasWordChar(s) {
		return ""
	}
	q := `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	if prefix {
		q += "*"
	}
	return q
}

func hasWordChar(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			return true
		}
	}
	return false
}

// searchParser is a recursive-descent parser over the grammar
//
//	or   = and { "OR" and }
//	and  = not { ["AND"] not }
//	not  = atom { "NOT" atom }
//	atom = term | "(" or ")"
//
// and renders each node fully parenthesized, so FTS5's own precedence never matters. A term
// without words renders as "" and is left out of the node it is part of: "x AND @@" is x,
// "x OR @@" is x, "x NOT @@" is x, "@@ NOT x" is "".
type searchParser struct {
	toks []searchToken
	pos  int
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
			left = "(" + left + " NOT " + right + ")"
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
		return t.text, nil
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

// combine joins two rendered operands of AND or OR, leaving out an empty one.
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

// classifySearchError turns an error FTS5 raised while evaluating a MATCH into
// store.ErrInvalidQuery. ftsQuery accepts only expressions FTS5 can parse, so this is a second
// line of defence: FTS5 reports its syntax errors as a plain SQLITE_ERROR whose message starts
// with "fts5:", which no I/O, lock or corruption failure does.
func classifySearchError(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_ERROR && strings.Contains(se.Error(), "fts5:") {
		return fmt.Errorf("%w: %w", store.ErrInvalidQuery, err)
	}
	return err
}
