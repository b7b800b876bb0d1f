package trace

// Pushing the recorded events on the event websocket, each when its gate opens.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/websocket"
)

// reachedLocked reports whether the replay has got to time at: every event
// recorded before it has been pushed and every mutating request recorded
// before it has been made (or given up on).
func (s *Server) reachedLocked(at time.Time) bool {
	for i, ev := range s.tr.events {
		if ev.At.Before(at) && !s.pushed[i] {
			return false
		}
	}
	for _, i := range s.reqIdx {
		x := s.tr.exchanges[i]
		if x.Mutating() && x.At.Before(at) && !s.served[i] && !s.waived[i] {
			return false
		}
	}
	return true
}

func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("app") == "" {
		writeJSON(w, http.StatusBadRequest, []byte(`{"message":"Invalid application provided in param [app]."}`))
		return
	}
	srv := websocket.Server{
		// Asterisk does not check the Origin header; neither do we.
		Handshake: func(*websocket.Config, *http.Request) error { return nil },
		Handler:   s.pushSession,
	}
	srv.ServeHTTP(w, r)
}

// pushSession runs one websocket connection: it pushes that connection's
// session events in order, each once its gate opens.
func (s *Server) pushSession(ws *websocket.Conn) {
	defer ws.Close()
	s.mu.Lock()
	k := s.conns
	s.conns++
	if k == 0 && s.opts.AutoStart {
		s.started = true
	}
	s.mu.Unlock()
	log := s.log.With(zap.Int("session", k))
	// Read (and discard) client frames so a client close is noticed.
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		var msg []byte
		for websocket.Message.Receive(ws, &msg) == nil {
		}
	}()
	if k >= len(s.sessions) {
		log.Debug("connection beyond the recorded sessions: no events")
		s.wait(gone)
		return
	}
	sess := s.sessions[k]
	for _, ei := range sess.events {
		ev := s.tr.events[ei]
		if !s.gate(ev.At, &ev, k == 0, gone, fmt.Sprintf("event %s line %d", ev.Type, ev.Line)) {
			return
		}
		s.mu.Lock()
		raw := s.rewrite(append([]byte(nil), ev.Raw...))
		sent := ev
		sent.Raw = raw
		if a, ok := s.alias[ev.Channel]; ok {
			sent.Channel = a
		}
		if a, ok := s.alias[ev.Bridge]; ok {
			sent.Bridge = a
		}
		s.mu.Unlock()
		if err := websocket.Message.Send(ws, string(raw)); err != nil {
			log.Warn("push event failed", zap.String("type", ev.Type), zap.Error(err))
			return
		}
		s.mu.Lock()
		s.sent = append(s.sent, sent)
		s.pushed[ei] = true
		s.notifyLocked()
		if len(s.sent) == s.totalEvents() {
			s.doneOnce.Do(func() { close(s.done) })
		}
		s.mu.Unlock()
	}
	if k+1 < len(s.sessions) && !sess.closed.IsZero() && !s.opts.KeepConnection {
		// Close where the recording closed, once the requests made before
		// that moment have been made.
		if s.gate(sess.closed, nil, false, gone, "websocket close") {
			log.Debug("closing websocket as recorded")
		}
		return
	}
	s.wait(gone)
}

func (s *Server) wait(gone <-chan struct{}) {
	select {
	case <-gone:
	case <-s.stop:
	}
}

// causedAtTie decides, for a request and an event recorded in the same
// millisecond, whether the request caused the event (so the event must wait
// for it). Asterisk answers a request within the millisecond, so an event
// about a resource the request names is its consequence (DELETE -> its
// ChannelVarset/HangupRequest, answer -> ChannelStateChange); events that
// start something (StasisStart, DTMF, Dial progress of a new leg) are never
// a request's consequence, else a client reacting to them within the same
// millisecond would wait on itself.
func causedAtTie(x Exchange, ev *Event) bool {
	if ev == nil {
		return true
	}
	switch ev.Type {
	case "StasisStart", "ChannelDtmfReceived":
		return false
	case "Dial":
		if x.Method != "DELETE" {
			return false
		}
	}
	named := map[string]bool{}
	collectPathIDs(x.Path, named)
	var resp struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(x.Response, &resp) == nil && resp.ID != "" {
		named[resp.ID] = true
	}
	return (ev.Channel != "" && named[ev.Channel]) || (ev.Bridge != "" && named[ev.Bridge])
}

// gate blocks until the step at time at may happen: the session is started
// and (PaceRequests) every mutating request recorded before at (or at the
// same millisecond, when it caused ev) was served,
// or GateTimeout passed. It returns false if the connection or server ended.
func (s *Server) gate(at time.Time, ev *Event, first bool, gone <-chan struct{}, what string) bool {
	var timer <-chan time.Time
	for {
		s.mu.Lock()
		startedOK := !first || s.started
		var blocker *Exchange
		bi := -1
		if startedOK && s.opts.Pace == PaceRequests {
			for _, i := range s.reqIdx {
				x := s.tr.exchanges[i]
				if !s.served[i] && !s.waived[i] && x.Mutating() && (x.At.Before(at) || (x.At.Equal(at) && causedAtTie(x, ev))) {
					blocker, bi = &x, i
					break
				}
			}
		}
		ch := s.changed
		if startedOK && blocker == nil {
			s.mu.Unlock()
			return true
		}
		if startedOK && timer == nil {
			timer = time.After(s.opts.GateTimeout)
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timer:
			s.mu.Lock()
			s.missLocked(Miss{Kind: MissGate, Method: blocker.Method, Path: blocker.Path,
				Detail: "never requested; released " + what})
			s.waived[bi] = true
			s.mu.Unlock()
			timer = nil
		case <-gone:
			return false
		case <-s.stop:
			return false
		}
	}
}
