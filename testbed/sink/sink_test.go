package sink

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

func request(t *testing.T, n int) []byte {
	t.Helper()
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for range n {
		recs.AppendEmpty().Body().SetStr("x")
	}
	data, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSink_CountsRecordsOfPlainAndGzipRequestsAndRefusesGarbage(t *testing.T) {
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	post := func(body []byte, gz bool) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/v1/logs", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(request(t, 3), false); code != http.StatusOK {
		t.Fatalf("plain request answered %d, want 200", code)
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write(request(t, 4))
	_ = zw.Close()
	if code := post(zipped.Bytes(), true); code != http.StatusOK {
		t.Fatalf("gzip request answered %d, want 200", code)
	}
	if code := post([]byte{0xff, 0xff, 0xff}, false); code != http.StatusBadRequest {
		t.Fatalf("garbage answered %d, want 400", code)
	}
	if s.Records() != 7 || s.Requests() != 2 || s.BadRequests() != 1 {
		t.Fatalf("records=%d requests=%d bad=%d, want 7, 2, 1", s.Records(), s.Requests(), s.BadRequests())
	}
}
