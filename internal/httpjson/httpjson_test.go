package httpjson

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWrite_SetsTheHeadersAndTheStatus(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, http.StatusAccepted, map[string]int{"accepted": 2})
	assert.Equal(t, http.StatusAccepted, rec.Code)
	assert.JSONEq(t, `{"accepted":2}`, rec.Body.String())
	assert.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
}

func TestWrite_AnUnencodableValueIsACleanJSON500(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, http.StatusOK, map[string]any{"bad": func() {}})
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.JSONEq(t, string(encodeFailure), rec.Body.String())
}
