package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Action is what replaces a secret once a rule has found it.
type Action int

const (
	// ActionMask replaces the secret with the mask.
	ActionMask Action = iota
	// ActionHash replaces the secret with [HMAC:<16 hex>], the first 8 bytes of
	// HMAC-SHA256(hash key, secret): equal secrets give equal markers, so records stay joinable
	// on a credential without storing it, and without the key nobody can test guesses.
	ActionHash
	// ActionPartial keeps what identifies a secret without revealing it: the last four digits
	// of a card number, the type prefix of a vendor token, the domain of an e-mail address.
	// Anything else is masked.
	ActionPartial
)

// Action names as written in configuration.
const (
	ActionNameMask    = "mask"
	ActionNameHash    = "hash"
	ActionNamePartial = "partial"
)

func (a Action) String() string {
	switch a {
	case ActionHash:
		return ActionNameHash
	case ActionPartial:
		return ActionNamePartial
	default:
		return ActionNameMask
	}
}

// ParseAction reads an action name.
func ParseAction(name string) (Action, error) {
	switch name {
	case ActionNameMask:
		return ActionMask, nil
	case ActionNameHash:
		return ActionHash, nil
	case ActionNamePartial:
		return ActionPartial, nil
	}
	return ActionMask, fmt.Errorf("unknown action %q (actions: mask, hash, partial)", name)
}

const (
	hmacMarkerPrefix = "[HMAC:"
	hmacMarkerHex    = 16
	hmacMarkerLen    = len(hmacMarkerPrefix) + hmacMarkerHex + 1
	// partialCardDigits is how many trailing digits of a card ActionPartial keeps (PCI DSS
	// allows at most the first six and the last four to be shown).
	partialCardDigits = 4
)

// partialPrefixes are token prefixes that say what kind of credential was there and nothing of
// it. ActionPartial keeps them when the secret is longer than the prefix by at least
// minHiddenAfterPrefix bytes.
var partialPrefixes = []string{
	"github_pat_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "glpat-",
	"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xapp-",
	"sk_live_", "sk_test_", "rk_live_", "rk_test_", "AIza", "AKIA", "ASIA",
}

const minHiddenAfterPrefix = 8

// replacement returns what replaces secret under action a.
func (r *Redactor) replacement(a Action, secret string) string {
	switch a {
	case ActionHash:
		return r.hashMarker(secret)
	case ActionPartial:
		return r.partialMarker(secret)
	default:
		return r.mask
	}
}

func (r *Redactor) hashMarker(secret string) string {
	mac := hmac.New(sha256.New, r.hashKey)
	mac.Write([]byte(secret))
	var sum [sha256.Size]byte
	var out [hmacMarkerLen]byte
	copy(out[:], hmacMarkerPrefix)
	hex.Encode(out[len(hmacMarkerPrefix):], mac.Sum(sum[:0])[:hmacMarkerHex/2])
	out[hmacMarkerLen-1] = ']'
	return string(out[:])
}

func (r *Redactor) partialMarker(secret string) string {
	if last, ok := cardLastDigits(secret); ok {
		if strings.HasSuffix(r.mask, "]") {
			return r.mask[:len(r.mask)-1] + "-" + last + "]"
		}
		return r.mask + "-" + last
	}
	for _, p := range partialPrefixes {
		if len(secret) >= len(p)+minHiddenAfterPrefix && strings.HasPrefix(secret, p) {
			return p + r.mask
		}
	}
	if at := strings.LastIndexByte(secret, '@'); at > 0 && at < len(secret)-3 && strings.IndexByte(secret[at:], '.') > 0 {
		return r.mask + secret[at:]
	}
	return r.mask
}

// cardLastDigits returns the last four digits of s when s is a card number as findCardNumbers
// sees it (digits grouped by single spaces or dashes, nothing else).
func cardLastDigits(s string) (string, bool) {
	var buf [2]span
	found := findCardNumbers(s, buf[:0], 0)
	if len(found) != 1 || found[0].start != 0 || found[0].end != len(s) {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && c != ' ' && c != '-' {
			return "", false
		}
	}
	var last [partialCardDigits]byte
	k := partialCardDigits
	for i := len(s) - 1; i >= 0 && k > 0; i-- {
		if isDigit(s[i]) {
			k--
			last[k] = s[i]
		}
	}
	return string(last[:]), true
}

// isMarker reports whether text is something a redaction wrote: the mask, an HMAC marker, or a
// partial form (prefix+mask, mask with card digits, mask@domain). Such text is never redacted
// or counted again, which keeps the processor idempotent under every action.
func (r *Redactor) isMarker(text string) bool {
	if text == r.mask {
		return true
	}
	if len(text) == hmacMarkerLen && strings.HasPrefix(text, hmacMarkerPrefix) && text[len(text)-1] == ']' {
		return true
	}
	if i := strings.Index(text, r.mask); i >= 0 {
		before, after := text[:i], text[i+len(r.mask):]
		if after == "" {
			for _, p := range partialPrefixes {
				if before == p {
					return true
				}
			}
		}
		if before == "" && len(after) > 1 && after[0] == '@' {
			return true
		}
	}
	if strings.HasSuffix(r.mask, "]") {
		head := r.mask[:len(r.mask)-1] + "-"
		if len(text) == len(head)+partialCardDigits+1 && strings.HasPrefix(text, head) && text[len(text)-1] == ']' {
			return true
		}
	} else if len(text) == len(r.mask)+1+partialCardDigits && strings.HasPrefix(text, r.mask+"-") {
		return true
	}
	return false
}
