package redactprocessor

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/redact"
)

// redactProcessor applies one Redactor to every scope of every signal. It holds no mutable
// state, so one instance serves concurrent calls.
type redactProcessor struct {
	redactor *redact.Redactor
	summary  bool
}

func newRedactProcessor(cfg *Config) (*redactProcessor, error) {
	r, err := redact.New(cfg.redactOptions())
	if err != nil {
		return nil, fmt.Errorf("redact: build rules: %w", err)
	}
	return &redactProcessor{redactor: r, summary: cfg.Summary}, nil
}

// Resource and scope attributes are redacted like any others, but the summary is kept on the
// items (records, spans, data points): a resource is shared by many items and its attributes
// are its identity.

func (p *redactProcessor) processLogs(_ context.Context, ld plog.Logs) (plog.Logs, error) {
	var rep redact.Report
	for _, rl := range ld.ResourceLogs().All() {
		p.redactMap(rl.Resource().Attributes(), nil)
		for _, sl := range rl.ScopeLogs().All() {
			p.redactMap(sl.Scope().Attributes(), nil)
			for _, lr := range sl.LogRecords().All() {
				rep.Reset()
				p.redactMap(lr.Attributes(), &rep)
				p.redactValue(lr.Body(), &rep)
				p.summarize(lr.Attributes(), &rep)
			}
		}
	}
	return ld, nil
}

func (p *redactProcessor) processTraces(_ context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	var rep redact.Report
	for _, rs := range td.ResourceSpans().All() {
		p.redactMap(rs.Resource().Attributes(), nil)
		for _, ss := range rs.ScopeSpans().All() {
			p.redactMap(ss.Scope().Attributes(), nil)
			for _, span := range ss.Spans().All() {
				rep.Reset()
				p.redactMap(span.Attributes(), &rep)
				for _, ev := range span.Events().All() {
					p.redactMap(ev.Attributes(), &rep)
				}
				for _, link := range span.Links().All() {
					p.redactMap(link.Attributes(), &rep)
				}
				p.summarize(span.Attributes(), &rep)
			}
		}
	}
	return td, nil
}

func (p *redactProcessor) processMetrics(_ context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	for _, rm := range md.ResourceMetrics().All() {
		p.redactMap(rm.Resource().Attributes(), nil)
		for _, sm := range rm.ScopeMetrics().All() {
			p.redactMap(sm.Scope().Attributes(), nil)
			for _, m := range sm.Metrics().All() {
				p.redactMetric(m)
			}
		}
	}
	return md, nil
}

// noExemplars stands in for the exemplars summary data points do not have; it is only read.
var noExemplars = pmetric.NewExemplarSlice()

func (p *redactProcessor) redactMetric(m pmetric.Metric) {
	var rep redact.Report
	point := func(attrs pcommon.Map, exemplars pmetric.ExemplarSlice) {
		rep.Reset()
		p.redactMap(attrs, &rep)
		for _, ex := range exemplars.All() {
			p.redactMap(ex.FilteredAttributes(), &rep)
		}
		p.summarize(attrs, &rep)
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
