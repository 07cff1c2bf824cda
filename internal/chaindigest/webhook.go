package chaindigest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// webhookBacklog bounds the digests kept for a receiver that does not answer: a day of
// one-minute digests for a handful of tenants.
const webhookBacklog = 10000

// Webhook POSTs each digest to a receiver outside the collector's host (the digest's bytes,
// Content-Type application/json; any 2xx is delivered). Digests the receiver did not take are
// kept, up to webhookBacklog, and sent again before the next one, in order, so the receiver
// sees each tenant's chain without gaps unless the backlog overflowed.
type Webhook struct {
	client   *http.Client
	endpoint string

	mu      sync.Mutex
	backlog [][]byte
	dropped int
}

// NewWebhook posts to endpoint with client (confighttp's ToClient).
func NewWebhook(client *http.Client, endpoint string) *Webhook {
	return &Webhook{client: client, endpoint: endpoint}
}

// Deliver queues the digest and sends the backlog in order, stopping at the first failure.
func (w *Webhook) Deliver(ctx context.Context, _ string, _ uint64, digest []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.backlog = append(w.backlog, digest)
	if over := len(w.backlog) - webhookBacklog; over > 0 {
		w.backlog = w.backlog[over:]
		w.dropped += over
	}
	for len(w.backlog) > 0 {
		if err := w.post(ctx, w.backlog[0]); err != nil {
			return fmt.Errorf("digest webhook: %d digests waiting (%d dropped since start): %w", len(w.backlog), w.dropped, err)
		}
		w.backlog = w.backlog[1:]
	}
	return nil
}

func (w *Webhook) post(ctx context.Context, digest []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.endpoint, bytes.NewReader(digest))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", w.endpoint, resp.Status)
	}
	return nil
}
