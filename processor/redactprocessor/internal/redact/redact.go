// Package redact finds secrets in attribute keys and string values and masks them. It knows
// nothing of pdata: the processor walks its data and asks a Redactor about each key and string,
// which keeps this engine benchmarkable and fuzzable on its own.
//
// A Redactor is built once from Options (every expression compiled then); its rules are
// immutable and it is safe for concurrent use. Scanning a string that holds no secret returns
// the same string and does not allocate, except once to remember a repeated clean value (its
// only mutable state is two caches of answers, keycache.go and cleancache.go).
package redact

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
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

// DefaultJSONMaxBytes is the largest string parsed as a JSON document when Options.JSONMaxBytes
// is not set; longer strings are scanned as plain text.
const DefaultJSONMaxBytes = 64 << 10

// Options configure a Redactor.
type Options struct {
	// Mask replaces each secret; empty means DefaultMask.
	Mask string
	// AddFieldPatterns extend DefaultFieldPatterns; RemoveFieldPatterns take defaults out.
	AddFieldPatterns    []string
	RemoveFieldPatterns []string
	// AllowKeys are keys (exact, ASCII case-insensitive) whose values are never redacted.
	AllowKeys []string
	// IgnoreKeys are keys (exact, ASCII case-insensitive) whose values the value rules do not
	// scan; a field rule on the key itself still applies.
	IgnoreKeys []string
	// DisableValueRules names built-in value rules that do not run; EnableValueRules names
	// optional ones (OptionalValueRules) that do.
	DisableValueRules []string
	EnableValueRules  []string
	CustomRules       []CustomRule
	// Actions choose, per rule name (a value rule, a custom rule, "field" for every field rule
	// or "field:<pattern>" for one), what replaces a secret; DefaultAction applies to the rest.
	Actions       map[string]Action
	DefaultAction Action
	// HashKey is the HMAC key of ActionHash; it must be set when any rule hashes.
	HashKey []byte
	// JSONMaxBytes bounds the strings parsed as JSON documents; 0 means DefaultJSONMaxBytes.
	JSONMaxBytes int
}

// Redactor applies field rules to keys and value rules to strings.
type Redactor struct {
	mask   string
	fields *fieldMatcher
	// rules are the enabled value rules in BuiltinValueRules order, then the custom rules; a
	// span's rule is an index into it, and the lowest index among overlapping findings decides
	// the action. Rules without find (json) are driven by RedactString itself.
	rules []valueRule
	// Indexes into rules of the rules RedactString and RedactInt call directly; -1 when off.
	cardID, jsonID, entropyID, kvID int
	jsonMax                         int
	byteBits                        *byteBits
	fieldActions                    map[string]Action
	fieldDefault                    Action
	hashKey                         []byte
	keys                            *keyCache   // recent ClassifyKey answers (keycache.go)
	clean                           *cleanCache // recent values without findings (cleancache.go)
}

// New builds a Redactor, compiling every custom expression. Its errors name the offending
// option; configuration validation reports the same problems with config field names first.
func New(o Options) (*Redactor, error) {
	mask := o.Mask
	if mask == "" {
		mask = DefaultMask
	}
	fm, err := newFieldMatcher(o.AddFieldPatterns, o.RemoveFieldPatterns, o.AllowKeys, o.IgnoreKeys)
	if err != nil {
		return nil, fmt.Errorf("redact: field rules: %w", err)
	}
	r := &Redactor{mask: mask, fields: fm, cardID: -1, jsonID: -1, entropyID: -1, kvID: -1,
		jsonMax: o.JSONMaxBytes, hashKey: o.HashKey, keys: newKeyCache(), clean: newCleanCache()}
	if r.jsonMax <= 0 {
		r.jsonMax = DefaultJSONMaxBytes
	}
	disabled := make(map[string]bool, len(o.DisableValueRules))
	for _, name := range o.DisableValueRules {
		if !IsBuiltinValueRule(name) {
			return nil, fmt.Errorf("redact: disable value rule %q: no such built-in rule", name)
		}
		disabled[name] = true
	}
	enabled := make(map[string]bool, len(o.EnableValueRules))
	for _, name := range o.EnableValueRules {
		if !IsOptionalValueRule(name) {
			return nil, fmt.Errorf("redact: enable value rule %q: no such optional rule", name)
		}
		enabled[name] = true
	}
	for _, vr := range builtinRules(r, fm) {
		if disabled[vr.name] || IsOptionalValueRule(vr.name) && !enabled[vr.name] {
			continue
		}
		switch vr.name {
		case RuleCardNumber:
			r.cardID = len(r.rules)
		case RuleJSON:
			r.jsonID = len(r.rules)
		case RuleHighEntropy:
			r.entropyID = len(r.rules)
		case RuleKeyValue:
			r.kvID = len(r.rules)
		}
		r.rules = append(r.rules, vr)
	}
	for i, cr := range o.CustomRules {
		vr, err := compileCustomRule(cr)
		if err != nil {
			return nil, fmt.Errorf("redact: custom rule %d: %w", i, err)
		}
		r.rules = append(r.rules, vr)
	}

	r.byteBits = newByteBits(r.rules)
	for i := range r.rules {
		r.rules[i].mask = r.byteBits.compile(r.rules[i].gate)
	}

	hashing := o.DefaultAction == ActionHash
	for i := range r.rules {
		a, ok := o.Actions[r.rules[i].name]
		if !ok {
			a = o.DefaultAction
		}
		r.rules[i].action = a
		hashing = hashing || a == ActionHash
	}
	r.fieldDefault = o.DefaultAction
	if a, ok := o.Actions[FieldRuleAction]; ok {
		r.fieldDefault = a
	}
	r.fieldActions = make(map[string]Action)
	for name, a := range o.Actions {
		if strings.HasPrefix(name, FieldRulePrefix) {
			r.fieldActions[name] = a
		}
		hashing = hashing || a == ActionHash
	}
	if hashing && len(o.HashKey) == 0 {
		return nil, errors.New("redact: a rule's action is hash but no hash key is set")
	}
	return r, nil
}

func compileCustomRule(cr CustomRule) (valueRule, error) {
	if cr.Name == "" {
		return valueRule{}, errors.New("empty name")
	}
	if IsBuiltinValueRule(cr.Name) || cr.Name == FieldRuleAction || strings.HasPrefix(cr.Name, FieldRulePrefix) {
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
	// KeySecret: replace the whole value, whatever its type.
	KeySecret
	// KeyAllowed: leave the value and everything under it untouched.
	KeyAllowed
	// KeyIgnored: do not scan the value (ignore_keys); nothing under it is redacted.
	KeyIgnored
	// KeySuspect: the key may hold a generic secret; a string value that looks random is
	// replaced whole (RedactSuspectString), anything else is scanned as usual.
	KeySuspect
)

func (v KeyVerdict) String() string {
	switch v {
	case KeySecret:
		return "secret"
	case KeyAllowed:
		return "allowed"
	case KeyIgnored:
		return "ignored"
	case KeySuspect:
		return "suspect"
	default:
		return "plain"
	}
}

// ClassifyKey applies allow_keys, the field rules, ignore_keys and the suspect-key test of
// high_entropy to key, in that order. For KeySecret it also returns the rule name to report
// ("field:<pattern>").
func (r *Redactor) ClassifyKey(key string) (KeyVerdict, string) {
	if v, rule, ok := r.keys.get(key); ok {
		return v, rule
	}
	v, rule := r.classifyKey(key)
	r.keys.put(key, v, rule)
	return v, rule
}

// classifyKey is ClassifyKey without the cache.
func (r *Redactor) classifyKey(key string) (KeyVerdict, string) {
	if r.fields.allowed(key) {
		return KeyAllowed, ""
	}
	p, suspect := r.fields.lookup(key)
	if p != nil {
		return KeySecret, p.rule
	}
	if r.fields.ignored(key) {
		return KeyIgnored, ""
	}
	if suspect && r.entropyID >= 0 {
		return KeySuspect, ""
	}
	return KeyPlain, ""
}

// FieldAction is the action of the field rule reported as rule ("field:<pattern>").
func (r *Redactor) FieldAction(rule string) Action {
	if a, ok := r.fieldActions[rule]; ok {
		return a
	}
	return r.fieldDefault
}

// Replacement returns what replaces secret under action a: the mask, an HMAC marker or a
// partial form.
func (r *Redactor) Replacement(a Action, secret string) string { return r.replacement(a, secret) }

// IsMarker reports whether s is the output of a redaction (the mask, an HMAC marker or a
// partial form); such values are not redacted again.
func (r *Redactor) IsMarker(s string) bool { return r.isMarker(s) }

// RedactString masks every secret the value rules find in s and records them in rep (which may
// be nil). A string that starts with '{' or '[' and is at most JSONMaxBytes long is first read
// as a JSON document (rule json); if it is not valid JSON it is scanned as text. Overlapping
// findings are replaced once, with the action of the rule listed first. A finding whose text is
// already a redaction marker is not counted, so running the same data through twice reports
// nothing the second time. When nothing is found s itself is returned.
func (r *Redactor) RedactString(s string, rep *Report) string {
	if !cacheable(s) {
		return r.redactString(s, rep)
	}
	h, ok := r.clean.known(s)
	if ok {
		return s
	}
	found := r.find(s, nil)
	if len(found) == 0 {
		r.clean.remember(s, h)
		return s
	}
	return r.apply(s, found, rep)
}

// redactString is RedactString without the cache.
func (r *Redactor) redactString(s string, rep *Report) string {
	found := r.find(s, nil)
	if len(found) == 0 {
		return s
	}
	return r.apply(s, found, rep)
}

// RedactSuspectString is RedactString for a value whose key is KeySuspect: when the whole value
// looks random it is replaced by the high_entropy rule.
func (r *Redactor) RedactSuspectString(s string, rep *Report) string {
	if r.entropyID >= 0 && looksRandom(s) {
		return r.apply(s, []span{{start: 0, end: len(s), rule: r.entropyID}}, rep)
	}
	return r.RedactString(s, rep)
}

func (r *Redactor) find(s string, dst []span) []span {
	if r.jsonID >= 0 && len(s) <= r.jsonMax && startsJSON(s) {
		if out, ok := r.findJSON(s, dst); ok {
			return out
		}
	}
	return r.findText(s, 0, dst)
}

// findText runs every admitted rule over s and appends what they find, offset by off.
func (r *Redactor) findText(s string, off int, dst []span) []span {
	var prof stringProfile
	prof.fill(s, r.byteBits)
	n := len(dst)
	for i := range r.rules {
		if rule := &r.rules[i]; rule.find != nil && rule.mask.admits(&prof) {
			dst = rule.find(s, dst, i)
		}
	}
	if off != 0 {
		for k := n; k < len(dst); k++ {
			dst[k].start += off
			dst[k].end += off
		}
	}
	return dst
}

// apply replaces the found spans of s. Spans that overlap or touch are merged into one
// replacement; its action is that of the lowest rule index among them.
func (r *Redactor) apply(s string, found []span, rep *Report) string {
	if len(found) > 1 {
		slices.SortFunc(found, func(a, b span) int {
			if c := cmp.Compare(a.start, b.start); c != 0 {
				return c
			}
			return cmp.Compare(a.rule, b.rule)
		})
	}
	var b strings.Builder
	last, changed := 0, false
	for i := 0; i < len(found); {
		start, end := found[i].start, found[i].end
		primary, kind := found[i].rule, found[i].kind
		j := i + 1
		for j < len(found) && found[j].start <= end {
			end = max(end, found[j].end)
			primary = min(primary, found[j].rule)
			kind = max(kind, found[j].kind)
			j++
		}
		if text := s[start:end]; !r.isMarker(text) {
			if !changed {
				b.Grow(len(s))
				changed = true
			}
			b.WriteString(s[last:start])
			repl := r.replacement(r.rules[primary].action, text)
			switch kind {
			case kindJSONString:
				writeJSONEscaped(&b, repl)
			case kindJSONValue:
				b.WriteByte('"')
				writeJSONEscaped(&b, repl)
				b.WriteByte('"')
			default:
				b.WriteString(repl)
			}
			last = end
			if rep != nil {
				rep.Count++
				rep.tally(r.rules[primary].name)
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

// RedactInt returns the replacement of an integer value that the value rules call a secret;
// today only a card number stored as a number is one.
func (r *Redactor) RedactInt(v int64, rep *Report) (string, bool) {
	if r.cardID < 0 || !IsCardNumber(v) {
		return "", false
	}
	if rep != nil {
		rep.Count++
		rep.addRule(RuleCardNumber)
		rep.tally(RuleCardNumber)
	}
	var buf [20]byte
	return r.replacement(r.rules[r.cardID].action, string(strconv.AppendInt(buf[:0], v, 10))), true
}

// Report accumulates what was redacted in one record, span or data point. Reset it between
// items; its slices are reused.
type Report struct {
	// Count is the number of replaced values and replaced parts of strings.
	Count int
	// Rules are the distinct rule names that fired, in first-hit order; several rules can fire
	// on one replaced part.
	Rules []string
	// Tally counts replacements by the rule whose action was applied; its counts add up to
	// Count.
	Tally []RuleCount
}

// RuleCount is a number of replacements made under one rule.
type RuleCount struct {
	Rule string
	N    int
}

// Reset empties the report, keeping its storage.
func (rep *Report) Reset() {
	rep.Count = 0
	rep.Rules = rep.Rules[:0]
	rep.Tally = rep.Tally[:0]
}

// AddField records a value replaced by a field rule (rule as returned by ClassifyKey).
func (rep *Report) AddField(rule string) {
	rep.Count++
	rep.addRule(rule)
	rep.tally(rule)
}

// Merge adds other's counts to rep.
func (rep *Report) Merge(other *Report) {
	rep.Count += other.Count
	for _, name := range other.Rules {
		rep.addRule(name)
	}
	for _, rc := range other.Tally {
		rep.tallyN(rc.Rule, rc.N)
	}
}

func (rep *Report) addRule(name string) {
	for _, n := range rep.Rules {
		if n == name {
			return
		}
	}
	rep.Rules = append(rep.Rules, name)
}

func (rep *Report) tally(name string) { rep.tallyN(name, 1) }

func (rep *Report) tallyN(name string, n int) {
	for i := range rep.Tally {
		if rep.Tally[i].Rule == name {
			rep.Tally[i].N += n
			return
		}
	}
	rep.Tally = append(rep.Tally, RuleCount{Rule: name, N: n})
}
