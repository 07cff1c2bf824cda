// Package searchsyntax parses the query API's search text (Filter.Text) once for every store:
// words and "quoted phrases", a trailing * for a prefix, AND (also implied between terms), OR,
// NOT and parentheses, with NOT binding tighter than AND and AND tighter than OR. Each store
// renders the parsed query in its own language through a Syntax.
package searchsyntax

import (
	"errors"
	"fmt"
	"strings"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Term is one word or phrase as the user wrote it, without its quotes or trailing *.
type Term struct {
	Text   string
	Prefix bool // the term ended in *
}

// Syntax is how a store writes a query.
type Syntax struct {
	// Term renders one term, or returns "" for a term that has nothing to look for (no
	// letters or digits), which the parser leaves out of the node it is part of.
	Term func(Term) string
	// And, Or and Not are the operators written between two rendered operands; each node is
	// fully parenthesized, so the store's own precedence never matters.
	And, Or, Not string
}

// Translate parses text and renders it with syn. A blank text is "" and no error; a text it
// cannot parse, or one with nothing to look for, is an error wrapping store.ErrInvalidQuery
// that names the problem and where it is.
func Translate(text string, syn Syntax) (string, error) {
	toks, err := lex(text)
	if err != nil {
		return "", fmt.Errorf("%w: search %q: %w", store.ErrInvalidQuery, text, err)
	}
	if len(toks) == 0 {
		return "", nil
	}
	p := parser{toks: toks, syn: syn}
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

type tokenKind int

const (
	tokTerm tokenKind = iota
	tokAnd
	tokOr
	tokNot
	tokOpen
	tokClose
)

type token struct {
	kind   tokenKind
	term   Term // for tokTerm
	offset int  // byte offset in the user's text, for error messages
}

// lex splits text into tokens. Only the upper-case words AND, OR and NOT are operators; any
// other character outside quotes and parentheses is part of a word.
func lex(text string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(text) {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{kind: tokOpen, offset: i})
			i++
		case c == ')':
			toks = append(toks, token{kind: tokClose, offset: i})
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
			toks = append(toks, token{kind: tokTerm, term: Term{Text: phrase, Prefix: prefix}, offset: i})
			i = next
		default:
			start := i
			for i < len(text) && !strings.ContainsRune(" \t\n\r()\"", rune(text[i])) {
				i++
			}
			switch word := text[start:i]; word {
			case "AND":
				toks = append(toks, token{kind: tokAnd, offset: start})
			case "OR":
				toks = append(toks, token{kind: tokOr, offset: start})
			case "NOT":
				toks = append(toks, token{kind: tokNot, offset: start})
			default:
				stem, prefix := strings.CutSuffix(word, "*")
				toks = append(toks, token{kind: tokTerm, term: Term{Text: stem, Prefix: prefix}, offset: start})
			}
		}
	}
	return toks, nil
}

// parser is a recursive-descent parser over the grammar
//
//	or   = and { "OR" and }
//	and  = not { ["AND"] not }
//	not  = atom { "NOT" atom }
//	atom = term | "(" or ")"
//
// A term rendered as "" is left out of the node it is part of: "x AND @@" is x, "x OR @@" is
// x, "x NOT @@" is x, "@@ NOT x" is "".
type parser struct {
	toks []token
	pos  int
	syn  Syntax
}

func (p *parser) peek() (token, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return token{}, false
}

func (p *parser) or() (string, error) {
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
		left = combine(left, p.syn.Or, right)
	}
}

func (p *parser) and() (string, error) {
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
		left = combine(left, p.syn.And, right)
	}
}

func (p *parser) not() (string, error) {
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
			left = "(" + left + " " + p.syn.Not + " " + right + ")"
		}
	}
}

func (p *parser) atom() (string, error) {
	t, ok := p.peek()
	if !ok {
		if p.pos == 0 {
			return "", errors.New("nothing to search for")
		}
		return "", fmt.Errorf("the query ends after %s; a term must follow", describe(p.toks[p.pos-1]))
	}
	switch t.kind {
	case tokTerm:
		p.pos++
		return p.syn.Term(t.term), nil
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
		return "", fmt.Errorf("%s at offset %d needs a term before it", describe(t), t.offset)
	}
}

// combine joins two rendered operands, leaving out an empty one.
func combine(left, op, right string) string {
	switch {
	case left == "":
		return right
	case right == "":
		return left
	}
	return "(" + left + " " + op + " " + right + ")"
}

func describe(t token) string {
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
