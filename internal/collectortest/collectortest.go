// Package collectortest builds and runs the real otelcol-audit binary for end-to-end, crash and
// load tests: a temp config, free loopback ports, start, wait until the query API answers, stop
// with a signal.
package collectortest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary builds ./otelcol-audit once per test process and returns the executable's path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "otelcol-audit-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "otelcol-audit")
		cmd := exec.Command("go", "build", "-o", buildPath, "./otelcol-audit")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./otelcol-audit: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("collectortest: cannot locate the source tree")
	}
	// file is <root>/internal/collectortest/collectortest.go
	return filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Process is a running collector.
type Process struct {
	Cmd    *exec.Cmd
	Output *syncBuffer
	done   chan struct{}
	err    error
}

// Start runs the binary with configYAML written to a temp file (and args, such as
// --feature-gates, after it); the process is killed when the
// test ends if it is still running.
func Start(t testing.TB, configYAML string, args ...string) *Process {
	t.Helper()
	bin := Binary(t)
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &Process{Output: &syncBuffer{}, done: make(chan struct{})}
	p.Cmd = exec.Command(bin, append([]string{"--config", cfgPath}, args...)...)
	p.Cmd.Stdout = p.Output
	p.Cmd.Stderr = p.Output
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start collector: %v", err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.Cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("collector output:\n%s", p.Output.String())
		}
	})
	return p
}

// WaitReady polls the query API's health at healthURL until every pipeline has started (the
// API itself answers before the exporter has replayed its WAL).
func (p *Process) WaitReady(t testing.TB, healthURL string, timeout time.Duration) {
	t.Helper()
	p.waitFor(t, healthURL, timeout, func(body []byte) bool { return bytes.Contains(body, []byte(`"pipelines":"ready"`)) })
}

func (p *Process) waitFor(t testing.TB, url string, timeout time.Duration, ok func(body []byte) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("collector exited before %s answered: %v\n%s", url, p.err, p.Output.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && ok(body) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 (and ready) within %s\n%s", url, timeout, p.Output.String())
}

// Wait waits for the process to exit by itself (a refused configuration, say) and returns the
// exit code.
func (p *Process) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("collector still running after %s\n%s", timeout, p.Output.String())
	}
	return p.Cmd.ProcessState.ExitCode()
}

// Stop sends sig and waits for the process to exit; it returns the exit code.
func (p *Process) Stop(t testing.TB, sig syscall.Signal, timeout time.Duration) int {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("collector did not exit within %s of %v\n%s", timeout, sig, p.Output.String())
	}
	return p.Cmd.ProcessState.ExitCode()
}

// syncBuffer collects the child's output; the child writes from its own goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
