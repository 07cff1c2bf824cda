package faults

import (
	"io"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// partitionProxy forwards a loopback port to a server and can cut the path the way a network
// partition does: open connections die, and new ones connect (the proxy still listens) but
// never get an answer, so the client waits for its own timeouts. Restoring closes the silent
// connections and forwards again.
type partitionProxy struct {
	target string
	ln     net.Listener

	mu     sync.Mutex
	cut    bool
	live   map[net.Conn]struct{} // forwarded, both ends
	silent map[net.Conn]struct{} // accepted during the cut, never answered
}

func startPartitionProxy(t *testing.T, target string) *partitionProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "proxy listen")
	p := &partitionProxy{target: target, ln: ln, live: map[net.Conn]struct{}{}, silent: map[net.Conn]struct{}{}}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *partitionProxy) addr() string { return p.ln.Addr().String() }

func (p *partitionProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.silent[c] = struct{}{}
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.cut { // cut while dialling
			p.mu.Unlock()
			c.Close()
			up.Close()
			continue
		}
		p.live[c], p.live[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies one direction; when either side ends, both are closed.
func (p *partitionProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.live, dst)
	delete(p.live, src)
	p.mu.Unlock()
}

// partition kills every forwarded connection and leaves new ones unanswered.
func (p *partitionProxy) partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.live {
		c.Close()
	}
}

// heal closes the unanswered connections (their clients see an error at once) and forwards
// new ones again.
func (p *partitionProxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	for c := range p.silent {
		c.Close()
	}
	clear(p.silent)
}

func (p *partitionProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.live {
		c.Close()
	}
	for c := range p.silent {
		c.Close()
	}
}
