package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"linkctl/callflow"
	"linkctl/config"
	"linkctl/store"
)

// Options wires the API to the rest of linkctl. Controller and Store may be nil
// (routes that need them then answer 503).
type Options struct {
	Controller Controller
	Store      Store
	// Matters returns the current transfer matters list.
	Matters func() *config.Matters
	// Reload re-reads and validates the matters list; on success the API hands the
	// result to Controller.ReloadMatters.
	Reload func(ctx context.Context) (*config.Matters, error)
	// Ready are the /readyz conditions (ARI connected, store writable, a trunk up).
	Ready []ReadyCheck
	// ReadyTimeout bounds each readiness check (default 2s).
	ReadyTimeout time.Duration
	// Redact returns what a reader on platform may see of v (a callflow.CallRecord
	// or a store.Push): (*store.Store).RedactFor. Nil: records marked Confidential
	// and restricted pushes are hidden from 12345-side readers.
	Redact func(platform callflow.Platform, v any) (store.Document, error)
	// Tokens are the bearer tokens; none means dev mode (loopback = admin).
	Tokens []config.APIToken
	// MaxBodyBytes caps request bodies (default 64 KiB).
	MaxBodyBytes int64
	// SoftkeyTimeout bounds how long a softkey request waits for the controller (default 5s).
	SoftkeyTimeout time.Duration
	// MaxStreams caps concurrent /v1/events streams (default 256); more get 503.
	MaxStreams int
	// Heartbeat is the SSE keep-alive interval (default 15s).
	Heartbeat time.Duration
	Logger    *zap.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

type server struct {
	opt     Options
	auth    *authenticator
	log     *zap.Logger
	mux     *http.ServeMux
	streams atomic.Int64 // open /v1/events streams
}

// route is one registered endpoint; the same table drives registration, access
// control and the OpenAPI test.
type route struct {
	method, path string
	public       bool   // no token needed (health, page, document)
	roles        []Role // allowed besides admin
	whatZh       string // action named in a 403
	whatEn       string
	queryToken   bool // ?access_token= accepted (EventSource cannot send headers)
	handle       func(s *server, w http.ResponseWriter, r *http.Request, p Principal)
}

var (
	readers = []Role{RoleSupervisor}
	anyRole = []Role{RoleAgent, RoleSupervisor}
)

func routes() []route {
	return []route{
		{method: "POST", path: "/v1/calls/{id}/softkeys", roles: []Role{RoleAgent}, whatZh: "操作软按键", whatEn: "press softkeys", handle: (*server).softkey},
		{method: "GET", path: "/v1/calls", roles: readers, whatZh: "查询通话记录", whatEn: "list calls", handle: (*server).listCalls},
		{method: "GET", path: "/v1/calls/{id}", roles: anyRole, whatZh: "查看通话记录", whatEn: "read calls", handle: (*server).getCall},
		{method: "POST", path: "/v1/calls/{id}/tickets", roles: []Role{RoleAgent}, whatZh: "关联工单号", whatEn: "link tickets", handle: (*server).setTicket},
		{method: "GET", path: "/v1/calls/{id}/deliveries", roles: readers, whatZh: "查看工单投递状态", whatEn: "read deliveries", handle: (*server).callDeliveries},
		{method: "GET", path: "/v1/events", roles: readers, queryToken: true, whatZh: "订阅通话事件", whatEn: "subscribe to events", handle: (*server).events},
		{method: "POST", path: "/v1/pushes", roles: []Role{RoleAgent}, whatZh: "发起系统推送", whatEn: "create pushes", handle: (*server).createPush},
		{method: "GET", path: "/v1/pushes", roles: anyRole, whatZh: "查询系统推送", whatEn: "list pushes", handle: (*server).listPushes},
		{method: "GET", path: "/v1/pushes/{id}", roles: anyRole, whatZh: "查看系统推送", whatEn: "read pushes", handle: (*server).getPush},
		{method: "GET", path: "/v1/pushes/{id}/deliveries", roles: readers, whatZh: "查看工单投递状态", whatEn: "read deliveries", handle: (*server).pushDeliveries},
		{method: "POST", path: "/v1/pushes/{id}/feedback", roles: []Role{RoleAgent}, whatZh: "回写推送结果", whatEn: "write push feedback", handle: (*server).pushFeedback},
		{method: "POST", path: "/v1/pushes/{id}/status", roles: []Role{RoleAgent}, whatZh: "变更推送状态", whatEn: "change push status", handle: (*server).pushStatus},
		{method: "GET", path: "/v1/stats/daily", roles: readers, whatZh: "查看每日统计", whatEn: "read daily figures", handle: (*server).dailyStats},
		{method: "GET", path: "/v1/matters", roles: anyRole, whatZh: "查看转办事项清单", whatEn: "read the matters list", handle: (*server).matters},
		{method: "POST", path: "/v1/admin/reload", roles: nil, whatZh: "重新加载配置", whatEn: "reload configuration", handle: (*server).reload},
		{method: "GET", path: "/healthz", public: true, handle: (*server).healthz},
		{method: "GET", path: "/readyz", public: true, handle: (*server).readyz},
		{method: "GET", path: "/openapi.json", public: true, handle: (*server).openapi},
		{method: "GET", path: "/", public: true, handle: (*server).page},
		{method: "GET", path: "/assets/{name}", public: true, handle: (*server).asset},
	}
}

// New builds the HTTP handler of the API.
func New(opt Options) http.Handler {
	if opt.Logger == nil {
		opt.Logger = zap.NewNop()
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 64 << 10
	}
	if opt.Heartbeat <= 0 {
		opt.Heartbeat = 15 * time.Second
	}
	if opt.SoftkeyTimeout <= 0 {
		opt.SoftkeyTimeout = 5 * time.Second
	}
	if opt.MaxStreams <= 0 {
		opt.MaxStreams = 256
	}
	if opt.ReadyTimeout <= 0 {
		opt.ReadyTimeout = 2 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &server{opt: opt, auth: newAuthenticator(opt.Tokens), log: opt.Logger.Named("api"), mux: http.NewServeMux()}
	if s.auth.devMode() {
		s.log.Warn("no API tokens configured: dev mode, loopback requests act as admin and others are refused")
	}
	for _, rt := range routes() {
		pattern := rt.method + " " + rt.path
		if rt.path == "/" {
			pattern += "{$}"
		}
		s.mux.Handle(pattern, s.wrap(rt))
	}
	s.mux.HandleFunc("/", s.noRoute)
	return s.mux
}

// noRoute answers 405 (with Allow) when the path exists under another method, else 404.
func (s *server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, newError(http.StatusMethodNotAllowed, "method_not_allowed", "不支持 "+r.Method+" 方法，可用："+strings.Join(allow, ", "),
			"method "+r.Method+" not allowed on "+r.URL.Path, ""))
		return
	}
	writeError(w, newError(http.StatusNotFound, "no_route", "没有这个接口", "no route "+r.Method+" "+r.URL.Path, ""))
}

// wrap adds access control and one structured log line per request. It never
// logs the Authorization header or the query string (which may carry a token).
func (s *server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		var p Principal
		defer func() {
			s.log.Debug("request", zap.String("method", r.Method), zap.String("path", r.URL.Path),
				zap.Int("status", sw.status), zap.String("token", p.Name), zap.String("role", p.Role.String()),
				zap.Duration("took", time.Since(start)))
		}()
		if !rt.public {
			var ae *apiError
			p, ae = s.auth.authenticate(r, rt.queryToken)
			if ae != nil {
				sw.Header().Set("WWW-Authenticate", `Bearer realm="linkctl"`)
				writeError(sw, ae)
				return
			}
			if !allows(p, rt.roles) {
				writeError(sw, forbidden(p, rt.roles, rt.whatZh, rt.whatEn))
				return
			}
		}
		rt.handle(s, sw, r, p)
	})
}

// fail answers with the mapped error and logs what the client is not told.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error, fields ...zap.Field) {
	e := classify(err)
	if e.Status >= 500 {
		s.log.Error("request failed", append(fields, zap.String("path", r.URL.Path), zap.Error(err))...)
	}
	writeError(w, e)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Serve listens on addr (use loopback unless tokens are configured) and serves h
// until ctx ends, then shuts down within 5 seconds.
func Serve(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("api listen %s: %w", addr, err)
	}
	return ServeListener(ctx, ln, h)
}

// ServeListener is Serve on an existing listener (e.g. port 0 in tests).
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// Long-lived SSE streams end with ctx, so shutdown does not wait on them.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("api serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("api shutdown %s: %w", ln.Addr(), err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api serve %s: %w", ln.Addr(), err)
	}
	return nil
}
