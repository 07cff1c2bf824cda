package record

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Level is the audit level of a record. The order matters: a higher level is more severe, and
// min_level filters compare with it. Security sits above error because a security event must
// never be filtered out by a threshold meant for noise.
type Level uint8

const (
	LevelDebug Level = iota + 1
	LevelInfo
	LevelWarn
	LevelError
	LevelSecurity
)

// Levels lists every level in ascending order.
var Levels = []Level{LevelDebug, LevelInfo, LevelWarn, LevelError, LevelSecurity}

var levelNames = map[Level]string{
	LevelDebug:    "debug",
	LevelInfo:     "info",
	LevelWarn:     "warn",
	LevelError:    "error",
	LevelSecurity: "security",
}

func (l Level) String() string {
	if n, ok := levelNames[l]; ok {
		return n
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// Valid reports whether l is one of the five audit levels.
func (l Level) Valid() bool { _, ok := levelNames[l]; return ok }

// ParseLevel accepts the level names case-insensitively, plus the common aliases
// "warning", "err" and "fatal" that SDKs and loggers emit.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug", "trace":
		return LevelDebug, nil
	case "info", "information":
		return LevelInfo, nil
	case "warn", "warning":
		return LevelWarn, nil
	case "error", "err", "fatal", "critical":
		return LevelError, nil
	case "security":
		return LevelSecurity, nil
	}
	return 0, fmt.Errorf("unknown level %q: expected one of debug, info, warn, error, security", s)
}

func (l Level) MarshalJSON() ([]byte, error) { return json.Marshal(l.String()) }

func (l *Level) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("level: expected a string: %w", err)
	}
	v, err := ParseLevel(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// MarshalText and UnmarshalText let a Level be used directly in collector YAML (mapstructure
// decodes through encoding.TextUnmarshaler).
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// LevelFromSeverity maps an OpenTelemetry severity to an audit level: 1-8 debug, 9-12 info,
// 13-16 warn, 17-24 error. A severity text of SECURITY wins over the number, because SDK
// log bridges have no security severity and senders mark it in the text. Unspecified
// severity is info: an audit record with no severity is an ordinary event.
func LevelFromSeverity(number int32, text string) Level {
	if strings.EqualFold(text, "security") {
		return LevelSecurity
	}
	switch {
	case number >= 1 && number <= 8:
		return LevelDebug
	case number >= 9 && number <= 12:
		return LevelInfo
	case number >= 13 && number <= 16:
		return LevelWarn
	case number >= 17:
		return LevelError
	}
	if l, err := ParseLevel(text); err == nil {
		return l
	}
	return LevelInfo
}
