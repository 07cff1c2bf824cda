package clickhousestore

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

func TestSearchWords_LowercaseAndDropPunctuationAndDiacritics(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"punctuation separates words", "alice@example.com logged-in", []string{"alice", "example", "com", "logged", "in"}},
		{"case is folded", "LOGIN Failed", []string{"login", "failed"}},
		{"diacritics are removed", "Ünïcödé café", []string{"unicode", "cafe"}},
		{"json keys and values are words", `{"reason":"password expired"}`, []string{"reason", "password", "expired"}},
		{"nothing but punctuation has no words", "@@ --", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, searchWords(tc.in), "searchWords(%q)", tc.in)
		})
	}
	assert.Equal(t, " user login login failed ", searchText("user.login", "Login failed"), "searchText")
}

func TestSearchCondition_RendersTheSyntaxPerLayout(t *testing.T) {
	legacy := dialect{mode: modeLegacy}
	modern := dialect{mode: modeModern}
	tests := []struct {
		name      string
		text      string
		d         dialect
		want      string
		wantError bool
	}{
		{"a word is a padded position on legacy", "Failed", legacy, "position(search_text, ' failed ') > 0", false},
		{"a word also asks the token index on modern", "failed", modern, "(hasToken(search_text, 'failed') AND position(search_text, ' failed ') > 0)", false},
		{"a prefix has no trailing space and no token", "log*", modern, "position(search_text, ' log') > 0", false},
		{"a phrase keeps its word order", `"failed from"`, legacy, "position(search_text, ' failed from ') > 0", false},
		{"an email address is a phrase of its words", "carol@example.com", legacy, "position(search_text, ' carol example com ') > 0", false},
		{"NOT becomes AND NOT", "login NOT admin", legacy,
			"(position(search_text, ' login ') > 0 AND NOT position(search_text, ' admin ') > 0)", false},
		{"OR binds looser than AND", "a b OR c", legacy,
			"((position(search_text, ' a ') > 0 AND position(search_text, ' b ') > 0) OR position(search_text, ' c ') > 0)", false},
		{"a quote in a word cannot escape the literal", `it's`, legacy, "position(search_text, ' it s ') > 0", false},
		{"a term without letters is left out", "login @@", legacy, "position(search_text, ' login ') > 0", false},
		{"blank text is no condition", "   ", legacy, "", false},
		{"only punctuation is refused", "@@", legacy, "", true},
		{"an unterminated quote is refused", `"login`, legacy, "", true},
		{"an unmatched parenthesis is refused", "login)", legacy, "", true},
		{"an operator without a term is refused", "login OR", legacy, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.d.searchCondition(tc.text)
			if tc.wantError {
				assert.ErrorIs(t, err, store.ErrInvalidQuery, "searchCondition(%q) = %q", tc.text, got)
				return
			}
			if assert.NoError(t, err, "searchCondition(%q)", tc.text) {
				assert.Equal(t, tc.want, got, "searchCondition(%q)", tc.text)
			}
		})
	}
}

func TestQuoteString_EscapesQuoteAndBackslashOnly(t *testing.T) {
	tests := map[string]string{
		"plain":          "'plain'",
		`it's`:           `'it\'s'`,
		`back\slash`:     `'back\\slash'`,
		`\'`:             `'\\\''`,
		"tab\tnewline\n": "'tab\tnewline\n'",
	}
	for in, want := range tests {
		assert.Equal(t, want, quoteString(in), "quoteString(%q)", in)
	}
}

// searchTextByWords is searchText as it was before its ASCII fast path: the words of every
// part, joined. The fast path must give the same text for every input.
func searchTextByWords(parts ...string) string {
	var words []string
	for _, p := range parts {
		words = append(words, searchWords(p)...)
	}
	if len(words) == 0 {
		return " "
	}
	return " " + strings.Join(words, " ") + " "
}

func TestSearchText_FastPathMatchesTheWordSplitter(t *testing.T) {
	cases := [][]string{
		{},
		{""},
		{"", " ", "--"},
		{"user.login", "User SIGNED in", `{"a":"b c","n":12.5,"ok":true}`},
		{"Ünïcödé Café", "naïve ÉCOLE", "mixed ascii and é"},
		{"tab\tand\nnewline", "a_b-c/d", "ＡＢＣ full width", "١٢٣ digits"},
		{"word", "word"},
	}
	gen := storetest.NewLoadgenLike(7, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	for i := 0; i < 200; i++ {
		r := gen.Next()
		attrs, err := encodeJSON(r.Attributes)
		require.NoError(t, err)
		cases = append(cases, []string{r.Event, r.Message, attrs})
	}
	for _, c := range cases {
		require.Equal(t, searchTextByWords(c...), searchText(c...), "parts %q", c)
	}
}
