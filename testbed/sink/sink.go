// Package sink is the smallest OTLP/HTTP logs endpoint: it decodes each protobuf request,
// counts its records and answers 200. The stock pipeline forwards to it in the benchmarks, so
// that pipeline's delivered records can be counted like ours are counted in SQLite.
package sink

import (
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// Sink is a running endpoint at URL() + "/v1/logs".
type Sink struct {
	srv      *http.Server
	ln       net.Listener
	records  atomic.Int64
	requests atomic.Int64
	bad      atomic.Int64
}

// Start listens on addr ("127.0.0.1:0" for a free port) and serves until Close.
func Start(addr string) (*Sink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sink: listen on %s: %w", addr, err)
	}
	s := &Sink{ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/logs", s.handle)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the base URL (no path), e.g. http://127.0.0.1:41234.
func (s *Sink) URL() string { return "http://" + s.ln.Addr().String() }

// Records is the number of log records received in well-formed requests.
func (s *Sink) Records() int64 { return s.records.Load() }

// Requests is the number of well-formed requests received.
func (s *Sink) Requests() int64 { return s.requests.Load() }

// BadRequests is the number of requests that could not be decoded (answered 400).
func (s *Sink) BadRequests() int64 { return s.bad.Load() }

// Close stops the server.
func (s *Sink) Close() error { return s.srv.Close() }

func (s *Sink) handle(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			s.fail(w, fmt.Errorf("gzip: %w", err))
			return
		}
		defer zr.Close()
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		s.fail(w, fmt.Errorf("read body: %w", err))
		return
	}
	req := plogotlp.NewExportRequest()
	if err := req.UnmarshalProto(data); err != nil {
		s.fail(w, fmt.Errorf("decode protobuf: %w", err))
		return
	}
	s.records.Add(int64(req.Logs().LogRecordCount()))
	s.requests.Add(1)
	answer, _ := plogotlp.NewExportResponse().MarshalProto()
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(answer)
}

func (s *Sink) fail(w http.ResponseWriter, err error) {
	s.bad.Add(1)
	http.Error(w, err.Error(), http.StatusBadRequest)
}
