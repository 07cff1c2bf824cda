package retention

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

func TestConfig_LoadsFromYAML(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	tests := []struct {
		name    string
		key     string
		want    Config
		wantErr string
		// unmarshalErr: the error comes from reading the YAML rather than from Validate.
		unmarshalErr bool
	}{
		{
			name: "every period form is read", key: "retention",
			want: Config{Enabled: true, Schedule: "30 2 * * *", Periods: Periods{
				Debug: Days(7), Info: Period{Duration: 720 * time.Hour}, Warn: Months(3),
				Error: Months(12), Security: Period{}, Default: Months(12),
			}},
		},
		{
			name: "unset fields keep their defaults", key: "disabled",
			want: func() Config { c := DefaultConfig(); c.Enabled = false; return c }(),
		},
		{name: "a schedule that is not cron is refused naming schedule", key: "bad_schedule", wantErr: "schedule:"},
		{name: "a negative period is refused naming its level", key: "negative_period", wantErr: "periods.warn:"},
		{name: "a number other than 0 without a unit is refused naming its level", key: "number_without_unit", wantErr: "periods.info:", unmarshalErr: true},
		{name: "an unknown level is refused naming it", key: "unknown_level", wantErr: "periods.trace:", unmarshalErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := cm.Sub(tc.key)
			require.NoError(t, err)
			cfg := DefaultConfig()
			err = sub.Unmarshal(&cfg)
			if tc.unmarshalErr {
				require.ErrorContains(t, err, tc.wantErr, "Unmarshal() should fail naming the field")
				return
			}
			require.NoError(t, err, "Unmarshal")
			err = cfg.Validate()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr, "Validate() should fail naming the field")
				return
			}
			require.NoError(t, err, "Validate()")
			assert.Equal(t, tc.want, cfg)
		})
	}
}

func TestConfig_DefaultsAreTheDocumentedOnes(t *testing.T) {
	cfg := DefaultConfig()
	require.NoError(t, cfg.Validate(), "defaults are invalid")
	want := Periods{Debug: Months(1), Info: Months(3), Warn: Months(3), Error: Months(6), Security: Months(12), Default: Months(3)}
	assert.Equal(t, want, cfg.Periods, "DefaultConfig().Periods")
	assert.Equal(t, "0 0 * * *", cfg.Schedule, "DefaultConfig().Schedule")
	assert.True(t, cfg.Enabled, "DefaultConfig().Enabled")
}

func TestConfig_ValidateReportsEveryBadField(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Schedule = "61 * * * *"
	cfg.Periods.Debug = Days(-1)
	cfg.Periods.Default = Period{Duration: -time.Hour}
	err := cfg.Validate()
	for _, field := range []string{"schedule:", "periods.debug:", "periods.default:"} {
		assert.ErrorContains(t, err, field, "Validate() should name every bad field")
	}
}

func TestPeriods_PolicyCutsAtTheCalendarCutoff(t *testing.T) {
	now := time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)
	p := Periods{Debug: Months(1), Info: Days(30), Warn: Period{Duration: 36 * time.Hour}, Error: Months(12), Security: Period{}, Default: Months(3)}
	policy := p.Policy(now)
	tests := []struct {
		name   string
		level  record.Level
		cutoff time.Time // zero: kept forever
	}{
		{"one month before 31 March is the last day of February", record.LevelDebug, time.Date(2025, 2, 28, 12, 0, 0, 0, time.UTC)},
		{"thirty days are thirty times 24 hours", record.LevelInfo, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)},
		{"a duration is subtracted as it is", record.LevelWarn, time.Date(2025, 3, 30, 0, 0, 0, 0, time.UTC)},
		{"twelve months are a calendar year", record.LevelError, time.Date(2024, 3, 31, 12, 0, 0, 0, time.UTC)},
		{"a zero period keeps forever", record.LevelSecurity, time.Time{}},
		{"a level without its own entry takes the default", record.Level(9), time.Date(2024, 12, 31, 12, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := policy.For(tc.level)
			if tc.cutoff.IsZero() {
				assert.Zero(t, d, "period, want 0 (forever)")
				return
			}
			assert.Equal(t, tc.cutoff, now.Add(-d), "cutoff")
		})
	}
}

func TestPeriod_ParsesEveryDocumentedForm(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Period
		bad  bool
	}{
		{"zero keeps forever", "0", Period{}, false},
		{"days", "30d", Days(30), false},
		{"months", "3mo", Months(3), false},
		{"twelve months", "12mo", Months(12), false},
		{"years are twelve months", "2y", Months(24), false},
		{"a Go duration", "720h", Period{Duration: 720 * time.Hour}, false},
		{"a negative value parses for Validate to refuse", "-3mo", Months(-3), false},
		{"an unknown unit is refused", "3w", Period{}, true},
		{"a fraction of a month is refused", "1.5mo", Period{}, true},
		{"an empty value is refused", "", Period{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePeriod(tc.in)
			if tc.bad {
				assert.Error(t, err, "ParsePeriod(%q) = %+v, want an error", tc.in, got)
				return
			}
			require.NoError(t, err, "ParsePeriod(%q)", tc.in)
			require.Equal(t, tc.want, got, "ParsePeriod(%q)", tc.in)
			back, err := ParsePeriod(got.String())
			require.NoError(t, err, "String() = %q does not parse back", got.String())
			assert.Equal(t, got, back, "String() = %q does not parse back", got.String())
		})
	}
}

func TestPeriod_CutoffClampsToTheEndOfShorterMonths(t *testing.T) {
	tests := []struct {
		name     string
		now      time.Time
		period   Period
		expected time.Time
	}{
		{"leap day minus a year is 28 February", time.Date(2024, 2, 29, 8, 0, 0, 0, time.UTC), Months(12), time.Date(2023, 2, 28, 8, 0, 0, 0, time.UTC)},
		{"31 May minus three months is 28 February", time.Date(2025, 5, 31, 0, 0, 0, 0, time.UTC), Months(3), time.Date(2025, 2, 28, 0, 0, 0, 0, time.UTC)},
		{"15 January minus one month is 15 December of the year before", time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC), Months(1), time.Date(2024, 12, 15, 0, 0, 0, 0, time.UTC)},
		{"a time in another zone is cut in UTC", time.Date(2025, 4, 1, 1, 0, 0, 0, time.FixedZone("CEST", 2*3600)), Months(1), time.Date(2025, 2, 28, 23, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.period.Cutoff(tc.now)
			assert.True(t, got.Equal(tc.expected), "Cutoff(%s) = %s, want %s", tc.now, got, tc.expected)
		})
	}
}
