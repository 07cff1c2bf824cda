// Package redact finds secrets in attribute keys and string values and masks them. It knows
// nothing of pdata: the processor walks its data and asks a Redactor about each key and string,
// which keeps this engine benchmarkable and fuzzable on its own.
//
// A Redactor is built once from Options (every expression compiled then) and is immutable and
// safe for concurrent use afterwards. Scanning a string that holds no secret returns the same
// string and does not allocate.
package redact

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// DefaultMask replaces every secret unless Options.Mask says otherwise.
const DefaultMask = "[REDACTED]"

// CustomRule is a user-supplied value rule. When Regex has capture groups only the first group
// is masked ("pin=(\d{4})" keeps "pin="); otherwise the whole match is.
type CustomRule struct {
	Name  string
	Regex string
}

// Options configure a Redactor.
type Options struct {
	// Mask replaces each secret; empty means DefaultMask.
	Mask string
	// AddFieldPatterns extend DefaultFieldPatterns; RemoveFieldPatterns take defaults out.
	AddFieldPatterns    []string
	RemoveFieldPatterns []string
	// AllowKeys are keys (exact, ASCII case-insensitive) whose values are never redacted.
	AllowKeys []string
	// DisableValueRules names built-in value rules that do not run.
	DisableValueRules []string
	CustomRules       []CustomRule
}

// Redactor applies field rules to keys and value rules to strings.
type Redactor struct {
	mask   string
	fields *fieldMatcher
	rules  []valueRule
	// cardRule is false when card_number is disabled, which also stops integer checks.
	cardRule bool
}

// New builds a Redactor, compiling every custom expression. Its errors name the offending
// option; configuration validation reports the same problems with config field names first.
func New(o Options) (*Redactor, error) {
	mask := o.Mask
	if mask == "" {
		mask = DefaultMask
	}
	fm, err := newFieldMatcher(o.AddFieldPatterns, o.RemoveFieldPatterns, o.AllowKeys)
	if err != nil {
		return nil, fmt.Errorf("redact: field rules: %w", err)
	}
	r := &Redactor{mask: mask, fields: fm}
	disabled := make(map[string]bool, len(o.DisableValueRules))
	for _, name := range o.DisableValueRules {
		if !IsBuiltinValueRule(name) {
			return nil, fmt.Errorf("redact: disable value rule %q: no such built-in rule", name)
		}
		disabled[name] = true
	}
	for _, vr := range builtinRules(fm) {
		if !disabled[vr.name] {
			r.rules = append(r.rules, vr)
		}
	}
	r.cardRule = !disabled[RuleCardNumber]
	for i, cr := range o.CustomRules {
		vr, err := compileCustomRule(cr)
		if err != nil {
			return nil, fmt.Errorf("redact: custom rule %d: %w", i, err)
		}
		r.rules = append(r.rules, vr)
	}
	return r, nil
}

func compileCustomRule(cr CustomRule) (valueRule, error) {
	if cr.Name == "" {
		return valueRule{}, errors.New("empty name")
	}
	if IsBuiltinValueRule(cr.Name) {
		return valueRule{}, fmt.Errorf("name %q is a built-in rule", cr.Name)
	}
	re, err := regexp.Compile(cr.Regex)
	if err != nil {
		return valueRule{}, err
	}
	group := 0
	if re.NumSubexp() > 0 {
		group = 1
	}
	// A literal every match starts with is a free prefilter; without one the expression runs
	// on every string.
	prefix, _ := re.LiteralPrefix()
	g := gate{}
	if prefix != "" {
		g = gateOf(prefix[:1])
	}
	return valueRule{name: cr.Name, gate: g, find: func(s string, dst []span, id int) []span {
		if prefix != "" && !strings.Contains(s, prefix) {
			return dst
		}
		return appendMatches(re, s, group, dst, id)
	}}, nil
}

// Mask returns the replacement text.
func (r *Redactor) Mask() string { return r.mask }

// KeyVerdict is what the field rules say about an attribute key.
type KeyVerdict int

const (
	// KeyPlain: scan the value with the value rules.
	KeyPlain KeyVerdict = iota
	// KeySecret: replace the whole value, whatever its type, with the mask.
	KeySecret
	// KeyAllowed: leave the value and everything under it untouched.
	KeyAllowed
)

func (v KeyVerdict) String() string {
	switch v {
	case KeySecret:
		return "secret"
	case KeyAllowed:
		return "allowed"
	default:
		return "plain"
	}
}

// ClassifyKey applies allow_keys and the field rules to key. For KeySecret it also returns the
// rule name to report ("field:<pattern>").
func (r *Redactor) ClassifyKey(key string) (KeyVerdict, string) {
	if r.fields.allowed(key) {
		return KeyAllowed, ""
	}
	if p := r.fields.match(key); p != nil {
		return KeySecret, p.rule
	}
	return KeyPlain, ""
}

// RedactString masks every secret the value rules find in s and records them in rep (which may
// be nil). Overlapping findings are masked once. A finding whose text already equals the mask is
// not counted, so running the same data through twice reports nothing the second time. When
// nothing is found s itself is returned.
func (r *Redactor) RedactString(s string, rep *Report) string {
	var prof stringProfile
	prof.fill(s)
	var found []span
	for i := range r.rules {
		if rule := &r.rules[i]; rule.gate.admits(&prof) {
			found = rule.find(s, found, i)
		}
	}
	if len(found) == 0 {
		return s
	}
	if len(found) > 1 {
		slices.SortFunc(found, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	}

	var b strings.Builder
	b.Grow(len(s))
	last, changed := 0, false
	for i := 0; i < len(found); {
		start, end := found[i].start, found[i].end
		j := i + 1
		for j < len(found) && found[j].start <= end {
			if found[j].end > end {
				end = found[j].end
			}
			j++
		}
		if s[start:end] != r.mask {
			b.WriteString(s[last:start])
			b.WriteString(r.mask)
			last = end
			changed = true
			if rep != nil {
				rep.Count++
				for k := i; k < j; k++ {
					rep.addRule(r.rules[found[k].rule].name)
				}
			}
		}
		i = j
	}
	if !changed {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// RedactInt reports whether an integer value is a secret by the value rules; today only a card
// number stored as a number is.
func (r *Redactor) RedactInt(v int64, rep *Report) bool {
	if !r.cardRule || !IsCardNumber(v) {
		return false
	}
	if rep != nil {
		rep.Count++
		rep.addRule(RuleCardNumber)
	}
	return true
}

// Report accumulates what was redacted in one record, span or data point. Reset it between
// items; its rule slice is reused.
type Report struct {
	// Count is the number of masked values and masked parts of strings.
	Count int
	// Rules are the distinct rule names that fired, in first-hit order.
	Rules []string
}

// Reset empties the report, keeping its storage.
func (rep *Report) Reset() {
	rep.Count = 0
	rep.Rules = rep.Rules[:0]
}

// AddField records a value masked by a field rule (rule as returned by ClassifyKey).
func (rep *Report) AddField(rule string) {
	rep.Count++
	rep.addRule(rule)
}

func (rep *Report) addRule(name string) {
	for _, n := range rep.Rules {
		if n == name {
			return
		}
	}
	rep.Rules = append(rep.Rules, name)
}
