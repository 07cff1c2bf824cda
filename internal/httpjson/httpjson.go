// Package httpjson writes the JSON answers of the project's HTTP servers (the audit receiver
// and the query API), with one set of headers and one failure mode.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// encodeFailure is the body when v cannot be encoded: still JSON, in the servers' error shape.
var encodeFailure = []byte(`{"error":{"code":"internal","message":"the response could not be encoded"}}`)

// Write answers status with v as JSON. It encodes before writing the header, so an encoding
// failure yields a clean 500 rather than a 200 with a truncated body. Audit data must not
// linger in shared caches or a browser's history (no-store), nor be sniffed as another type.
func Write(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, encodeFailure
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// The client may be gone; there is no one left to tell.
	_, _ = w.Write(append(body, '\n'))
}
