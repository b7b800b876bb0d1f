package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/websocket"

	"linkctl/ari/engine"
)

// Config is the ARI face's configuration.
type Config struct {
	Username, Password string
	// SystemName is config.name in GET /asterisk/info.
	SystemName string
}

// Server is the ARI REST + WebSocket face of an engine.
type Server struct {
	e    *engine.Engine
	cfg  Config
	log  *zap.Logger
	http *http.Server
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New builds the server; Serve starts it on a listener.
func New(e *engine.Engine, cfg Config, log *zap.Logger) *Server {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.SystemName == "" {
		cfg.SystemName = e.Options().SystemName
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{e: e, cfg: cfg, log: log, ctx: ctx, stop: stop}
	s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	return s
}

// Serve answers ARI on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.log.Info("ARI listening", zap.String("addr", ln.Addr().String()))
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("ari server: %w", err)
}

// Close stops the listener and every websocket.
func (s *Server) Close() error {
	s.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	s.wg.Wait()
	return err
}

// Handler is the ARI HTTP handler (for tests with httptest).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, f func(w http.ResponseWriter, r *http.Request, p params)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			p, err := readParams(r)
			if err != nil {
				writeErr(w, &engine.Error{Status: 400, Message: err.Error(), Key: "message"})
				return
			}
			f(w, r, p)
		})
	}
	h("GET /ari/asterisk/info", s.info)
	h("GET /ari/channels", func(w http.ResponseWriter, r *http.Request, p params) { writeJSON(w, 200, s.e.Channels()) })
	h("POST /ari/channels", s.originate)
	h("POST /ari/channels/create", s.create)
	h("GET /ari/channels/{id}", func(w http.ResponseWriter, r *http.Request, p params) {
		reply(w, 200)(s.e.Channel(r.PathValue("id")))
	})
	h("POST /ari/channels/{id}", s.originate)
	h("DELETE /ari/channels/{id}", func(w http.ResponseWriter, r *http.Request, p params) {
		cause, err := engine.HangupCause(p.str("reason"), p.str("reason_code"))
		if err == nil {
			err = s.e.Hangup(r.PathValue("id"), cause)
		}
		noContent(w, err)
	})
	h("POST /ari/channels/{id}/answer", func(w http.ResponseWriter, r *http.Request, p params) {
		noContent(w, s.e.Answer(r.PathValue("id")))
	})
	h("POST /ari/channels/{id}/ring", func(w http.ResponseWriter, r *http.Request, p params) {
		noContent(w, s.e.Ring(r.PathValue("id"), true))
	})
	h("DELETE /ari/channels/{id}/ring", func(w http.ResponseWriter, r *http.Request, p params) {
		noContent(w, s.e.Ring(r.PathValue("id"), false))
	})
	h("POST /ari/channels/{id}/moh", func(w http.ResponseWriter, r *http.Request, p params) {
		noContent(w, s.e.MOH(r.PathValue("id"), p.str("mohClass"), true))
	})
	h("DELETE /ari/channels/{id}/moh", func(w http.ResponseWriter, r *http.Request, p params) {
		noContent(w, s.e.MOH(r.PathValue("id"), "", false))
	})
	hold := func(w http.ResponseWriter, r *http.Request, p params) {
		_, err := s.e.Channel(r.PathValue("id"))
		noContent(w, err)
	}
	h("POST /ari/channels/{id}/hold", hold)
	h("DELETE /ari/channels/{id}/hold", hold)
	play := func(w http.ResponseWriter, r *http.Request, p params) {
		id := r.PathValue("playbackId")
		if id == "" {
			id = p.str("playbackId")
		}
		media := p.str("media")
		if i := strings.IndexByte(media, ','); i >= 0 && !strings.HasPrefix(media, "tone:") {
			media = media[:i] // a list plays its first item here
		}
		reply(w, 201)(s.e.Play(r.PathValue("id"), id, media))
	}
	h("POST /ari/channels/{id}/play", play)
	h("POST /ari/channels/{id}/play/{playbackId}", play)
	h("POST /ari/channels/{id}/dtmf", func(w http.ResponseWriter, r *http.Request, p params) {
		noContent(w, s.e.SendDTMF(r.PathValue("id"), p.str("dtmf"), p.int("duration", 100)))
	})
	h("POST /ari/channels/{id}/dial", func(w http.ResponseWriter, r *http.Request, p params) {
		noContent(w, s.e.Dial(r.Context(), r.PathValue("id"), p.str("caller"), p.int("timeout", 0)))
	})
	h("GET /ari/channels/{id}/variable", func(w http.ResponseWriter, r *http.Request, p params) {
		v, err := s.e.GetVariable(r.PathValue("id"), p.str("variable"))
		reply(w, 200)(map[string]string{"value": v}, err)
	})
	h("POST /ari/channels/{id}/variable", func(w http.ResponseWriter, r *http.Request, p params) {
		noContent(w, s.e.SetVariable(r.PathValue("id"), p.str("variable"), p.str("value")))
	})
	h("GET /ari/channels/{id}/variables", func(w http.ResponseWriter, r *http.Request, p params) {
		var names []string
		if v := p.str("variables"); v != "" {
			names = splitOutsideParens(v)
		}
		vars, err := s.e.GetVariables(r.PathValue("id"), names)
		reply(w, 200)(map[string]any{"variables": vars}, err)
	})
	h("POST /ari/channels/{id}/transfer_progress", func(w http.ResponseWriter, r *http.Request, p params) {
		noContent(w, s.e.TransferProgress(r.PathValue("id"), p.str("states")))
	})

	h("GET /ari/bridges", func(w http.ResponseWriter, r *http.Request, p params) { writeJSON(w, 200, s.e.Bridges()) })
	h("POST /ari/bridges", func(w http.ResponseWriter, r *http.Request, p params) {
		reply(w, 200)(s.e.CreateBridge(p.str("bridgeId"), p.str("type"), p.str("name")))
	})
	h("POST /ari/bridges/{id}", func(w http.ResponseWriter, r *http.Request, p params) {
		reply(w, 200)(s.e.CreateBridge(r.PathValue("id"), p.str("type"), p.str("name")))
	})
	h("GET /ari/bridges/{id}", func(w http.ResponseWriter, r *http.Request, p params) {
		reply(w, 200)(s.e.Bridge(r.PathValue("id")))
	})
	h("DELETE /ari/bridges/{id}", func(w http.ResponseWriter, r *http.Request, p params) {
		noContent(w, s.e.DeleteBridge(r.PathValue("id")))
	})
	h("POST /ari/bridges/{id}/addChannel", func(w http.ResponseWriter, r *http.Request, p params) {
		var ids []string
		if v := p.str("channel"); v != "" {
			ids = splitList(v)
		}
		noContent(w, s.e.AddChannels(r.PathValue("id"), ids))
	})
	h("POST /ari/bridges/{id}/removeChannel", func(w http.ResponseWriter, r *http.Request, p params) {
		noContent(w, s.e.RemoveChannel(r.PathValue("id"), p.str("channel")))
	})

	h("GET /ari/playbacks/{id}", func(w http.ResponseWriter, r *http.Request, p params) {
		reply(w, 200)(s.e.PlaybackInfo(r.PathValue("id")))
	})
	h("DELETE /ari/playbacks/{id}", func(w http.ResponseWriter, r *http.Request, p params) {
		noContent(w, s.e.StopPlayback(r.PathValue("id")))
	})

	h("GET /ari/endpoints", func(w http.ResponseWriter, r *http.Request, p params) { reply(w, 200)(s.e.Endpoints("")) })
	h("GET /ari/endpoints/{tech}", func(w http.ResponseWriter, r *http.Request, p params) {
		reply(w, 200)(s.e.Endpoints(r.PathValue("tech")))
	})
	h("GET /ari/endpoints/{tech}/{resource}", func(w http.ResponseWriter, r *http.Request, p params) {
		eps, err := s.e.Endpoints(r.PathValue("tech"))
		if err == nil {
			for _, ep := range eps {
				if ep.Resource == r.PathValue("resource") {
					writeJSON(w, 200, ep)
					return
				}
			}
		}
		writeErr(w, &engine.Error{Status: 404, Message: "Endpoint not found", Key: "message"})
	})
	h("GET /ari/applications", func(w http.ResponseWriter, r *http.Request, p params) { writeJSON(w, 200, s.e.Applications()) })
	h("GET /ari/applications/{app}", func(w http.ResponseWriter, r *http.Request, p params) {
		reply(w, 200)(s.e.Application(r.PathValue("app")))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, &engine.Error{Status: 404, Message: "Resource not found", Key: "message"})
	})
	mux.Handle("GET /ari/events", websocket.Server{Handshake: func(*websocket.Config, *http.Request) error { return nil }, Handler: s.events})
	return s.auth(mux)
}

func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok {
			if k := r.URL.Query().Get("api_key"); k != "" {
				u, p, ok = strings.Cut(k, ":")
			}
		}
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.cfg.Username)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(s.cfg.Password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
			writeErr(w, &engine.Error{Status: 401, Message: "Authentication required", Key: "message"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) info(w http.ResponseWriter, r *http.Request, p params) {
	st := s.e.Started().Format(engine.TimeFormat)
	writeJSON(w, 200, map[string]any{
		"build":  map[string]any{"os": "Linux", "kernel": "linkctl", "machine": "x86_64", "options": "OPTIONAL_API", "date": st, "user": "linkctl"},
		"system": map[string]any{"version": "22.11.0-linkctl", "entity_id": s.e.Options().AsteriskID},
		"config": map[string]any{"name": s.cfg.SystemName, "default_language": "en", "setid": map[string]any{"user": "", "group": ""}, "max_channels": 5000},
		"status": map[string]any{"startup_time": st, "last_reload_time": st},
	})
}

func (s *Server) originateReq(r *http.Request, p params) engine.OriginateRequest {
	id := p.str("channelId")
	if pid := r.PathValue("id"); pid != "" {
		id = pid
	}
	return engine.OriginateRequest{
		Endpoint: p.str("endpoint"), App: p.str("app"), AppArgs: p.str("appArgs"), Extension: p.str("extension"),
		CallerID: p.str("callerId"), Timeout: p.int("timeout", 30), Variables: p.vars, ChannelID: id,
		OtherChannelID: p.str("otherChannelId"), Originator: p.str("originator"),
	}
}

func (s *Server) originate(w http.ResponseWriter, r *http.Request, p params) {
	reply(w, 200)(s.e.Originate(r.Context(), s.originateReq(r, p)))
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, p params) {
	reply(w, 200)(s.e.Create(r.Context(), s.originateReq(r, p)))
}

// events is /ari/events?app=NAME: one JSON event per websocket message.
func (s *Server) events(ws *websocket.Conn) {
	s.wg.Add(1)
	defer s.wg.Done()
	defer ws.Close()
	q := ws.Request().URL.Query()
	apps := splitList(q.Get("app"))
	all := q.Get("subscribeAll") == "true"
	if len(apps) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	subs := make([]*engine.Subscription, 0, len(apps))
	for _, a := range apps {
		if all {
			subs = append(subs, s.e.SubscribeAll(a))
		} else {
			subs = append(subs, s.e.Subscribe(a))
		}
	}
	defer func() {
		for _, sub := range subs {
			sub.Close()
		}
	}()
	go func() { // the client closing the socket ends the subscription
		_, _ = io.Copy(io.Discard, ws)
		cancel()
	}()
	out := make(chan engine.Event)
	for _, sub := range subs {
		go func(sub *engine.Subscription) {
			for {
				ev, ok := sub.Next(ctx)
				if !ok {
					return
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}(sub)
	}
	id := s.e.Options().AsteriskID
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-out:
			b, err := ev.MarshalARI(id)
			if err != nil {
				s.log.Error("encode event", zap.Error(err))
				continue
			}
			// A client that stops reading must not pin this goroutine forever.
			_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := websocket.Message.Send(ws, string(b)); err != nil {
				s.log.Info("event websocket closed", zap.Error(err))
				return
			}
		}
	}
}

// --- parameters and replies ---

// params merges query parameters and a JSON body (the ari/v5 client sends JSON bodies).
type params struct {
	v    map[string]string
	vars map[string]string
}

func readParams(r *http.Request) (params, error) {
	p := params{v: map[string]string{}}
	for k, vs := range r.URL.Query() {
		if len(vs) > 0 {
			p.v[k] = vs[len(vs)-1]
		}
	}
	if r.Body == nil {
		return p, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return p, fmt.Errorf("read body: %w", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return p, nil
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return p, fmt.Errorf("malformed JSON body: %w", err)
	}
	for k, v := range m {
		switch x := v.(type) {
		case string:
			p.v[k] = x
		case float64:
			p.v[k] = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			p.v[k] = strconv.FormatBool(x)
		case map[string]any:
			if k == "variables" {
				p.vars = map[string]string{}
				for vk, vv := range x {
					p.vars[vk] = fmt.Sprint(vv)
				}
			}
		}
	}
	return p, nil
}

func (p params) str(k string) string { return p.v[k] }

func (p params) int(k string, def int) int {
	if v, ok := p.v[k]; ok && v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

// splitOutsideParens splits a variables list at commas that are not inside a
// function's parentheses: "PJSIP_HEADER(read,X),CHANNEL(endpoint)" is two names.
func splitOutsideParens(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch s[i] {
			case '(':
				depth++
				continue
			case ')':
				depth--
				continue
			case ',':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		}
		if x := strings.TrimSpace(s[start:i]); x != "" {
			out = append(out, x)
		}
		start = i + 1
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func reply(w http.ResponseWriter, status int) func(any, error) {
	return func(v any, err error) {
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, status, v)
	}
}

func noContent(w http.ResponseWriter, err error) {
	if err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeErr(w http.ResponseWriter, err error) {
	var ae *engine.Error
	if !errors.As(err, &ae) {
		ae = &engine.Error{Status: 500, Message: err.Error(), Key: "message"}
	}
	key := ae.Key
	if key == "" {
		key = "message"
	}
	writeJSON(w, ae.Status, map[string]string{key: ae.Message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
