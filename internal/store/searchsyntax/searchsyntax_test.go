package searchsyntax

import (
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// plain renders terms as [text] ([text*] for a prefix), "" without a letter or digit, and
// NOT as "BUT NOT", so the tests see the parse tree and the store's operators.
var plain = Syntax{
	Term: func(t Term) string {
		if strings.IndexFunc(t.Text, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) < 0 {
			return ""
		}
		if t.Prefix {
			return "[" + t.Text + "*]"
		}
		return "[" + t.Text + "]"
	},
	And: "AND", Or: "OR", Not: "BUT NOT",
}

func TestTranslate_PrecedenceAndTheStoresOperators(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"", ""},
		{"a b OR c", "(([a] AND [b]) OR [c])"},
		{"a b NOT c", "([a] AND ([b] BUT NOT [c]))"},
		{`(a OR b) "x y"*`, "(([a] OR [b]) AND [x y*])"},
		{"login @@ OR --", "[login]"},
		{"a or b", "(([a] AND [or]) AND [b])"},
	} {
		got, err := Translate(c.text, plain)
		if assert.NoError(t, err, "Translate(%q)", c.text) {
			assert.Equal(t, c.want, got, "Translate(%q)", c.text)
		}
	}
}

func TestTranslate_ErrorsSayWhatAndWhere(t *testing.T) {
	for text, want := range map[string]string{
		`a "b`:  "unterminated quote at offset 2",
		"(a b":  "'(' at offset 0 is never closed",
		"a b)":  "unmatched ')' at offset 3",
		"a OR":  "the query ends after OR",
		"OR a":  "OR at offset 0 needs a term before it",
		"@@ --": "no letters or digits to search for",
	} {
		_, err := Translate(text, plain)
		if assert.ErrorIs(t, err, store.ErrInvalidQuery, "Translate(%q)", text) {
			assert.ErrorContains(t, err, want, "Translate(%q)", text)
		}
	}
}
