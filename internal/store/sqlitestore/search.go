package sqlitestore

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/searchsyntax"
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
	return searchsyntax.Translate(text, ftsSyntax)
}

// ftsSyntax writes a search in FTS5's query language.
var ftsSyntax = searchsyntax.Syntax{
	Term: func(t searchsyntax.Term) string { return ftsString(t.Text, t.Prefix) },
	And:  "AND", Or: "OR", Not: "NOT",
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
