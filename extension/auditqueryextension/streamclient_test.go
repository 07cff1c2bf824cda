package auditqueryextension

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// streamMsg is one message of a stream as a client sees it.
type streamMsg struct {
	event string // SSE event name ("" for records); "" over WebSocket
	data  []byte
}

// kind is "record", "lagged" or "closed".
func (m streamMsg) kind() string {
	if bytes.HasPrefix(m.data, []byte(`{"id":`)) {
		return "record"
	}
	var probe struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(m.data, &probe)
	if probe.Type == "" {
		return "record"
	}
	return probe.Type
}

func (m streamMsg) id(t *testing.T) string {
	t.Helper()
	// Records are encoded with id first; reading it from the prefix keeps 100 readers under the
	// race detector from spending their time in json.Unmarshal.
	const prefix = `{"id":"`
	if rest, ok := bytes.CutPrefix(m.data, []byte(prefix)); ok {
		if end := bytes.IndexByte(rest, '"'); end >= 0 {
			return string(rest[:end])
		}
	}
	var rec struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(m.data, &rec), "message: %s", m.data)
	return rec.ID
}

func (m streamMsg) skipped(t *testing.T) int64 {
	t.Helper()
	var lag laggedMessage
	require.NoError(t, json.Unmarshal(m.data, &lag))
	return lag.Skipped
}

// streamClient reads a stream in its own goroutine into msgs; end holds why it stopped.
type streamClient struct {
	msgs     chan streamMsg
	comments chan string // SSE comment lines (heartbeats)
	end      chan error
	cancel   context.CancelFunc
	ws       *websocket.Conn
}

func (c *streamClient) close() { c.cancel() }

// next returns the next message or fails after timeout.
func (c *streamClient) next(t *testing.T, timeout time.Duration) streamMsg {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case err := <-c.end:
		t.Fatalf("the stream ended while a message was expected: %v", err)
	case <-time.After(timeout):
		t.Fatal("no stream message within", timeout)
	}
	return streamMsg{}
}

// ended waits for the end of the stream and returns its error.
func (c *streamClient) ended(t *testing.T, timeout time.Duration) error {
	t.Helper()
	for {
		select {
		case <-c.msgs:
		case err := <-c.end:
			return err
		case <-time.After(timeout):
			t.Fatal("the stream did not end within", timeout)
			return nil
		}
	}
}

func bearerHeader(token string) http.Header {
	if token == "" {
		return http.Header{}
	}
	return http.Header{"Authorization": {"Bearer " + token}}
}

// dialWS opens a WebSocket stream; status is the handshake's HTTP status when it was refused.
func dialWS(t *testing.T, base, query string, header http.Header) (*streamClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, resp, err := websocket.Dial(ctx, strings.Replace(base, "http://", "ws://", 1)+streamPath+"?"+query, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		cancel()
		return nil, resp, err
	}
	// Records can be larger than the library's 32 KiB default.
	conn.SetReadLimit(1 << 24)
	c := &streamClient{msgs: make(chan streamMsg), end: make(chan error, 1), cancel: cancel, ws: conn}
	go func() {
		defer conn.CloseNow()
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				c.end <- err
				return
			}
			select {
			case c.msgs <- streamMsg{data: data}:
			case <-ctx.Done():
				c.end <- ctx.Err()
				return
			}
		}
	}()
	t.Cleanup(c.close)
	return c, resp, nil
}

// dialSSE opens an SSE stream. A non-200 answer is returned as the response, with no client.
func dialSSE(t *testing.T, base, query string, header http.Header) (*streamClient, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+streamPath+"?"+query, nil)
	require.NoError(t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		cancel()
		return nil, resp
	}
	c := &streamClient{msgs: make(chan streamMsg), comments: make(chan string, 16), end: make(chan error, 1), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		var cur streamMsg
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				c.end <- err
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if cur.data == nil {
					continue
				}
				select {
				case c.msgs <- cur:
				case <-ctx.Done():
					c.end <- ctx.Err()
					return
				}
				cur = streamMsg{}
			case strings.HasPrefix(line, ":"):
				select {
				case c.comments <- line:
				default:
				}
			case strings.HasPrefix(line, "event: "):
				cur.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				cur.data = []byte(strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	t.Cleanup(c.close)
	return c, resp
}

func readAll(res *http.Response) ([]byte, error) { return io.ReadAll(res.Body) }
