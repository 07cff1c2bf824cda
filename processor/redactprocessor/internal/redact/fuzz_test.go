package redact

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// plantedSecrets are the secrets FuzzRedactString hides in arbitrary text; whatever surrounds
// them, none may come out.
var plantedSecrets = []string{
	testJWT,
	"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
	testCard,
	"4111 1111 1111 1111",
	"5555-5555-5555-4444",
	"378282246310005",
	testPEM,
	"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----",
	ghpToken, ghPAT, glToken, slackBot, stripeLive, googleKey,
}

// FuzzRedactString checks the value scanner's safety properties on arbitrary input:
//   - it never panics, on the raw text or with a secret planted in it;
//   - the planted secret (set apart by line breaks, as in a multi-line message) never survives,
//     and the report counts at least one redaction;
//   - valid UTF-8 stays valid UTF-8;
//   - redacting the output again changes nothing.
//
// Seeds live in testdata/fuzz/FuzzRedactString; run with
// `go test -run '^$' -fuzz FuzzRedactString ./processor/redactprocessor/internal/redact`.
func FuzzRedactString(f *testing.F) {
	f.Add("user logged in", uint16(0), uint8(0))
	f.Add(`{"user":"bob","note":"x"}`, uint16(9), uint8(2))
	f.Add("Authorization: Bearer ", uint16(22), uint8(1))
	f.Add("card 4111 1111 1111 ", uint16(20), uint8(3))
	r := newTestRedactor(f, Options{})
	f.Fuzz(func(t *testing.T, text string, pos uint16, which uint8) {
		plain := r.RedactString(text, nil)
		if utf8.ValidString(text) {
			require.True(t, utf8.ValidString(plain), "RedactString(%q) = %q is not valid UTF-8", text, plain)
		}
		require.Equal(t, plain, r.RedactString(plain, nil), "not idempotent on %q", text)

		secret := plantedSecrets[int(which)%len(plantedSecrets)]
		if strings.Contains(text, secret) {
			return // the property is about the planted copy
		}
		p := int(pos) % (len(text) + 1)
		in := text[:p] + "\n" + secret + "\n" + text[p:]
		var rep Report
		out := r.RedactString(in, &rep)
		require.NotContains(t, out, secret, "secret survived; in %q", in)
		require.NotZero(t, rep.Count, "RedactString(%q) masked %q but reported no redaction", in, out)
		require.Equal(t, out, r.RedactString(out, nil), "not idempotent on %q", in)
	})
}
