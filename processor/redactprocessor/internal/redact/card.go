package redact

import "strconv"

const (
	minCardDigits = 13
	maxCardDigits = 19
)

// digitGroup is a run of ASCII digits [start, end) in the scanned string.
type digitGroup struct{ start, end int }

// findCardNumbers masks payment card numbers: 13 to 19 digits, written plain or in groups split by
// single spaces or dashes, whose first digit is 2-6 (the issuer ranges of Visa, Mastercard, Amex,
// Discover, JCB, Diners, UnionPay and Maestro) and which pass the Luhn check. A digit sequence
// with more than one group may hold a card among other groups ("ref 12 4111 1111 1111 1111"):
// windows of whole groups are tried, leftmost first. A single run of more than 19 digits is an
// identifier, not a card, and is left alone.
func findCardNumbers(s string, dst []span, id int) []span {
	var groupStack [32]digitGroup
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		groups := groupStack[:0]
		for {
			gs := i
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			groups = append(groups, digitGroup{gs, i})
			if i+1 < len(s) && (s[i] == ' ' || s[i] == '-') && isDigit(s[i+1]) {
				i++
				continue
			}
			break
		}
		dst = cardsInGroups(s, groups, dst, id)
	}
	return dst
}

func cardsInGroups(s string, groups []digitGroup, dst []span, id int) []span {
	for a := 0; a < len(groups); a++ {
		digits := 0
		for b := a; b < len(groups); b++ {
			digits += groups[b].end - groups[b].start
			if digits > maxCardDigits {
				break
			}
			if digits >= minCardDigits && isCard(s, groups[a:b+1]) {
				dst = append(dst, span{start: groups[a].start, end: groups[b].end, rule: id})
				a = b
				break
			}
		}
	}
	return dst
}

func isCard(s string, groups []digitGroup) bool {
	first := s[groups[0].start]
	if first < '2' || first > '6' {
		return false
	}
	// Luhn: from the rightmost digit, double every second one.
	sum, double := 0, false
	for g := len(groups) - 1; g >= 0; g-- {
		for i := groups[g].end - 1; i >= groups[g].start; i-- {
			d := int(s[i] - '0')
			if double {
				d *= 2
				if d > 9 {
					d -= 9
				}
			}
			sum += d
			double = !double
		}
	}
	return sum%10 == 0
}

// IsCardNumber reports whether an integer attribute value is a payment card number by the same
// test findCardNumbers applies to text.
func IsCardNumber(v int64) bool {
	if v < 0 {
		return false
	}
	var buf [20]byte
	d := strconv.AppendInt(buf[:0], v, 10)
	if len(d) < minCardDigits || len(d) > maxCardDigits {
		return false
	}
	s := string(d) // does not escape; the compiler keeps it on the stack
	return isCard(s, []digitGroup{{0, len(s)}})
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
