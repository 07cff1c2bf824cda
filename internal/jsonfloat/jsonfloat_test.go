package jsonfloat

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAppend_IsEncodingJSONs(t *testing.T) {
	for _, f := range []float64{0, 1, -2.5, 0.1, 1e-6, 9.99e-7, 1e-7, 1.5e-7, 1e20, 1e21, 1e300, -1e-300,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 123456789.123, float64(float32(0.1))} {
		want, err := json.Marshal(f)
		assert.NoError(t, err)
		assert.Equal(t, string(want), string(Append(nil, f)), "%v", f)
	}
}

func FuzzAppend_IsEncodingJSONs(f *testing.F) {
	f.Add(1.5e-7)
	f.Add(1e21)
	f.Fuzz(func(t *testing.T, x float64) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		want, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(Append(nil, x)); got != string(want) {
			t.Fatalf("Append(%v) = %s, encoding/json %s", x, got, want)
		}
	})
}
