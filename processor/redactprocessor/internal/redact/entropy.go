package redact

import "math"

// Generic secrets have no prefix to recognise them by. The high_entropy rule therefore needs two
// signals at once: a key that suggests a secret without the field rules being sure of it (a
// "suspect" key), and a value that looks random.

// suspectWords are the last words of keys that may hold a secret: `license_key`, `stripe.key`,
// `webhookSignature`, `x-auth`, `db.pass`. As the last word only: `key_id`, `keyboard` and
// `auth_method` are not suspect. Keys the field rules match are secret outright and never
// reach this test.
var suspectWords = map[string]struct{}{
	"key": {}, "keys": {}, "auth": {}, "sig": {}, "signature": {}, "hmac": {}, "salt": {},
	"seed": {}, "private": {}, "pass": {}, "pw": {}, "cred": {}, "creds": {}, "sas": {},
}

// Entropy thresholds of looksRandom. A random string over base64 has about 6 bits of entropy
// per character in the limit, but a short sample cannot show more than log2(length): 16
// characters at most 4 bits. 3.5 bits per character is reached by most random base62/base64
// strings of 16 characters and more, and not by words, identifiers in snake or kebab case,
// dates or version strings, which repeat letters.
//
// Entropy alone also passes ordinary paths and names that mix words and numbers
// (`uploads/2024/01/report-final.pdf` has 4.2 bits per character), so looksRandom also asks how
// often the character class changes between neighbouring letters and digits: at least
// minClassChangeRate of adjacent alphanumeric pairs. Random base62 changes class at about 62%
// of pairs and random hex at about 47%; words, camel-case names and numbered paths change only
// at word and number boundaries (`StandardEditionLicense2024`: 16%).
const (
	minEntropyLen      = 16
	maxEntropyLen      = 1024
	minEntropyPerChar  = 3.5
	minClassChangeRate = 0.3
	// Hex strings cannot exceed 4 bits per character, and a random one of 24 characters has
	// about 3.5; hex values (digests, hex-encoded keys) are held to minHexEntropyPerChar
	// instead, and must be at least minHexLen long.
	minHexEntropyPerChar = 3.0
	minHexLen            = 20
	entropyTokenExtras   = "+/=_-.~"
)

var entropyChars = classOf("a-z", "A-Z", "0-9", entropyTokenExtras)

// looksRandom reports whether v is a single token (no blanks) of 16 to 1024 characters from
// [A-Za-z0-9+/=_\-.~] that mixes at least two of upper case, lower case and digits, whose
// Shannon entropy is at least minEntropyPerChar bits per character, and whose adjacent letters
// and digits change class (upper, lower, digit) at least minClassChangeRate of the time.
func looksRandom(v string) bool {
	if len(v) < minEntropyLen || len(v) > maxEntropyLen {
		return false
	}
	var counts [256]uint16
	var seen [4]bool
	pairs, changes := 0, 0
	prev := classNone
	hex := true
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !entropyChars[c] {
			return false
		}
		counts[c]++
		hex = hex && (isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f')
		cls := charClassOf(c)
		seen[cls] = true
		if cls != classNone && prev != classNone {
			pairs++
			if cls != prev {
				changes++
			}
		}
		prev = cls
	}
	classes := 0
	for _, ok := range seen[1:] {
		if ok {
			classes++
		}
	}
	if classes < 2 || pairs == 0 || float64(changes) < minClassChangeRate*float64(pairs) {
		return false
	}
	if hex {
		return len(v) >= minHexLen && shannonEntropy(&counts, len(v)) >= minHexEntropyPerChar
	}
	return shannonEntropy(&counts, len(v)) >= minEntropyPerChar
}

const (
	classNone = iota // punctuation
	classUpper
	classLower
	classDigit
)

func charClassOf(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return classUpper
	case c >= 'a' && c <= 'z':
		return classLower
	case c >= '0' && c <= '9':
		return classDigit
	}
	return classNone
}

// shannonEntropy is -sum(p log2 p) over the byte frequencies in counts, in bits per byte.
func shannonEntropy(counts *[256]uint16, n int) float64 {
	h, total := 0.0, float64(n)
	for _, c := range counts {
		if c == 0 {
			continue
		}
		p := float64(c) / total
		h -= p * math.Log2(p)
	}
	return h
}

// isSuspect reports whether the last word of a normalised key is one of suspectWords.
func isSuspect(buf []byte, starts []int) bool {
	if len(starts) < 2 {
		return false
	}
	_, ok := suspectWords[string(buf[starts[len(starts)-2]:starts[len(starts)-1]])]
	return ok
}
