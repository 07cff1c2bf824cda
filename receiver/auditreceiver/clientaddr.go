package auditreceiver // import "github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver"

import (
	"net/netip"
	"strings"
	"unicode/utf8"
)

// maxUserAgentBytes caps the User-Agent kept on each record; a longer header is cut at a
// character boundary. The header is the sender's to choose, and one request's events all share it.
const maxUserAgentBytes = 1024

// clientResolver decides which address a request came from.
type clientResolver struct {
	trusted []netip.Prefix
	// senders may name their end user's address and user agent (trusted_senders).
	senders []netip.Prefix
}

// clientAddress returns the address of the client that sent the request: the TCP peer, unless
// the peer is a trusted proxy, in which case X-Forwarded-For is walked from its right end (the
// entry the trusted peer itself appended) towards the left, for as long as each entry is itself a
// trusted proxy; the first untrusted entry is the client.
//
// Walking from the right rather than taking the first entry matters: proxies append to
// X-Forwarded-For, so its leftmost entry is whatever the client sent and only the entries added by
// trusted proxies can be believed. With a single proxy that replaces the header the two agree.
//
// It returns "" when the peer has no IP address (a Unix socket).
func (c clientResolver) clientAddress(remoteAddr string, forwardedFor []string) string {
	peer, ok := parseHostAddr(remoteAddr)
	if !ok {
		return ""
	}
	if !c.isTrusted(peer) {
		return peer.String()
	}
	hops := forwardedHops(forwardedFor)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		addr, ok := parseHostAddr(hops[i])
		if !ok {
			// A trusted proxy wrote something that is not an address; nothing to its left can be
			// vouched for, so the last address that was is the best answer.
			break
		}
		client = addr
		if !c.isTrusted(addr) {
			break
		}
	}
	return client.String()
}

func (c clientResolver) isTrusted(a netip.Addr) bool {
	return contains(c.trusted, a)
}

// mayNameEndUser reports whether the sender at addr (clientAddress's answer) may set ip_address
// and user_agent in its events. A Unix-socket sender has no address; it is as local as loopback
// and is treated as such.
func (c clientResolver) mayNameEndUser(addr string) bool {
	if addr == "" {
		return contains(c.senders, netip.IPv6Loopback()) || contains(c.senders, netip.AddrFrom4([4]byte{127, 0, 0, 1}))
	}
	a, err := netip.ParseAddr(addr)
	return err == nil && contains(c.senders, a)
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedHops lists the X-Forwarded-For entries of every header line, in order. Several header
// lines are one list, as if joined with commas (RFC 9110, section 5.3).
func forwardedHops(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	return hops
}

// parseHostAddr reads "ip", "ip:port", "[ipv6]" and "[ipv6]:port", and unmaps IPv4-mapped IPv6
// addresses so that they compare equal to the IPv4 form.
func parseHostAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// truncateUserAgent cuts ua to at most maxUserAgentBytes without splitting a UTF-8 sequence.
func truncateUserAgent(ua string) string {
	if len(ua) <= maxUserAgentBytes {
		return ua
	}
	cut := maxUserAgentBytes
	for cut > 0 && !utf8.RuneStart(ua[cut]) {
		cut--
	}
	return ua[:cut]
}
