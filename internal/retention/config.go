// Package retention decides how long audit records are kept and deletes the expired ones on a
// schedule: the policy configuration (a period per level), and a Scheduler that runs a store's
// Prune on a cron schedule, one run at a time.
package retention

import (
	"errors"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Config is the retention part of the exporter configuration.
type Config struct {
	// Enabled turns the scheduled runs on. RunNow works either way.
	Enabled bool `mapstructure:"enabled"`
	// Schedule is a cron expression (minute hour day-of-month month day-of-week, or a
	// descriptor such as @daily or @every 6h), evaluated in UTC unless it starts with
	// CRON_TZ=<zone>.
	Schedule string `mapstructure:"schedule"`
	// Periods says how long records of each level are kept.
	Periods Periods `mapstructure:"periods"`
}

// Periods is a retention period per level. Default applies to records of a level without
// its own entry (none today: every level has one; it guards levels added later). A zero
// period keeps that level forever.
type Periods struct {
	Debug    Period `mapstructure:"debug"`
	Info     Period `mapstructure:"info"`
	Warn     Period `mapstructure:"warn"`
	Error    Period `mapstructure:"error"`
	Security Period `mapstructure:"security"`
	Default  Period `mapstructure:"default"`
}

// DefaultSchedule runs once a day at midnight UTC.
const DefaultSchedule = "0 0 * * *"

// DefaultConfig returns the defaults: debug 1 month, info and warn 3, error 6, security 12,
// anything else 3, pruned daily at midnight UTC.
func DefaultConfig() Config {
	return Config{
		Enabled:  true,
		Schedule: DefaultSchedule,
		Periods: Periods{
			Debug:    Months(1),
			Info:     Months(3),
			Warn:     Months(3),
			Error:    Months(6),
			Security: Months(12),
			Default:  Months(3),
		},
	}
}

// cronParser accepts the standard five fields and the descriptors (@daily, @every 1h).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Validate reports every invalid field, each error naming it.
func (c Config) Validate() error {
	var errs []error
	if _, err := cronParser.Parse(c.Schedule); err != nil {
		errs = append(errs, fmt.Errorf("schedule: %q is not a cron expression: %w", c.Schedule, err))
	}
	for _, f := range c.Periods.fields() {
		if f.period.Negative() {
			errs = append(errs, fmt.Errorf("periods.%s: %s must not be negative", f.name, f.period))
		}
	}
	return errors.Join(errs...)
}

type namedPeriod struct {
	name   string
	level  record.Level // 0 for default
	period Period
}

func (p Periods) fields() []namedPeriod {
	return []namedPeriod{
		{"debug", record.LevelDebug, p.Debug},
		{"info", record.LevelInfo, p.Info},
		{"warn", record.LevelWarn, p.Warn},
		{"error", record.LevelError, p.Error},
		{"security", record.LevelSecurity, p.Security},
		{"default", 0, p.Default},
	}
}

// Policy turns the periods into the store's policy at now: each period becomes the duration
// from its calendar cutoff to now, so a store subtracting it from now finds the same cutoff.
func (p Periods) Policy(now time.Time) store.RetentionPolicy {
	asDuration := func(per Period) time.Duration {
		if per.IsZero() {
			return 0
		}
		return now.Sub(per.Cutoff(now))
	}
	policy := store.RetentionPolicy{ByLevel: make(map[record.Level]time.Duration, len(record.Levels))}
	for _, f := range p.fields() {
		if f.level == 0 {
			policy.Default = asDuration(f.period)
			continue
		}
		policy.ByLevel[f.level] = asDuration(f.period)
	}
	return policy
}

// Unmarshal reads the periods from the collector configuration. It exists because YAML reads
// an unquoted 0 (the natural way to write "keep forever") as a number, which the text form
// alone cannot accept; every other value must be a string in one of Period's forms. A level
// left out keeps its default.
func (p *Periods) Unmarshal(conf *confmap.Conf) error {
	byName := map[string]*Period{
		"debug": &p.Debug, "info": &p.Info, "warn": &p.Warn, "error": &p.Error,
		"security": &p.Security, "default": &p.Default,
	}
	var errs []error
	for key, raw := range conf.ToStringMap() {
		dst, ok := byName[key]
		if !ok {
			errs = append(errs, fmt.Errorf("periods.%s: unknown level; want debug, info, warn, error, security or default", key))
			continue
		}
		var err error
		switch v := raw.(type) {
		case nil:
			continue
		case string:
			*dst, err = ParsePeriod(v)
		case int, int64, uint64, float64:
			if fmt.Sprint(v) != "0" {
				err = fmt.Errorf("%v needs a unit: d (days), mo (months), y (years) or a Go duration like 720h", v)
			} else {
				*dst = Period{}
			}
		default:
			err = fmt.Errorf("want a period such as 30d, 3mo or 720h, got %T", raw)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("periods.%s: %w", key, err))
		}
	}
	return errors.Join(errs...)
}
