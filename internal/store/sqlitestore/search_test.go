package sqlitestore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

func TestFTSQuery_TranslatesTheSearchSyntax(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"blank text is no filter", "  \t", ""},
		{"one word is quoted", "login", `"login"`},
		{"words are joined by AND", "login failed", `("login" AND "failed")`},
		{"an explicit AND is the same", "login AND failed", `("login" AND "failed")`},
		{"OR binds looser than AND", "a b OR c", `(("a" AND "b") OR "c")`},
		{"NOT binds tighter than AND", "a b NOT c", `("a" AND ("b" NOT "c"))`},
		{"parentheses group", "(a OR b) c", `(("a" OR "b") AND "c")`},
		{"a phrase stays one string", `"login failed" now`, `("login failed" AND "now")`},
		{"a trailing star is a prefix", "logi*", `"logi"*`},
		{"a phrase can be a prefix", `"login fa"*`, `"login fa"*`},
		{"lowercase operators are words", "a or b", `(("a" AND "or") AND "b")`},
		{"punctuation stays inside the word", "alice@example.com", `"alice@example.com"`},
		{"FTS5 syntax characters are only text", `col:x ^start NEAR(a b) +c`, `(((("col:x" AND "^start") AND "NEAR") AND ("a" AND "b")) AND "+c")`},
		{"a term without letters is left out", "login @@ failed", `("login" AND "failed")`},
		{"an alternative without letters is left out", "login OR --", `"login"`},
		{"non-ASCII words are words", "müller ÆØÅ 東京", `(("müller" AND "ÆØÅ") AND "東京")`},
		{"a quote inside a word starts a phrase", `a"b c"`, `("a" AND "b c")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ftsQuery(tc.text)
			require.NoErrorf(t, err, "ftsQuery(%q)", tc.text)
			assert.Equal(t, tc.want, got, "ftsQuery(%q)", tc.text)
		})
	}
}

func TestFTSQuery_RefusesMalformedSearchesWithAReason(t *testing.T) {
	tests := []struct {
		name, text, reason string
	}{
		{"an unterminated quote", `"login failed`, "unterminated quote at offset 0"},
		{"an unclosed parenthesis", `(login OR logout`, "'(' at offset 0 is never closed"},
		{"an unmatched closing parenthesis", `login)`, "unmatched ')' at offset 5"},
		{"a trailing operator", `login OR`, "the query ends after OR"},
		{"a leading operator", `AND login`, "AND at offset 0 needs a term before it"},
		{"a leading NOT", `NOT login`, "NOT at offset 0 needs a term before it"},
		{"two operators in a row", `a AND OR b`, "OR at offset 6 needs a term before it"},
		{"empty parentheses", `()`, "')' at offset 1 needs a term before it"},
		{"only punctuation", `@@ --`, "no letters or digits"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ftsQuery(tc.text)
			require.ErrorIs(t, err, store.ErrInvalidQuery, "ftsQuery(%q)", tc.text)
			assert.ErrorContains(t, err, tc.reason, "ftsQuery(%q)", tc.text)
		})
	}
}

// Every expression ftsQuery produces must be accepted by FTS5 itself, including the odd ones.
func TestFTSQuery_OutputIsValidFTS5(t *testing.T) {
	s := openTemp(t)
	for _, text := range []string{
		"login", `"a ""quoted"" word"`, "x* y*", `"p q"*`, "a OR (b NOT (c d))", `col:x ^s NEAR(a b)`,
		"über-straße", "10.0.0.1", "-minus", "a AND b OR c NOT d", `"" x`,
	} {
		match, err := ftsQuery(text)
		require.NoErrorf(t, err, "ftsQuery(%q)", text)
		var n int
		assert.NoErrorf(t, s.read.QueryRow(countMatches, match, 10).Scan(&n), "FTS5 rejected %s (from %q)", match, text)
	}
}

func TestClassifySearchError_OnlyFTS5SyntaxErrorsAreInvalidQueries(t *testing.T) {
	s := openTemp(t)
	var n int
	ftsErr := s.read.QueryRow(countMatches, `AND AND`, 1).Scan(&n)
	require.Error(t, ftsErr, "FTS5 accepted a malformed expression")
	assert.ErrorIs(t, classifySearchError(ftsErr), store.ErrInvalidQuery, "classify(%v)", ftsErr)

	otherErr := s.read.QueryRow(`SELECT count(*) FROM no_such_table`).Scan(&n)
	require.Error(t, otherErr, "expected an error from a missing table")
	assert.NotErrorIs(t, classifySearchError(otherErr), store.ErrInvalidQuery, "classify(%v) turned a store fault into ErrInvalidQuery", otherErr)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	ctxErr := s.read.QueryRowContext(canceled, countMatches, `"x"`, 1).Scan(&n)
	assert.NotErrorIs(t, classifySearchError(ctxErr), store.ErrInvalidQuery, "classify(%v) turned a cancellation into ErrInvalidQuery", ctxErr)
}
