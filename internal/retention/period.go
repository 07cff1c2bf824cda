package retention

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Period is how long records are kept: a number of calendar months, of days, or a Go duration.
// Its text forms (YAML values) are:
//
//	0            keep forever
//	30d          30 days of 24 hours
//	3mo, 12mo    calendar months
//	1y           12 calendar months
//	720h, 90m    any Go duration (time.ParseDuration)
//
// Months are calendar months, not 30 days: a record written on 15 March and kept "1mo" expires
// on 15 April, whatever the length of March. When the day does not exist in the target month
// (31 March minus one month), the cutoff is the last day of that month (28 or 29 February):
// a period is never shorter than the months it names, only, at month ends, up to three days
// longer. Days are 24 hours of UTC time (no daylight saving in UTC).
//
// In YAML a Period is one string ("3mo", "30d", "720h"), decoded by UnmarshalText; the fields
// are not config keys, which the mapstructure "-" tags say.
type Period struct {
	Months   int           `mapstructure:"-"`
	Days     int           `mapstructure:"-"`
	Duration time.Duration `mapstructure:"-"`
}

// Months and Days build the common periods.
func Months(n int) Period { return Period{Months: n} }
func Days(n int) Period   { return Period{Days: n} }

// IsZero reports whether p keeps records forever.
func (p Period) IsZero() bool { return p.Months == 0 && p.Days == 0 && p.Duration == 0 }

// Negative reports whether p points to the future, which no retention can mean.
func (p Period) Negative() bool { return p.Months < 0 || p.Days < 0 || p.Duration < 0 }

// Cutoff is the instant before which a record kept for p has expired at now (in UTC).
func (p Period) Cutoff(now time.Time) time.Time {
	now = now.UTC()
	y, m, d := now.Date()
	// Subtract the months with the day clamped to the target month's length, rather than
	// AddDate's normalization, which would turn 31 March minus one month into 3 March. The
	// first of the month normalizes safely.
	first := time.Date(y, m-time.Month(p.Months), 1, 0, 0, 0, 0, time.UTC)
	ty, tm := first.Year(), first.Month()
	if last := daysIn(ty, tm); d > last {
		d = last
	}
	h, mi, s := now.Clock()
	t := time.Date(ty, tm, d, h, mi, s, now.Nanosecond(), time.UTC)
	return t.AddDate(0, 0, -p.Days).Add(-p.Duration)
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// String renders p in the form UnmarshalText reads.
func (p Period) String() string {
	switch {
	case p.IsZero():
		return "0"
	case p.Days == 0 && p.Duration == 0:
		return strconv.Itoa(p.Months) + "mo"
	case p.Months == 0 && p.Duration == 0:
		return strconv.Itoa(p.Days) + "d"
	case p.Months == 0 && p.Days == 0:
		return p.Duration.String()
	}
	return fmt.Sprintf("%dmo%dd%s", p.Months, p.Days, p.Duration)
}

// MarshalText lets a Period be written back to YAML.
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses the forms listed on Period. A negative value parses (so that Validate
// can name the field it is in) but is refused by Config.Validate.
func (p *Period) UnmarshalText(b []byte) error {
	v, err := ParsePeriod(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ParsePeriod parses the forms listed on Period.
func ParsePeriod(s string) (Period, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return Period{}, nil
	}
	for _, u := range []struct {
		suffix string
		make   func(n int) Period
	}{
		{"mo", Months},
		{"y", func(n int) Period { return Months(12 * n) }},
		{"d", Days},
	} {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			return Period{}, fmt.Errorf("period %q: %q is not a whole number of %s", s, num, unitName(u.suffix))
		}
		return u.make(n), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return Period{}, fmt.Errorf("period %q: want a number with d (days), mo (months) or y (years), or a Go duration like 720h", s)
	}
	return Period{Duration: d}, nil
}

func unitName(suffix string) string {
	switch suffix {
	case "mo":
		return "months"
	case "y":
		return "years"
	}
	return "days"
}
