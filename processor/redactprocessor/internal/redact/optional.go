package redact

import (
	"net/netip"
	"strings"
)

// The rules in this file find personal data rather than credentials. An audit trail usually
// needs who and from where, so they are off unless value_rules.enable names them.

var (
	emailLocal  = classOf("a-z", "A-Z", "0-9", "._%+-")
	emailDomain = classOf("a-z", "A-Z", "0-9", ".-")
	ipv6Chars   = classOf("a-f", "A-F", "0-9", ":.")
)

// findEmails masks addr-spec e-mail addresses: a local part of [A-Za-z0-9._%+-], '@', and a
// domain with at least one dot whose last label is two or more letters. The user part of a URL
// (ssh://git@host) is not an address and is left to url_password.
func findEmails(s string, dst []span, id int) []span {
	for i := 0; ; {
		j := strings.IndexByte(s[i:], '@')
		if j < 0 {
			return dst
		}
		at := i + j
		i = at + 1
		b := at
		for b > 0 && emailLocal[s[b-1]] {
			b--
		}
		for b < at && s[b] == '.' {
			b++
		}
		if b == at || b >= 3 && s[b-3:b] == "://" || b > 0 && s[b-1] == '/' {
			continue
		}
		e := at + 1
		for e < len(s) && emailDomain[s[e]] {
			e++
		}
		for e > at+1 && (s[e-1] == '.' || s[e-1] == '-') {
			e--
		}
		lastDot := strings.LastIndexByte(s[:e], '.')
		if lastDot <= at+1 || lastDot >= e-2 {
			continue
		}
		tld := true
		for k := lastDot + 1; k < e; k++ {
			c := s[k] | 0x20
			tld = tld && c >= 'a' && c <= 'z'
		}
		if !tld {
			continue
		}
		dst = append(dst, span{start: b, end: e, rule: id})
		i = e
	}
}

// findIPv4 masks dotted-quad IPv4 addresses (each octet 0-255, no leading zeros) that are not
// part of a longer dotted number such as a four-part version 1.2.3.4.5.
func findIPv4(s string, dst []span, id int) []span {
	for i := 0; i < len(s); {
		if !isDigit(s[i]) || i > 0 && (isDigit(s[i-1]) || s[i-1] == '.' || alnum[s[i-1]]) {
			i++
			continue
		}
		b, k, octets := i, i, 0
		for octets < 4 {
			v, n := 0, 0
			for k < len(s) && isDigit(s[k]) && n < 4 {
				v = v*10 + int(s[k]-'0')
				k++
				n++
			}
			if n == 0 || n > 3 || v > 255 || n > 1 && s[k-n] == '0' {
				break
			}
			octets++
			if octets < 4 {
				if k+1 < len(s) && s[k] == '.' && isDigit(s[k+1]) {
					k++
					continue
				}
				break
			}
		}
		if octets == 4 && (k == len(s) || !isDigit(s[k]) && !alnum[s[k]] &&
			!(s[k] == '.' && k+1 < len(s) && isDigit(s[k+1]))) {
			dst = append(dst, span{start: b, end: k, rule: id})
			i = k
			continue
		}
		for i < len(s) && (isDigit(s[i]) || s[i] == '.') {
			i++
		}
	}
	return dst
}

// findIPv6 masks IPv6 addresses: runs of hex digits, colons and dots with at least two colons
// that net/netip parses as IPv6 and that are not the unspecified address "::". Clock times
// (03:04:05) and MAC addresses (six groups) do not parse and survive.
func findIPv6(s string, dst []span, id int) []span {
	for i := 0; i < len(s); {
		if !ipv6Chars[s[i]] {
			i++
			continue
		}
		b, colons := i, 0
		for i < len(s) && ipv6Chars[s[i]] {
			if s[i] == ':' {
				colons++
			}
			i++
		}
		if colons < 2 || b > 0 && alnum[s[b-1]] || i < len(s) && alnum[s[i]] {
			continue
		}
		e := i
		for e > b && s[e-1] == '.' {
			e--
		}
		// "[::1]:4317" and "addr=fe80::1:" leave a trailing colon that is not the address's.
		if e-b > 2 && s[e-1] == ':' && s[e-2] != ':' {
			e--
		}
		addr, err := netip.ParseAddr(s[b:e])
		if err != nil || !addr.Is6() || addr.IsUnspecified() {
			continue
		}
		dst = append(dst, span{start: b, end: e, rule: id})
	}
	return dst
}

const (
	minPhoneDigits = 8
	maxPhoneDigits = 15 // E.164
)

// findPhones masks E.164-style international numbers: '+', a first digit 1-9, then 8 to 15
// digits in all, optionally grouped by single spaces, dashes, dots or parentheses
// (+1 (555) 123-4567, +44 20 7946 0958, +4915112345678). Numbers without '+' are too often
// something else (ids, amounts, timestamps) to be masked by shape.
func findPhones(s string, dst []span, id int) []span {
	for i := 0; ; {
		j := strings.IndexByte(s[i:], '+')
		if j < 0 {
			return dst
		}
		at := i + j
		i = at + 1
		if at > 0 && (alnum[s[at-1]] || s[at-1] == '+') || at+1 >= len(s) || s[at+1] < '1' || s[at+1] > '9' {
			continue
		}
		digits, k, end := 0, at+1, at+1
		for k < len(s) {
			c := s[k]
			switch {
			case isDigit(c):
				digits++
				k++
				end = k
				continue
			case (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') && k+1 < len(s):
				next := s[k+1]
				if isDigit(next) || c != '(' && next == '(' || c == ')' && next == ' ' {
					k++
					continue
				}
			}
			break
		}
		if digits < minPhoneDigits || digits > maxPhoneDigits || end < len(s) && alnum[s[end]] {
			continue
		}
		dst = append(dst, span{start: at, end: end, rule: id})
		i = end
	}
}
