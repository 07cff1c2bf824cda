package sink

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
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
	require.NoError(t, err)
	return data
}

func TestSink_CountsRecordsOfPlainAndGzipRequestsAndRefusesGarbage(t *testing.T) {
	s, err := Start("127.0.0.1:0")
	require.NoError(t, err)
	defer s.Close()
	post := func(body []byte, gz bool) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/v1/logs", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, post(request(t, 3), false), "plain request answered")
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write(request(t, 4))
	_ = zw.Close()
	require.Equal(t, http.StatusOK, post(zipped.Bytes(), true), "gzip request answered")
	require.Equal(t, http.StatusBadRequest, post([]byte{0xff, 0xff, 0xff}, false), "garbage answered")
	require.EqualValues(t, 7, s.Records(), "records")
	require.EqualValues(t, 2, s.Requests(), "requests")
	require.EqualValues(t, 1, s.BadRequests(), "bad requests")
}
