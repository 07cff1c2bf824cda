package redactprocessor

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/redact"
)

// Attribute names written by `summary: true`.
const (
	summaryCountKey = "redaction.count"
	summaryRulesKey = "redaction.rules"
)

// redactAttributes is redactMap for the top level of a log record's or a resource's
// attributes, where the identity attributes are (see protectIdentity).
func (p *redactProcessor) redactAttributes(m pcommon.Map, rep *redact.Report) {
	m.Range(func(k string, v pcommon.Value) bool {
		if !p.protectIdentity(k, v, rep) {
			p.redactEntry(k, v, rep)
		}
		return true
	})
}

// redactMap applies the field rules to every key of m and the value rules to every value that
// no field rule replaced, at any depth.
func (p *redactProcessor) redactMap(m pcommon.Map, rep *redact.Report) {
	m.Range(func(k string, v pcommon.Value) bool {
		p.redactEntry(k, v, rep)
		return true
	})
}

// redactEntry applies the rules to one attribute: the field rules to its key, else the value
// rules to its value.
func (p *redactProcessor) redactEntry(k string, v pcommon.Value, rep *redact.Report) {
	switch verdict, rule := p.redactor.ClassifyKey(k); verdict {
	case redact.KeyAllowed, redact.KeyIgnored:
	case redact.KeySecret:
		p.replaceWhole(v, rule, rep)
	default:
		p.redactValue(v, verdict, rep)
	}
}

// replaceWhole replaces a value under a secret key, whatever its type: a map under
// "credentials" is as secret as a string. A value that is already a redaction marker is left
// and not counted again.
func (p *redactProcessor) replaceWhole(v pcommon.Value, rule string, rep *redact.Report) {
	if v.Type() == pcommon.ValueTypeStr && p.redactor.IsMarker(v.Str()) {
		return
	}
	action := p.redactor.FieldAction(rule)
	secret := ""
	if action != redact.ActionMask {
		secret = v.AsString() // the value's JSON for maps and slices, so hashes stay stable
	}
	v.SetStr(p.redactor.Replacement(action, secret))
	rep.AddField(rule)
}

// redactValue applies the value rules to v and, for maps and slices, to everything inside.
// verdict is that of the key v is under (KeyPlain for bodies and slice elements under plain
// keys). Byte values are not scanned.
func (p *redactProcessor) redactValue(v pcommon.Value, verdict redact.KeyVerdict, rep *redact.Report) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		s := v.Str()
		if out := p.redactString(s, verdict, rep); out != s {
			v.SetStr(out)
		}
	case pcommon.ValueTypeInt:
		if out, ok := p.redactor.RedactInt(v.Int(), rep); ok {
			v.SetStr(out)
		}
	case pcommon.ValueTypeMap:
		p.redactMap(v.Map(), rep)
	case pcommon.ValueTypeSlice:
		sl := v.Slice()
		for i := 0; i < sl.Len(); i++ {
			p.redactValue(sl.At(i), verdict, rep)
		}
	}
}

// redactString applies the value rules to s, found under a key of the given verdict.
func (p *redactProcessor) redactString(s string, verdict redact.KeyVerdict, rep *redact.Report) string {
	if verdict == redact.KeySuspect {
		return p.redactor.RedactSuspectString(s, rep)
	}
	return p.redactor.RedactString(s, rep)
}

// summarize records rep on the item whose attributes are attrs, adding to a summary an earlier
// redact processor in the pipeline may have left, and adds rep to the batch's totals.
func (p *redactProcessor) summarize(attrs pcommon.Map, rep, batch *redact.Report) {
	if rep.Count == 0 {
		return
	}
	batch.Merge(rep)
	if !p.summary {
		return
	}
	count := int64(rep.Count)
	if prev, ok := attrs.Get(summaryCountKey); ok && prev.Type() == pcommon.ValueTypeInt {
		count += prev.Int()
	}
	attrs.PutInt(summaryCountKey, count)

	rules, ok := attrs.Get(summaryRulesKey)
	if !ok || rules.Type() != pcommon.ValueTypeSlice {
		rules = attrs.PutEmpty(summaryRulesKey)
		rules.SetEmptySlice().EnsureCapacity(len(rep.Rules))
	}
	sl := rules.Slice()
	for _, name := range rep.Rules {
		if !sliceHasStr(sl, name) {
			sl.AppendEmpty().SetStr(name)
		}
	}
}

func sliceHasStr(sl pcommon.Slice, s string) bool {
	for i := 0; i < sl.Len(); i++ {
		if v := sl.At(i); v.Type() == pcommon.ValueTypeStr && v.Str() == s {
			return true
		}
	}
	return false
}
