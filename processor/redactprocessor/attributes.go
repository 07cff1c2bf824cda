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

// redactMap applies the field rules to every key of m and the value rules to every value that
// no field rule masked, at any depth. rep may be nil.
func (p *redactProcessor) redactMap(m pcommon.Map, rep *redact.Report) {
	m.Range(func(k string, v pcommon.Value) bool {
		switch verdict, rule := p.redactor.ClassifyKey(k); verdict {
		case redact.KeyAllowed:
		case redact.KeySecret:
			// The whole value goes, whatever its type: a map under "credentials" is as secret
			// as a string. An already masked value is not counted again.
			if v.Type() == pcommon.ValueTypeStr && v.Str() == p.redactor.Mask() {
				break
			}
			v.SetStr(p.redactor.Mask())
			if rep != nil {
				rep.AddField(rule)
			}
		default:
			p.redactValue(v, rep)
		}
		return true
	})
}

// redactValue applies the value rules to v and, for maps and slices, to everything inside.
// Byte values are not scanned.
func (p *redactProcessor) redactValue(v pcommon.Value, rep *redact.Report) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		s := v.Str()
		if out := p.redactor.RedactString(s, rep); out != s {
			v.SetStr(out)
		}
	case pcommon.ValueTypeInt:
		if p.redactor.RedactInt(v.Int(), rep) {
			v.SetStr(p.redactor.Mask())
		}
	case pcommon.ValueTypeMap:
		p.redactMap(v.Map(), rep)
	case pcommon.ValueTypeSlice:
		sl := v.Slice()
		for i := 0; i < sl.Len(); i++ {
			p.redactValue(sl.At(i), rep)
		}
	}
}

// summarize records rep on the item whose attributes are attrs, adding to a summary an earlier
// redact processor in the pipeline may have left.
func (p *redactProcessor) summarize(attrs pcommon.Map, rep *redact.Report) {
	if !p.summary || rep.Count == 0 {
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
