package auditreceiver

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientAddress(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		remote  string
		xff     []string
		want    string
	}{
		{name: "without trusted proxies the peer is the client", remote: "203.0.113.9:51234", want: "203.0.113.9"},
		{name: "a forged header from an untrusted peer is ignored", remote: "203.0.113.9:51234", xff: []string{"198.51.100.1"}, want: "203.0.113.9"},
		{name: "a forged header is ignored even when other proxies are trusted", trusted: []string{"10.0.0.0/8"}, remote: "203.0.113.9:51234", xff: []string{"10.1.1.1"}, want: "203.0.113.9"},
		{name: "a trusted proxy's header is honoured", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.5:443", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "a trusted proxy given as a single address is honoured", trusted: []string{"10.0.0.5"}, remote: "10.0.0.5:443", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "an entry the client prepended before an appending proxy is ignored", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.5:443", xff: []string{"6.6.6.6, 198.51.100.1"}, want: "198.51.100.1"},
		{name: "a chain of trusted proxies is walked to the first untrusted hop", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.5:443", xff: []string{"6.6.6.6, 198.51.100.1, 10.2.2.2, 10.3.3.3"}, want: "198.51.100.1"},
		{name: "several header lines form one list", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.5:443", xff: []string{"6.6.6.6", "198.51.100.1, 10.2.2.2"}, want: "198.51.100.1"},
		{name: "a chain of only trusted hops yields the leftmost", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.5:443", xff: []string{"10.9.9.9, 10.2.2.2"}, want: "10.9.9.9"},
		{name: "a trusted proxy without the header is itself the client", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.5:443", want: "10.0.0.5"},
		{name: "garbage from a trusted proxy leaves the proxy as the client", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.5:443", xff: []string{"unknown"}, want: "10.0.0.5"},
		{name: "garbage left of a good hop stops the walk at the good hop", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.5:443", xff: []string{"unknown, 10.2.2.2"}, want: "10.2.2.2"},
		{name: "hops with ports are read", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.5:443", xff: []string{"198.51.100.1:5555"}, want: "198.51.100.1"},
		{name: "IPv6 hops in brackets are read", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.5:443", xff: []string{"[2001:db8::1]:5555"}, want: "2001:db8::1"},
		{name: "bare IPv6 hops are read", trusted: []string{"::1"}, remote: "[::1]:443", xff: []string{"2001:db8::1"}, want: "2001:db8::1"},
		{name: "an IPv4-mapped peer matches an IPv4 trusted proxy", trusted: []string{"10.0.0.0/8"}, remote: "[::ffff:10.0.0.5]:443", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "an IPv4-mapped client is reported in IPv4 form", remote: "[::ffff:203.0.113.9]:443", want: "203.0.113.9"},
		{name: "a Unix socket peer has no address", remote: "@", xff: []string{"198.51.100.1"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefixes, err := parseAddressList("trusted_proxies", tt.trusted)
			require.NoError(t, err)
			got := clientResolver{trusted: prefixes}.clientAddress(tt.remote, tt.xff)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestTruncateUserAgent(t *testing.T) {
	assert.Equal(t, "curl/8.5.0", truncateUserAgent("curl/8.5.0"), "a short user agent is kept")

	long := strings.Repeat("a", maxUserAgentBytes-1) + "é" + "tail"
	got := truncateUserAgent(long)
	assert.LessOrEqual(t, len(got), maxUserAgentBytes)
	assert.True(t, utf8.ValidString(got), "a cut never splits a character")
	assert.Equal(t, strings.Repeat("a", maxUserAgentBytes-1), got)
}
