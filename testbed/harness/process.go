// Package harness builds and runs collector binaries as real processes on loopback ports,
// drives them with the load generator, and measures what the kernel and the store say: CPU
// time and peak RSS from /proc, records committed in SQLite or received by a sink.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// Build runs `go build -o out pkg` in dir and returns out.
func Build(ctx context.Context, dir, pkg, out string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s in %s: %w\n%s", pkg, dir, err, b)
	}
	return out, nil
}

// BuildAtRevision builds pkg as it was at git revision rev of the repository at root: it
// checks rev out into a temporary detached worktree under tmp (`git worktree add --detach`),
// runs `go build -o out pkg` there with the same Go module cache, and removes the worktree
// again, whether the build worked or not. It returns the revision's short commit id.
func BuildAtRevision(ctx context.Context, root, rev, pkg, tmp, out string) (string, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", root}, args...)...)
		b, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, b)
		}
		return strings.TrimSpace(string(b)), nil
	}
	short, err := git("rev-parse", "--short", "--verify", rev+"^{commit}")
	if err != nil {
		return "", err
	}
	parent, err := os.MkdirTemp(tmp, "rev-"+short+"-")
	if err != nil {
		return short, err
	}
	defer os.RemoveAll(parent)
	src := filepath.Join(parent, "src")
	if _, err := git("worktree", "add", "--detach", src, short); err != nil {
		return short, err
	}
	// Removing it with git, not just the directory, so that the repository keeps no entry
	// for it. A fresh context: the worktree goes even when ctx was cancelled.
	defer func() {
		_ = exec.Command("git", "-C", root, "worktree", "remove", "--force", src).Run()
	}()
	if _, err := Build(ctx, src, pkg, out); err != nil {
		return short, fmt.Errorf("revision %s: %w", short, err)
	}
	return short, nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Process is a running collector.
type Process struct {
	cmd    *exec.Cmd
	output *lockedBuffer
	done   chan struct{}
	err    error
}

// Start writes configYAML next to the data in dir and runs bin --config on it.
func Start(bin, configYAML, dir string) (*Process, error) {
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML), 0o600); err != nil {
		return nil, fmt.Errorf("write config %s: %w", cfgPath, err)
	}
	p := &Process{output: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "--config", cfgPath)
	p.cmd.Dir = dir
	p.cmd.Stdout = p.output
	p.cmd.Stderr = p.output
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output is everything the process wrote so far.
func (p *Process) Output() string { return p.output.String() }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits up to timeout for a clean exit, then kills the process. It
// returns an error when the process had to be killed or exited with a failure.
func (p *Process) Stop(timeout time.Duration) error {
	if p.Exited() {
		return p.exitError()
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exitError()
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("pid %d did not exit within %s of SIGTERM and was killed", p.Pid(), timeout)
	}
}

func (p *Process) exitError() error {
	if p.err != nil {
		return fmt.Errorf("pid %d exited: %w", p.Pid(), p.err)
	}
	return nil
}

// Kill ends the process at once; it is safe after Stop.
func (p *Process) Kill() {
	if !p.Exited() {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// WaitOTLP posts empty OTLP/HTTP logs requests to url until one is answered 2xx or timeout
// passes: the receiver is listening and the pipeline behind it has started.
func (p *Process) WaitOTLP(url string, timeout time.Duration) error {
	empty, err := plogotlp.NewExportRequestFromLogs(plog.NewLogs()).MarshalProto()
	if err != nil {
		return fmt.Errorf("marshal empty request: %w", err)
	}
	deadline := time.Now().Add(timeout)
	var last error = errors.New("no attempt")
	for time.Now().Before(deadline) {
		if p.Exited() {
			return fmt.Errorf("collector exited before %s answered: %v\n%s", url, p.err, p.Output())
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(empty))
		req.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			last = fmt.Errorf("answered %s", resp.Status)
		} else {
			last = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not accept an empty request within %s (last: %v)\n%s", url, timeout, last, p.Output())
}

// lockedBuffer collects the child's output, written from the exec package's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
