package redactprocessor

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/metadata"
	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/redact"
)

// redactProcessor applies one Redactor to the selected scopes of every signal. Apart from the
// cache of metric attribute options, which is safe for concurrent use, it holds no mutable
// state, so one instance serves concurrent calls.
type redactProcessor struct {
	redactor *redact.Redactor
	// identityKey keys the digests of secret-looking identity attributes (identity.go).
	identityKey []byte
	summary     bool
	scopes      scopeSet
	telemetry   *metadata.TelemetryBuilder
	// ruleAttrs caches, per rule name, the option that sets the rule attribute on the counter,
	// so counting a redaction does not build an attribute set each time.
	ruleAttrs sync.Map // string -> metric.AddOption
}

// newRedactProcessor builds the processor; tb may be nil (no telemetry, as in benchmarks of the
// engine alone).
func newRedactProcessor(cfg *Config, tb *metadata.TelemetryBuilder, logger *zap.Logger) (*redactProcessor, error) {
	key, err := cfg.loadHashKey()
	if err != nil {
		return nil, fmt.Errorf("redact: %w", err)
	}
	opts, err := cfg.redactOptions(key)
	if err != nil {
		return nil, fmt.Errorf("redact: %w", err)
	}
	r, err := redact.New(opts)
	if err != nil {
		return nil, fmt.Errorf("redact: build rules: %w", err)
	}
	identityKey, err := cfg.loadIdentityKey(logger)
	if err != nil {
		return nil, fmt.Errorf("redact: %w", err)
	}
	return &redactProcessor{redactor: r, identityKey: identityKey, summary: cfg.Summary, scopes: cfg.scopeSet(), telemetry: tb}, nil
}

// Resource and scope attributes are redacted like any others, but the summary is kept on the
// items (records, spans, data points): a resource is shared by many items and its attributes
// are its identity. Every redaction, summarised or not, is counted in telemetry.

func (p *redactProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	var rep, batch redact.Report
	for _, rl := range ld.ResourceLogs().All() {
		p.redactShared(rl.Resource().Attributes(), p.scopes.resourceAttributes, &rep, &batch)
		for _, sl := range rl.ScopeLogs().All() {
			p.redactShared(sl.Scope().Attributes(), p.scopes.scopeAttributes, &rep, &batch)
			for _, lr := range sl.LogRecords().All() {
				rep.Reset()
				if p.scopes.logAttributes {
					p.redactAttributes(lr.Attributes(), &rep)
				}
				if p.scopes.logBody {
					p.redactValue(lr.Body(), redact.KeyPlain, &rep)
				}
				p.summarize(lr.Attributes(), &rep, &batch)
			}
		}
	}
	p.record(ctx, &batch)
	return ld, nil
}

func (p *redactProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	var rep, batch redact.Report
	for _, rs := range td.ResourceSpans().All() {
		p.redactShared(rs.Resource().Attributes(), p.scopes.resourceAttributes, &rep, &batch)
		for _, ss := range rs.ScopeSpans().All() {
			p.redactShared(ss.Scope().Attributes(), p.scopes.scopeAttributes, &rep, &batch)
			for _, span := range ss.Spans().All() {
				rep.Reset()
				if p.scopes.spanAttributes {
					p.redactMap(span.Attributes(), &rep)
				}
				if p.scopes.spanEvents {
					for _, ev := range span.Events().All() {
						p.redactMap(ev.Attributes(), &rep)
					}
				}
				if p.scopes.spanLinks {
					for _, link := range span.Links().All() {
						p.redactMap(link.Attributes(), &rep)
					}
				}
				p.summarize(span.Attributes(), &rep, &batch)
			}
		}
	}
	p.record(ctx, &batch)
	return td, nil
}

func (p *redactProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	var rep, batch redact.Report
	for _, rm := range md.ResourceMetrics().All() {
		p.redactShared(rm.Resource().Attributes(), p.scopes.resourceAttributes, &rep, &batch)
		for _, sm := range rm.ScopeMetrics().All() {
			p.redactShared(sm.Scope().Attributes(), p.scopes.scopeAttributes, &rep, &batch)
			if !p.scopes.metricAttributes {
				continue
			}
			for _, m := range sm.Metrics().All() {
				p.redactMetric(m, &rep, &batch)
			}
		}
	}
	p.record(ctx, &batch)
	return md, nil
}

// redactShared redacts resource or scope attributes (when their scope is selected) and adds
// what it did to batch only: shared attributes get no summary.
func (p *redactProcessor) redactShared(attrs pcommon.Map, selected bool, rep, batch *redact.Report) {
	if !selected {
		return
	}
	rep.Reset()
	p.redactAttributes(attrs, rep)
	batch.Merge(rep)
}

// noExemplars stands in for the exemplars summary data points do not have; it is only read.
var noExemplars = pmetric.NewExemplarSlice()

func (p *redactProcessor) redactMetric(m pmetric.Metric, rep, batch *redact.Report) {
	point := func(attrs pcommon.Map, exemplars pmetric.ExemplarSlice) {
		rep.Reset()
		p.redactMap(attrs, rep)
		for _, ex := range exemplars.All() {
			p.redactMap(ex.FilteredAttributes(), rep)
		}
		p.summarize(attrs, rep, batch)
	}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for _, dp := range m.Gauge().DataPoints().All() {
			point(dp.Attributes(), dp.Exemplars())
		}
	case pmetric.MetricTypeSum:
		for _, dp := range m.Sum().DataPoints().All() {
			point(dp.Attributes(), dp.Exemplars())
		}
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			point(dp.Attributes(), dp.Exemplars())
		}
	case pmetric.MetricTypeExponentialHistogram:
		for _, dp := range m.ExponentialHistogram().DataPoints().All() {
			point(dp.Attributes(), dp.Exemplars())
		}
	case pmetric.MetricTypeSummary:
		for _, dp := range m.Summary().DataPoints().All() {
			point(dp.Attributes(), noExemplars)
		}
	}
}

// record adds a batch's redactions to the counter, one Add per rule that was applied.
func (p *redactProcessor) record(ctx context.Context, batch *redact.Report) {
	if p.telemetry == nil || batch.Count == 0 {
		return
	}
	for _, rc := range batch.Tally {
		p.telemetry.ProcessorRedactRedactions.Add(ctx, int64(rc.N), p.ruleAttr(rc.Rule))
	}
}

func (p *redactProcessor) ruleAttr(rule string) metric.AddOption {
	if opt, ok := p.ruleAttrs.Load(rule); ok {
		return opt.(metric.AddOption)
	}
	opt := metric.WithAttributeSet(attribute.NewSet(attribute.String("rule", rule)))
	actual, _ := p.ruleAttrs.LoadOrStore(rule, opt)
	return actual.(metric.AddOption)
}
