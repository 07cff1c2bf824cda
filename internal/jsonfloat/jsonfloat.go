// Package jsonfloat formats floats as encoding/json does, for the hand-written JSON encoders
// (the chain's canonical encoding, ClickHouse attribute columns) that must match it byte for
// byte without its reflection.
package jsonfloat

import (
	"math"
	"strconv"
)

// Append appends finite f as encoding/json writes it: the shortest representation, in
// exponent form below 1e-6 and from 1e21, a one-digit negative exponent without its zero
// (1e-07 is written 1e-7). NaN and infinities have no JSON form; callers handle them first.
func Append(buf []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	buf = strconv.AppendFloat(buf, f, format, -1, 64)
	if format == 'e' {
		if n := len(buf); n >= 4 && buf[n-4] == 'e' && buf[n-3] == '-' && buf[n-2] == '0' {
			buf[n-2] = buf[n-1]
			buf = buf[:n-1]
		}
	}
	return buf
}
