package dlq

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

var safeName = regexp.MustCompile(`^[A-Za-z0-9%-]*~?_[0-9]+_[0-9a-f]{16}\.batch$`)

func TestPut_TenantNamesCannotEscapeTheDirectoryAndAreDeliveredUnchanged(t *testing.T) {
	cases := []struct {
		name   string
		tenant string
	}{
		{"a plain tenant is kept readable", "acme-corp"},
		{"dot dot slash cannot climb out", "../../etc/passwd"},
		{"a slash cannot create a subdirectory", "a/b"},
		{"a backslash is escaped", `a\b`},
		{"a NUL byte is escaped", "nul\x00byte"},
		{"an underscore cannot fake the name's fields", "a_123_b"},
		{"a lone dot dot is escaped", ".."},
		{"a percent sign cannot fake an escape", "100%"},
		{"an empty tenant gives an empty name part", ""},
		{"invalid UTF-8 survives byte for byte", "\xff\xfe tenant"},
		{"a very long tenant is cut in the name but kept in full", strings.Repeat("long/", 2000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := openTest(t, Options{})
			mustPut(t, q, tc.tenant, records("n", "", 1))
			name := only(t, q.Dir(), StateBatch)
			assert.Regexp(t, safeName, name, "file name %q has characters outside [A-Za-z0-9%%-]", name)
			assert.LessOrEqual(t, len(name), 160, "file name is %d bytes long", len(name))
			assert.Equal(t, q.Dir(), filepath.Dir(filepath.Join(q.Dir(), name)), "file %q is not directly in the queue directory", name)
			s := newSink()
			scan(t, q, s.insert)
			assert.Equal(t, []string{tc.tenant}, s.tenants, "delivered under tenants")
		})
	}
}

func TestEscapeTenant(t *testing.T) {
	cases := []struct{ in, want string }{
		{"acme", "acme"},
		{"a.b_c/d", "a%2Eb%5Fc%2Fd"},
		{"\x00", "%00"},
		{strings.Repeat("é", 100), strings.Repeat("%C3%A9", 16) + "~"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, escapeTenant(tc.in), "escapeTenant(%q)", tc.in)
	}
}
