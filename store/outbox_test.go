package store

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"linkctl/callflow"
	"linkctl/config"
)

// fault is how the test ticket system misbehaves on a key's first attempts.
type fault int

const (
	faultNone    fault = iota
	fault5xx           // answers 503
	faultTimeout       // applies the document, then answers too late
	faultReset         // closes the connection without an answer
	fault4xx           // answers 400 (never succeeds)
)

func (f fault) String() string {
	return [...]string{"none", "5xx", "timeout", "reset", "4xx"}[f]
}

// ticketSink is a real HTTP ticket system on loopback that checks signatures
// and applies each Idempotency-Key once, like a well-behaved receiver.
type ticketSink struct {
	t        *testing.T
	secret   []byte
	fault    fault
	failures int // per key

	mu       sync.Mutex
	down     bool
	attempts map[string]int    // key -> requests seen
	bodies   map[string]string // key -> first body
	applied  map[string]int    // key -> times the effect was applied (must be 1)
	docs     map[string]Envelope
	order    []string // keys in the order first applied
	badSig   int
	changed  int // retries whose body differed from the first
}

func newTicketSink(t *testing.T, secret string, f fault, failures int) (*ticketSink, *httptest.Server) {
	k := &ticketSink{t: t, secret: []byte(secret), fault: f, failures: failures,
		attempts: map[string]int{}, bodies: map[string]string{}, applied: map[string]int{}, docs: map[string]Envelope{}}
	srv := httptest.NewServer(k)
	t.Cleanup(srv.Close)
	return k, srv
}

func (k *ticketSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Header.Get("Idempotency-Key")
	k.mu.Lock()
	if k.down {
		k.mu.Unlock()
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	if !VerifySignature(k.secret, body, r.Header.Get("X-Linkage-Signature")) {
		k.badSig++
		k.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	k.attempts[key]++
	n := k.attempts[key]
	if first, ok := k.bodies[key]; !ok {
		k.bodies[key] = string(body)
	} else if first != string(body) {
		k.changed++
	}
	failing := n <= k.failures || k.fault == fault4xx
	if failing && k.fault == fault5xx {
		k.mu.Unlock()
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if failing && k.fault == fault4xx {
		k.mu.Unlock()
		http.Error(w, "schema rejected", http.StatusBadRequest)
		return
	}
	if failing && k.fault == faultReset {
		k.mu.Unlock()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	k.applyLocked(key, body)
	k.mu.Unlock()
	if failing && k.fault == faultTimeout {
		select { // the effect happened, but the answer comes too late
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (k *ticketSink) applyLocked(key string, body []byte) {
	if k.applied[key] > 0 {
		return // duplicate: idempotent receiver ignores it
	}
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		k.t.Errorf("sink: bad JSON: %v", err)
	}
	k.applied[key]++
	k.docs[key] = env
	k.order = append(k.order, key)
}

func (k *ticketSink) setDown(v bool) {
	k.mu.Lock()
	k.down = v
	k.mu.Unlock()
}

func (k *ticketSink) appliedKeys() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.order...)
}

func sinkCfg(platform, url, secret string, timeout time.Duration) config.TicketSystemConfig {
	return config.TicketSystemConfig{Name: platform, Platform: platform, URL: url, Secret: secret, Timeout: config.Duration(timeout)}
}

func waitDeliveries(t *testing.T, s *Store, kind, id string, want int, state DeliveryState) []Delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ds, err := s.Deliveries(context.Background(), kind, id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, d := range ds {
			if d.State == state {
				n++
			}
		}
		if n >= want {
			return ds
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: %d deliveries %v after 10s, want %d: %+v", kind, id, n, state, want, ds)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOutboxRetriesFaultsExactlyOnce(t *testing.T) {
	const failures = 2
	for _, b := range backends(t) {
		for _, f := range []fault{faultNone, fault5xx, faultTimeout, faultReset} {
			t.Run(b.name+"/"+f.String(), func(t *testing.T) {
				sink, srv := newTicketSink(t, "s3cret-110", f, failures)
				cfg := b.cfg(t)
				cfg.TicketSystems = []config.TicketSystemConfig{sinkCfg("110", srv.URL, "s3cret-110", 150*time.Millisecond)}
				s := openStore(t, cfg, nil)
				defer s.Close()
				ctx := context.Background()

				// An unfinished version is stored but not sent; the finished one is.
				s.SaveCall(transferredCall("C-1", 1, false))
				s.SaveCall(transferredCall("C-2", 5, true))
				flush(t, s)
				p, err := s.CreatePush(ctx, Push{Direction: callflow.Dir12345To110, Category: "社会治安类/盗砸抢骗",
					Summary: "网上举报：小区车辆被砸", Ticket12345: "GD-9"})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.UpdatePush(ctx, p.ID, PushUpdate{Status: PushAccepted, Ticket: "JQ-9"}); err != nil {
					t.Fatal(err)
				}
				waitDeliveries(t, s, "call", "C-2", 1, DeliveryDelivered)
				pds := waitDeliveries(t, s, "push", p.ID, 2, DeliveryDelivered)

				want := []string{CallIdempotencyKey("C-2", 5), PushIdempotencyKey(p.ID, 1), PushIdempotencyKey(p.ID, 2)}
				time.Sleep(100 * time.Millisecond) // nothing more may arrive after delivery
				got := sink.appliedKeys()
				if len(got) != len(want) {
					t.Fatalf("applied %v, want %v", got, want)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("applied in order %v, want %v", got, want)
					}
				}
				sink.mu.Lock()
				defer sink.mu.Unlock()
				if sink.badSig != 0 || sink.changed != 0 {
					t.Fatalf("bad signatures %d, retries with a different body %d", sink.badSig, sink.changed)
				}
				wantAttempts := 1
				if f != faultNone {
					wantAttempts = failures + 1
				}
				for _, k := range want {
					if sink.attempts[k] != wantAttempts || sink.applied[k] != 1 {
						t.Fatalf("%s: %d attempts, applied %d; want %d attempts, applied once", k, sink.attempts[k], sink.applied[k], wantAttempts)
					}
				}
				// net/http itself re-sends a request that carries an Idempotency-Key
				// once when a reused connection breaks, so the outbox may count fewer
				// attempts than the sink saw; the sink counts above are exact.
				minAttempts := wantAttempts
				if f == faultReset {
					minAttempts = 1
				}
				if pds[0].Attempts < minAttempts || pds[0].Attempts > wantAttempts || pds[0].LastStatus != http.StatusCreated || pds[0].Done == nil {
					t.Fatalf("delivery state %+v, want %d attempts, status 201", pds[0], wantAttempts)
				}
				if ds, _ := s.Deliveries(ctx, "call", "C-1"); len(ds) != 0 {
					t.Fatalf("unfinished call queued: %+v", ds)
				}
				if env := sink.docs[want[2]]; env.Event != "push.accepted" || env.Schema != Schema || string(env.Push["ticket_110"]) != `"JQ-9"` {
					t.Fatalf("push.accepted document: %+v", env)
				}
			})
		}
	}
}

func TestOutbox4xxFailsAndQueueMovesOn(t *testing.T) {
	sink, srv := newTicketSink(t, "k", fault4xx, 0)
	ok, okSrv := newTicketSink(t, "k", faultNone, 0)
	cfg := sqliteCfg(t)
	cfg.TicketSystems = []config.TicketSystemConfig{
		{Name: "bad", Platform: "110", URL: srv.URL, Secret: "k", Timeout: config.Duration(time.Second)},
		{Name: "good", Platform: "110", URL: okSrv.URL, Secret: "k", Timeout: config.Duration(time.Second)},
	}
	s := openStore(t, cfg, nil)
	defer s.Close()
	s.SaveCall(transferredCall("C-1", 1, true))
	s.SaveCall(transferredCall("C-2", 1, true))
	waitDeliveries(t, s, "call", "C-2", 1, DeliveryFailed)
	ds := waitDeliveries(t, s, "call", "C-1", 1, DeliveryFailed)
	for _, d := range ds {
		switch d.System {
		case "bad":
			if d.State != DeliveryFailed || d.Attempts != 1 || d.LastStatus != 400 || d.LastError == "" {
				t.Fatalf("bad sink delivery %+v, want failed after 1 attempt with HTTP 400 reason", d)
			}
		case "good":
			waitDeliveries(t, s, "call", "C-1", 1, DeliveryDelivered)
		}
	}
	waitDeliveries(t, s, "call", "C-2", 1, DeliveryDelivered)
	time.Sleep(50 * time.Millisecond)
	sink.mu.Lock()
	refusedAttempts := sink.attempts[CallIdempotencyKey("C-1", 1)]
	sink.fault = faultNone // the ticket system gets fixed
	sink.mu.Unlock()
	if refusedAttempts != 1 {
		t.Fatalf("a refused document was retried: %d attempts", refusedAttempts)
	}
	if len(ok.appliedKeys()) != 2 {
		t.Fatalf("good sink got %v", ok.appliedKeys())
	}

	// An admin re-queues the failed delivery: same key, delivered on attempt 2.
	var failed Delivery
	for _, d := range ds {
		if d.System == "bad" {
			failed = d
		}
	}
	if err := s.RetryDelivery(context.Background(), failed.Seq); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		ds, _ := s.Deliveries(context.Background(), "call", "C-1")
		for _, d := range ds {
			if d.Seq == failed.Seq {
				return d.State == DeliveryDelivered && d.Attempts == 2
			}
		}
		return false
	})
	if got := sink.appliedKeys(); len(got) != 1 || got[0] != CallIdempotencyKey("C-1", 1) {
		t.Fatalf("fixed sink applied %v, want the re-queued C-1 only", got)
	}
	if err := s.RetryDelivery(context.Background(), failed.Seq); !errors.Is(err, ErrInvalid) {
		t.Fatalf("retrying a delivered document: %v, want ErrInvalid", err)
	}
	if err := s.RetryDelivery(context.Background(), 99999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown delivery: %v, want ErrNotFound", err)
	}
}

func TestOutboxSurvivesRestartWhileSinkDown(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			sink, srv := newTicketSink(t, "k12345", faultNone, 0)
			sink.setDown(true)
			cfg := b.cfg(t)
			cfg.TicketSystems = []config.TicketSystemConfig{sinkCfg("12345", srv.URL, "k12345", time.Second)}
			s := openStore(t, cfg, nil)
			s.SaveCall(transferredCall("C-1", 2, true))
			s.SaveCall(transferredCall("C-2", 3, true))
			flush(t, s)
			p, err := s.CreatePush(context.Background(), Push{Direction: callflow.Dir110To12345, Category: "城市管理类/犬类管理", Summary: "犬只扰民", Ticket110: "JQ-1"})
			if err != nil {
				t.Fatal(err)
			}
			// Retries happen while the sink is down.
			deadline := time.Now().Add(5 * time.Second)
			for {
				ds, _ := s.Deliveries(context.Background(), "call", "C-1")
				if len(ds) == 1 && ds[0].Attempts >= 2 && ds[0].State == DeliveryPending && ds[0].LastStatus == 503 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no retries while down: %+v", ds)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			sink.setDown(false)
			s2 := openStore(t, cfg, nil)
			defer s2.Close()
			waitDeliveries(t, s2, "call", "C-1", 1, DeliveryDelivered)
			waitDeliveries(t, s2, "call", "C-2", 1, DeliveryDelivered)
			waitDeliveries(t, s2, "push", p.ID, 1, DeliveryDelivered)
			time.Sleep(50 * time.Millisecond)
			got := sink.appliedKeys()
			if len(got) != 3 {
				t.Fatalf("after restart the sink applied %v, want the 3 queued documents once each", got)
			}
		})
	}
}

func TestNewerVersionSupersedesUndelivered(t *testing.T) {
	sink, srv := newTicketSink(t, "k", faultNone, 0)
	sink.setDown(true)
	cfg := sqliteCfg(t)
	cfg.TicketSystems = []config.TicketSystemConfig{sinkCfg("110", srv.URL, "k", time.Second)}
	cfg.Outbox.BackoffMin = config.Duration(time.Hour) // v5 is tried once, then waits
	cfg.Outbox.BackoffMax = cfg.Outbox.BackoffMin
	s := openStore(t, cfg, nil)
	defer s.Close()
	s.SaveCall(transferredCall("C-1", 5, true))
	flush(t, s)
	waitFor(t, func() bool {
		ds, _ := s.Deliveries(context.Background(), "call", "C-1")
		return len(ds) == 1 && ds[0].Attempts == 1
	})
	sink.setDown(false)
	upd := transferredCall("C-1", 6, true)
	upd.Ticket110 = "JQ-new"
	s.SaveCall(upd)
	ds := waitDeliveries(t, s, "call", "C-1", 1, DeliveryDelivered)
	if len(ds) != 2 || ds[0].State != DeliverySuperseded || ds[1].IdempotencyKey != CallIdempotencyKey("C-1", 6) {
		t.Fatalf("deliveries %+v, want v5 superseded and v6 delivered", ds)
	}
	if got := sink.appliedKeys(); len(got) != 1 || got[0] != CallIdempotencyKey("C-1", 6) {
		t.Fatalf("sink applied %v, want only v6", got)
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	tests := []struct {
		attempt int
		base    time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {4, 800 * time.Millisecond}, {6, 2 * time.Second}, {40, 2 * time.Second}}
	for _, tc := range tests {
		for i := 0; i < 50; i++ {
			d := backoff(lo, hi, tc.attempt)
			if d < tc.base*8/10 || d > tc.base*12/10 {
				t.Fatalf("attempt %d: %v outside %v ±20%%", tc.attempt, d, tc.base)
			}
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		status int
		err    bool
		want   outcome
	}{
		{200, false, outcomeDelivered}, {201, false, outcomeDelivered}, {204, false, outcomeDelivered},
		{0, true, outcomeRetry}, {408, true, outcomeRetry}, {429, true, outcomeRetry},
		{500, true, outcomeRetry}, {502, true, outcomeRetry}, {503, true, outcomeRetry},
		{400, true, outcomeFailed}, {401, true, outcomeFailed}, {404, true, outcomeFailed},
		{409, true, outcomeFailed}, {302, true, outcomeFailed},
	}
	for _, tc := range tests {
		var err error
		if tc.err {
			err = io.ErrUnexpectedEOF
		}
		if got := classify(tc.status, err); got != tc.want {
			t.Errorf("classify(%d) = %v, want %v", tc.status, got, tc.want)
		}
	}
}
