package trace

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Pace says when the replay server pushes an event.
type Pace int

const (
	// PaceRequests releases an event once every mutating request recorded
	// before it has been made: the controller's own actions drive the replay.
	PaceRequests Pace = iota
	// PaceFree pushes every event of a session as soon as the session starts.
	PaceFree
)

func (p Pace) String() string {
	switch p {
	case PaceRequests:
		return "requests"
	case PaceFree:
		return "free"
	default:
		return fmt.Sprintf("Pace(%d)", int(p))
	}
}

// MissKind says how a replay deviated from the recording.
type MissKind int

const (
	// MissRequest is a request that matches no recorded exchange (answered 500).
	MissRequest MissKind = iota + 1
	// MissGate is an event released by GateTimeout because a request recorded
	// before it was never made.
	MissGate
	// MissAuth is a request with wrong or missing credentials (answered 401).
	MissAuth
)

func (k MissKind) String() string {
	switch k {
	case MissRequest:
		return "unrecorded-request"
	case MissGate:
		return "gate-timeout"
	case MissAuth:
		return "auth"
	default:
		return fmt.Sprintf("MissKind(%d)", int(k))
	}
}

// Miss is one deviation from the recording.
type Miss struct {
	Kind   MissKind
	Method string
	Path   string
	Detail string
}

func (m Miss) String() string { return fmt.Sprintf("%s %s %s: %s", m.Kind, m.Method, m.Path, m.Detail) }

// Options tune a replay Server. The zero value is usable.
type Options struct {
	// Username/Password for basic auth; default linkctl / linkctl-secret (the traces' setup).
	Username, Password string
	// Pace: default PaceRequests.
	Pace Pace
	// GateTimeout bounds how long an event waits for the requests recorded
	// before it (default 2 s); then it is pushed anyway and a MissGate noted.
	GateTimeout time.Duration
	// StrictQuery requires the query string to match (modulo ids); by
	// default a request matching on method and path takes the first
	// unserved recorded exchange, preferring one whose query also matches.
	StrictQuery bool
	// AutoStart pushes the first session's events as soon as the websocket
	// connects; by default they wait for Start, so the client can subscribe first.
	AutoStart bool
	// KeepConnection keeps the websocket open where the recording closed
	// it; by default the server drops it there when a later session
	// follows (t13), so the client has to reconnect.
	KeepConnection bool
	// Logger receives replay progress; nil means no logging.
	Logger *zap.Logger
}

// session is the events delivered on one websocket connection.
type session struct {
	events []int     // indexes into Trace.events
	closed time.Time // recorded client close (zero: none)
}

// Server is a loopback ARI server replaying one trace.
type Server struct {
	tr   *Trace
	opts Options
	log  *zap.Logger
	hs   *httptest.Server

	known    map[string]bool
	sessions []session
	reqIdx   []int // exchanges a client may request (not upgrade/close), file order

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every state change
	served    []bool        // by exchange index
	waived    []bool        // recorded requests a gate stopped waiting for
	pushed    []bool        // by event index
	requests  []Request
	lastGET   map[string]int
	alias     map[string]string // recorded id -> client id
	reverse   map[string]string // client id -> recorded id
	misses    []Miss
	sent      []Event
	conns     int
	started   bool
	done      chan struct{}
	doneOnce  sync.Once
	closeOnce sync.Once
	stop      chan struct{}
}

// NewServer starts a replay ARI server for tr on 127.0.0.1 (random port).
func NewServer(tr *Trace, opts Options) *Server {
	if opts.Username == "" {
		opts.Username = "linkctl"
	}
	if opts.Password == "" {
		opts.Password = "linkctl-secret"
	}
	if opts.GateTimeout <= 0 {
		opts.GateTimeout = 2 * time.Second
	}
	s := &Server{
		tr: tr, opts: opts, log: opts.Logger,
		known:   tr.knownIDs(),
		changed: make(chan struct{}),
		served:  make([]bool, len(tr.exchanges)),
		waived:  make([]bool, len(tr.exchanges)),
		pushed:  make([]bool, len(tr.events)),
		lastGET: map[string]int{},
		alias:   map[string]string{},
		reverse: map[string]string{},
		done:    make(chan struct{}),
		stop:    make(chan struct{}),
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.log = s.log.With(zap.String("trace", tr.Name))
	s.buildSessions()
	for i, x := range tr.exchanges {
		if !x.IsUpgrade() && !x.IsClose() {
			s.reqIdx = append(s.reqIdx, i)
		}
	}
	if s.totalEvents() == 0 {
		s.doneOnce.Do(func() { close(s.done) })
	}
	mux := http.NewServeMux()
	mux.Handle("/ari/events", s.auth(http.HandlerFunc(s.serveEvents)))
	mux.Handle("/", s.auth(http.HandlerFunc(s.serveREST)))
	s.hs = httptest.NewServer(mux)
	return s
}

func (s *Server) buildSessions() {
	var ups []Exchange
	var closes []Exchange
	for _, x := range s.tr.exchanges {
		switch {
		case x.IsUpgrade():
			ups = append(ups, x)
		case x.IsClose():
			closes = append(closes, x)
		}
	}
	sort.SliceStable(ups, func(i, j int) bool { return ups[i].At.Before(ups[j].At) })
	sort.SliceStable(closes, func(i, j int) bool { return closes[i].At.Before(closes[j].At) })
	n := len(ups)
	if n == 0 {
		n = 1
	}
	s.sessions = make([]session, n)
	for i := range s.sessions {
		if i < len(closes) {
			s.sessions[i].closed = closes[i].At
		}
	}
	for ei, ev := range s.tr.events {
		k := 0
		for i := range ups {
			if !ups[i].At.After(ev.At) {
				k = i
			}
		}
		s.sessions[k].events = append(s.sessions[k].events, ei)
	}
}

func (s *Server) totalEvents() int { return len(s.tr.events) }

// URL is the ARI base URL, e.g. http://127.0.0.1:41234/ari.
func (s *Server) URL() string { return s.hs.URL + "/ari" }

// WebsocketURL is the event websocket URL without query, e.g. ws://127.0.0.1:41234/ari/events.
func (s *Server) WebsocketURL() string {
	return "ws" + strings.TrimPrefix(s.hs.URL, "http") + "/ari/events"
}

// Start releases the first session's events (see Options.AutoStart).
func (s *Server) Start() {
	s.mu.Lock()
	s.started = true
	s.notifyLocked()
	s.mu.Unlock()
}

// Done is closed when every recorded event has been pushed.
func (s *Server) Done() <-chan struct{} { return s.done }

// Close stops the server and drops every connection.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.hs.CloseClientConnections()
		s.hs.Close()
	})
}

// Misses lists every deviation from the recording so far.
func (s *Server) Misses() []Miss {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Miss(nil), s.misses...)
}

// Sent lists the events pushed so far (with ids as the client knows them).
func (s *Server) Sent() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.sent...)
}

// Pending lists the recorded mutating requests not made yet.
func (s *Server) Pending() []Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Exchange
	for _, i := range s.reqIdx {
		if !s.served[i] && s.tr.exchanges[i].Mutating() {
			out = append(out, s.tr.exchanges[i])
		}
	}
	return out
}

// Connections is how many event websockets have connected so far.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Release stops waiting for the recorded requests not made yet: the
// remaining events are pushed at once. Use it when the client under test
// legitimately acts differently from the recording (the recorded app hung
// up a leg that the controller keeps).
func (s *Server) Release() {
	s.mu.Lock()
	for _, i := range s.reqIdx {
		if !s.served[i] {
			s.waived[i] = true
		}
	}
	s.notifyLocked()
	s.mu.Unlock()
}

// Request is one request the client made and how it was answered.
type Request struct {
	Method, Path string
	Status       int
	// Line is the recorded exchange that answered it (0: none).
	Line int
}

// Requests lists every request made so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Alias returns the id the client used for a recorded id (the recorded id
// itself when the client has not named it differently).
func (s *Server) Alias(recorded string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.alias[recorded]; ok {
		return a
	}
	return recorded
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) missLocked(m Miss) {
	s.misses = append(s.misses, m)
	s.log.Warn("replay deviation", zap.Stringer("kind", m.Kind), zap.String("method", m.Method),
		zap.String("path", m.Path), zap.String("detail", m.Detail))
}

func (s *Server) auth(next http.Handler) http.Handler {
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(s.opts.Username+":"+s.opts.Password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != want {
			// Asterisk also accepts api_key=user:pass in the query.
			if r.URL.Query().Get("api_key") != s.opts.Username+":"+s.opts.Password {
				s.mu.Lock()
				s.missLocked(Miss{Kind: MissAuth, Method: r.Method, Path: r.URL.RequestURI(), Detail: "bad credentials"})
				s.mu.Unlock()
				writeJSON(w, http.StatusUnauthorized, []byte(`{"message":"Authentication required"}`))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// recordingWriter remembers the status written, for Requests.
type recordingWriter struct {
	http.ResponseWriter
	status, line int
}

func (w *recordingWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	if len(body) == 0 {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	rw := &recordingWriter{ResponseWriter: w}
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.RequestURI(), Status: rw.status, Line: rw.line})
		s.mu.Unlock()
	}()
	w = rw
	s.mu.Lock()
	best, bestScore := -1, 0
	var bestBind binding
	for _, i := range s.reqIdx {
		if s.served[i] {
			continue
		}
		sc, b := s.match(s.tr.exchanges[i], r.Method, r.URL)
		if sc > bestScore {
			best, bestScore, bestBind = i, sc, b
		}
		if sc == 2 {
			break
		}
	}
	if best >= 0 && bestScore == 1 && s.opts.StrictQuery {
		best = -1
	}
	key := r.Method + " " + r.URL.Path
	if best >= 0 && r.Method == http.MethodGet && !s.reachedLocked(s.tr.exchanges[best].At) {
		// A GET recorded later than where the replay stands would show
		// channels and bridges from the future (a controller listing them at
		// startup must not see the call it is about to receive). Answer with
		// the state last seen, or an empty list before anything happened.
		if i, ok := s.lastGET[key]; ok {
			best = i
		} else if isListPath(r.URL.Path) {
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, []byte("[]"))
			return
		}
	}
	if best < 0 && r.Method == http.MethodGet && isListPath(r.URL.Path) && len(s.sent) == 0 {
		// Nothing has happened yet: an unrecorded listing (a controller's
		// startup recovery) is empty.
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, []byte("[]"))
		return
	}
	if best < 0 && r.Method == http.MethodGet {
		// A repeated GET (polling, the ari client's info call on every
		// reconnect) gets the last answer it had.
		if i, ok := s.lastGET[key]; ok {
			best = i
		} else if r.URL.Path == "/ari/asterisk/info" {
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, []byte(`{"system":{"version":"22.11.0-rc1","entity_id":"02:fc:00:00:00:01"},"config":{"name":"linkctl-pbx"}}`))
			return
		}
	}
	if best < 0 {
		s.missLocked(Miss{Kind: MissRequest, Method: r.Method, Path: r.URL.RequestURI(), Detail: "no recorded exchange"})
		s.mu.Unlock()
		writeJSON(w, http.StatusInternalServerError, []byte(`{"message":"replay: request not in the recording"}`))
		return
	}
	for rec, got := range bestBind {
		s.alias[rec] = got
		s.reverse[got] = rec
	}
	x := s.tr.exchanges[best]
	s.bindCreatedID(r, x)
	s.served[best] = true
	if r.Method == http.MethodGet {
		s.lastGET[key] = best
	}
	body := s.rewrite(append([]byte(nil), x.Response...))
	s.notifyLocked()
	s.mu.Unlock()
	s.log.Debug("replay request", zap.String("method", r.Method), zap.String("path", r.URL.RequestURI()),
		zap.Int("status", x.Status), zap.Int("line", x.Line))
	rw.line = x.Line
	writeJSON(w, x.Status, body)
}
