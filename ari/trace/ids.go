package trace

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
)

// idKeys are the JSON keys and query parameters whose values are resource ids.
var idKeys = map[string]bool{
	"id": true, "channelId": true, "otherChannelId": true, "bridgeId": true,
	"playbackId": true, "channel": true, "channel_ids": true, "bridge_ids": true,
	"originator": true,
}

// collectIDs walks a JSON value and adds every resource id it names.
func collectIDs(raw json.RawMessage, into map[string]bool) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return
	}
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				walk(k, c)
			}
		case []any:
			for _, c := range x {
				walk(key, c)
			}
		case string:
			if idKeys[key] && x != "" {
				into[x] = true
			}
		}
	}
	walk("", v)
}

// collectPathIDs adds the ids a request path carries: the segment after
// channels/bridges/playbacks and the id-valued query parameters.
func collectPathIDs(path string, into map[string]bool) {
	p, q, _ := strings.Cut(path, "?")
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i := 0; i+1 < len(segs); i++ {
		switch segs[i] {
		case "channels", "bridges", "playbacks":
			into[segs[i+1]] = true
		}
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return
	}
	for k, vs := range vals {
		if !idKeys[k] {
			continue
		}
		for _, v := range vs {
			for _, id := range strings.Split(v, ",") {
				if id != "" {
					into[id] = true
				}
			}
		}
	}
}

// knownIDs is every resource id a trace mentions.
func (t *Trace) knownIDs() map[string]bool {
	ids := map[string]bool{}
	for _, ev := range t.events {
		collectIDs(ev.Raw, ids)
	}
	for _, x := range t.exchanges {
		collectPathIDs(x.Path, ids)
		collectIDs(x.Response, ids)
		collectIDs(x.Body, ids)
	}
	// Path segments like "events" or "answer" are never ids; the only
	// ambiguity is a fixed word also used as a channel id, which the
	// traces do not have.
	delete(ids, "")
	return ids
}

func isIDByte(c byte) bool {
	return c == '-' || c == '.' || c == '_' ||
		(c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// replaceID replaces whole-token occurrences of old with repl: "a.1" does
// not touch "a.10".
func replaceID(b []byte, old, repl string) []byte {
	if old == repl || old == "" || !bytes.Contains(b, []byte(old)) {
		return b
	}
	out := make([]byte, 0, len(b))
	last := 0
	for from := 0; ; {
		i := bytes.Index(b[from:], []byte(old))
		if i < 0 {
			break
		}
		start, end := from+i, from+i+len(old)
		if (start == 0 || !isIDByte(b[start-1])) && (end == len(b) || !isIDByte(b[end])) {
			out = append(out, b[last:start]...)
			out = append(out, repl...)
			last = end
		}
		from = end
	}
	return append(out, b[last:]...)
}
