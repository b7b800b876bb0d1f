package trace

// Matching a client's request to a recorded exchange, modulo the ids the
// client chose.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// binding is a tentative recorded->client id pairing made while matching.
type binding map[string]string

func (s *Server) idMatch(rec, got string, b binding) bool {
	if rec == got {
		if r, ok := s.reverse[got]; ok && r != rec {
			return false
		}
		if a, ok := s.alias[rec]; ok && a != got {
			return false // the client renamed this id; the recorded name is not its
		}
		return true
	}
	if !s.known[rec] || s.known[got] {
		// Only recorded ids are renamed, and never to another recorded id.
		return false
	}
	if a, ok := s.alias[rec]; ok {
		return a == got
	}
	if a, ok := b[rec]; ok {
		return a == got
	}
	if _, ok := s.reverse[got]; ok {
		return false
	}
	for r, a := range b {
		if a == got && r != rec {
			return false
		}
	}
	b[rec] = got
	return true
}

func splitPath(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

// match scores a request against a recorded exchange: 0 no match, 1 method
// and path match, 2 query matches too.
func (s *Server) match(x Exchange, method string, u *url.URL) (int, binding) {
	if x.Method != method {
		return 0, nil
	}
	rp, rq, _ := strings.Cut(x.Path, "?")
	rs, gs := splitPath(rp), splitPath(u.Path)
	if len(rs) != len(gs) {
		return 0, nil
	}
	b := binding{}
	for i := range rs {
		if !s.idMatch(rs[i], gs[i], b) {
			return 0, nil
		}
	}
	rv, err := url.ParseQuery(rq)
	if err != nil {
		return 1, b
	}
	gv := u.Query()
	delete(gv, "api_key")
	if len(rv) != len(gv) {
		return 1, b
	}
	qb := binding{}
	for k, v := range b {
		qb[k] = v
	}
	for k, rvals := range rv {
		gvals, ok := gv[k]
		if !ok || len(gvals) != len(rvals) {
			return 1, b
		}
		for i := range rvals {
			if rvals[i] == gvals[i] {
				continue
			}
			if !idKeys[k] && k != "appArgs" {
				return 1, b
			}
			rp, gp := strings.Split(rvals[i], ","), strings.Split(gvals[i], ",")
			if len(rp) != len(gp) {
				return 1, b
			}
			for j := range rp {
				if !s.idMatch(rp[j], gp[j], qb) {
					return 1, b
				}
			}
		}
	}
	return 2, qb
}

func (s *Server) rewrite(raw []byte) []byte {
	for rec, got := range s.alias {
		raw = replaceID(raw, rec, got)
	}
	return raw
}

// isListPath reports whether path lists channels or bridges.
func isListPath(path string) bool {
	return path == "/ari/channels" || path == "/ari/bridges"
}

// bindCreatedID ties the id Asterisk chose in a recorded create (originate,
// create, bridge, play) to the id this client chose for the same resource,
// so a controller that names its channels and bridges itself (as linkctl
// does) sees its own ids in the replayed events.
func (s *Server) bindCreatedID(r *http.Request, x Exchange) {
	if r.Method != http.MethodPost || len(x.Response) == 0 {
		return
	}
	var resp struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(x.Response, &resp) != nil || resp.ID == "" {
		return
	}
	q := r.URL.Query()
	segs := splitPath(r.URL.Path) // ari, channels|bridges, [id], ...
	chosen := ""
	switch {
	case len(segs) == 2 && segs[1] == "channels":
		chosen = q.Get("channelId")
	case len(segs) == 3 && segs[1] == "channels" && segs[2] == "create":
		chosen = q.Get("channelId")
	case len(segs) == 3 && (segs[1] == "channels" || segs[1] == "bridges"):
		chosen = segs[2]
	case len(segs) == 2 && segs[1] == "bridges":
		chosen = q.Get("bridgeId")
	case len(segs) >= 4 && segs[3] == "play":
		chosen = q.Get("playbackId")
		if len(segs) == 5 {
			chosen = segs[4]
		}
	}
	if chosen == "" || chosen == resp.ID {
		return
	}
	if _, bound := s.alias[resp.ID]; bound {
		return
	}
	if _, used := s.reverse[chosen]; used || s.known[chosen] {
		return
	}
	s.alias[resp.ID] = chosen
	s.reverse[chosen] = resp.ID
}
