package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"linkctl/callflow"
	"linkctl/config"
)

// sinkWorker delivers one ticket system's queue, oldest first. Delivery is
// strictly in order per system: while the oldest document waits for a retry,
// newer ones wait behind it, so a ticket system never sees a push's
// "feedback" before its "created".
type sinkWorker struct {
	s        *Store
	name     string
	platform callflow.Platform
	endpoint string
	secret   []byte
	timeout  time.Duration
	client   *http.Client
	wake     chan struct{}
	log      *zap.Logger
}

func newSinkWorker(s *Store, ts config.TicketSystemConfig) *sinkWorker {
	name := ts.Name
	if name == "" {
		name = ts.Platform
	}
	timeout := ts.Timeout.D()
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	host := ts.URL
	if u, err := url.Parse(ts.URL); err == nil {
		host = u.Host // the URL may carry a token in its query: log only the host
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	return &sinkWorker{
		s:        s,
		name:     name,
		platform: callflow.Platform(ts.Platform),
		endpoint: ts.URL,
		secret:   []byte(ts.SecretValue()),
		timeout:  timeout,
		client: &http.Client{
			Transport: tr,
			// A redirect is not a delivery: report the 3xx instead of re-POSTing elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		wake: make(chan struct{}, 1),
		log:  s.log.With(zap.String("ticket_system", name), zap.String("sink_host", host)),
	}
}

// row is one pending document.
type row struct {
	seq      int64
	kind     string
	itemID   string
	event    string
	key      string
	body     []byte
	attempts int
	nextMs   int64
}

func (w *sinkWorker) run() {
	defer w.s.wg.Done()
	defer w.client.CloseIdleConnections()
	poll := w.s.cfg.Outbox.Poll.D()
	if poll <= 0 {
		poll = time.Second
	}
	for {
		wait := w.pass(w.s.ctx)
		if w.s.ctx.Err() != nil {
			return
		}
		if wait <= 0 || wait > poll {
			wait = poll
		}
		t := time.NewTimer(wait)
		select {
		case <-w.s.ctx.Done():
			t.Stop()
			return
		case <-w.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// pass delivers due documents in order until the queue is empty or the head
// must wait; it returns how long until the head is due (0: nothing pending).
func (w *sinkWorker) pass(ctx context.Context) time.Duration {
	for ctx.Err() == nil {
		rows, err := w.load(ctx)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Error("outbox read failed", zap.Error(err))
			}
			return time.Second
		}
		if len(rows) == 0 {
			return 0
		}
		for _, r := range rows {
			now := w.s.now().UnixMilli()
			if r.nextMs > now {
				return time.Duration(r.nextMs-now) * time.Millisecond
			}
			if !w.deliverOne(ctx, r) {
				return time.Millisecond // re-read the head's new next attempt
			}
		}
	}
	return 0
}

func (w *sinkWorker) load(ctx context.Context) ([]row, error) {
	batch := w.s.cfg.Outbox.Batch
	if batch <= 0 {
		batch = 32
	}
	rs, err := w.s.db.QueryContext(ctx, w.s.d.rebind(`SELECT seq, kind, item_id, event, idem_key, body, attempts, next_ms
		FROM outbox WHERE system = ? AND state = ? ORDER BY seq LIMIT ?`), w.name, DeliveryPending.String(), batch)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		var body string
		if err := rs.Scan(&r.seq, &r.kind, &r.itemID, &r.event, &r.key, &body, &r.attempts, &r.nextMs); err != nil {
			return nil, err
		}
		r.body = []byte(body)
		out = append(out, r)
	}
	return out, rs.Err()
}

// outcome classifies one attempt.
type outcome int

const (
	outcomeDelivered outcome = iota + 1
	outcomeRetry
	outcomeFailed
)

func (o outcome) String() string {
	switch o {
	case outcomeDelivered:
		return "delivered"
	case outcomeRetry:
		return "retry"
	case outcomeFailed:
		return "failed"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// deliverOne makes one attempt and records its result; it reports whether
// the queue may move on (delivered or failed for good).
func (w *sinkWorker) deliverOne(ctx context.Context, r row) bool {
	status, retryAfter, err := w.post(ctx, r)
	res := classify(status, err)
	if ctx.Err() != nil && res != outcomeDelivered {
		return false // shutting down: the row stays pending, untouched
	}
	attempts := r.attempts + 1
	now := w.s.now()
	log := w.log.With(zap.String("kind", r.kind), zap.String("item_id", r.itemID), zap.String("event", r.event),
		zap.String("idempotency_key", r.key), zap.Int("attempt", attempts), zap.Int("status", status))
	var (
		q    string
		args []any
	)
	reason := ""
	if err != nil {
		reason = err.Error()
	} else if res != outcomeDelivered {
		reason = fmt.Sprintf("HTTP %d", status)
	}
	switch res {
	case outcomeDelivered:
		q = `UPDATE outbox SET state = ?, attempts = ?, last_status = ?, last_error = '', done_ms = ? WHERE seq = ?`
		args = []any{DeliveryDelivered.String(), attempts, status, now.UnixMilli(), r.seq}
		log.Debug("delivered")
	case outcomeFailed:
		q = `UPDATE outbox SET state = ?, attempts = ?, last_status = ?, last_error = ?, done_ms = ? WHERE seq = ?`
		args = []any{DeliveryFailed.String(), attempts, status, reason, now.UnixMilli(), r.seq}
		log.Error("ticket system refused document; not retried", zap.String("reason", reason))
	default:
		delay := backoff(w.s.cfg.Outbox.BackoffMin.D(), w.s.cfg.Outbox.BackoffMax.D(), attempts)
		if retryAfter > delay {
			delay = min(retryAfter, w.s.cfg.Outbox.BackoffMax.D())
		}
		q = `UPDATE outbox SET attempts = ?, last_status = ?, last_error = ?, next_ms = ? WHERE seq = ?`
		args = []any{attempts, status, reason, now.Add(delay).UnixMilli(), r.seq}
		lvl := log.Warn
		if attempts%10 == 0 {
			lvl = log.Error // a long outage gets loud
		}
		lvl("delivery failed; will retry", zap.String("reason", reason), zap.Duration("retry_in", delay))
	}
	if _, err := w.s.db.ExecContext(context.WithoutCancel(ctx), w.s.d.rebind(q), args...); err != nil {
		log.Error("outbox update failed", zap.Error(err))
		return false
	}
	return res != outcomeRetry
}

// post sends one document; status is 0 when no HTTP answer came back.
func (w *sinkWorker) post(ctx context.Context, r row) (status int, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.endpoint, bytes.NewReader(r.body))
	if err != nil {
		return 0, 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "linkctl")
	req.Header.Set("Idempotency-Key", r.key)
	req.Header.Set("X-Linkage-Event", r.event)
	req.Header.Set("X-Linkage-Signature", Sign(w.secret, r.body))
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("post %s: %w", r.event, scrubURL(err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(snippet)))
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, perr := strconv.Atoi(s); perr == nil && n > 0 {
			retryAfter = time.Duration(n) * time.Second
		}
	}
	return resp.StatusCode, retryAfter, err
}

// scrubURL drops the URL (which may carry a token) from a client error.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// classify maps an attempt to its outcome: 2xx delivered; 408, 429, 5xx and
// transport errors (timeout, reset, refused) retried; any other answer failed.
func classify(status int, err error) outcome {
	switch {
	case status >= 200 && status < 300:
		return outcomeDelivered
	case status == 0 && err != nil:
		return outcomeRetry
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return outcomeRetry
	}
	return outcomeFailed
}

// backoff is min·2^(attempt-1), capped at max, with ±20% jitter.
func backoff(lo, hi time.Duration, attempt int) time.Duration {
	if lo <= 0 {
		lo = time.Second
	}
	if hi < lo {
		hi = lo
	}
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
