package trace

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// TimeLayout is how Asterisk (and the http.jsonl "t" field) writes time.
const TimeLayout = "2006-01-02T15:04:05.000-0700"

// Method values that are not HTTP methods in http.jsonl.
const (
	// MethodWebsocketClose marks the client closing the event websocket.
	MethodWebsocketClose = "WEBSOCKET-CLOSE"
)

// ErrNoTraces is returned (wrapped) by Dir when no traces folder can be
// found; it is ErrNoShared, kept for callers matching it.
var ErrNoTraces = ErrNoShared

// StepKind says what a Step is.
type StepKind int

const (
	// StepHTTP is a REST request with its recorded response.
	StepHTTP StepKind = iota + 1
	// StepEvent is a websocket event.
	StepEvent
)

func (k StepKind) String() string {
	switch k {
	case StepHTTP:
		return "http"
	case StepEvent:
		return "event"
	default:
		return fmt.Sprintf("StepKind(%d)", int(k))
	}
}

// Exchange is one line of NAME.http.jsonl: a request and what Asterisk answered.
type Exchange struct {
	// At is when the request was sent.
	At time.Time
	// Method is GET, POST, DELETE, PUT or MethodWebsocketClose.
	Method string
	// Path includes /ari and the exact query string sent.
	Path string
	// Body is the JSON request body, nil when there was none.
	Body json.RawMessage
	// Status is the HTTP status (101 for the websocket upgrade, 0 for a close).
	Status int
	// Response is the parsed JSON answer, nil for an empty body.
	Response json.RawMessage
	// Note says what the step was meant to show.
	Note string
	// Line is the 1-based line in the file.
	Line int
}

// IsUpgrade reports whether this is the event websocket upgrade.
func (x Exchange) IsUpgrade() bool { return x.Method == "GET" && x.Status == 101 }

// IsClose reports whether this is the client closing the event websocket.
func (x Exchange) IsClose() bool { return x.Method == MethodWebsocketClose }

// Mutating reports whether the request can change PBX state (and so cause events).
func (x Exchange) Mutating() bool {
	switch x.Method {
	case "POST", "PUT", "DELETE":
		return true
	}
	return false
}

// Event is one websocket message of NAME.events.jsonl.
type Event struct {
	// Type is the ARI event type, e.g. "StasisStart".
	Type string
	// At is the event's own timestamp.
	At time.Time
	// Raw is the message exactly as Asterisk sent it.
	Raw json.RawMessage
	// Fields are the message's top-level keys, sorted.
	Fields []string
	// Channel is channel.id, or peer.id for Dial events ("" if none).
	Channel string
	// Bridge is bridge.id ("" if none).
	Bridge string
	// Variable is the variable name of a ChannelVarset.
	Variable string
	// Line is the 1-based line in the file.
	Line int
}

// Step is one HTTP exchange or one event, in time order.
type Step struct {
	Kind     StepKind
	At       time.Time
	Exchange *Exchange
	Event    *Event
}

// Trace is one recorded scenario.
type Trace struct {
	// Name is the scenario name, e.g. "t04-originate-noanswer".
	Name      string
	events    []Event
	exchanges []Exchange
}

// Names lists the scenarios in dir (every NAME with a NAME.http.jsonl), sorted.
func Names(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.http.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("list traces in %s: %w", dir, err)
	}
	names := make([]string, 0, len(m))
	for _, p := range m {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".http.jsonl"))
	}
	sort.Strings(names)
	return names, nil
}

// Load reads scenario name from dir.
func Load(dir, name string) (*Trace, error) {
	tr := &Trace{Name: name}
	var err error
	if tr.exchanges, err = readExchanges(filepath.Join(dir, name+".http.jsonl")); err != nil {
		return nil, err
	}
	if tr.events, err = readEvents(filepath.Join(dir, name+".events.jsonl")); err != nil {
		return nil, err
	}
	return tr, nil
}

// LoadAll reads every scenario in dir.
func LoadAll(dir string) ([]*Trace, error) {
	names, err := Names(dir)
	if err != nil {
		return nil, err
	}
	out := make([]*Trace, 0, len(names))
	for _, n := range names {
		tr, err := Load(dir, n)
		if err != nil {
			return nil, err
		}
		out = append(out, tr)
	}
	return out, nil
}

func parseTime(s string) (time.Time, error) {
	return time.Parse(TimeLayout, s)
}

func eachLine(path string, fn func(line int, b []byte) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read trace: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if err := fn(n, append([]byte(nil), b...)); err != nil {
			return fmt.Errorf("%s:%d: %w", filepath.Base(path), n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("scan %s: %w", path, err)
	}
	return nil
}

func readExchanges(path string) ([]Exchange, error) {
	var out []Exchange
	err := eachLine(path, func(line int, b []byte) error {
		x, err := decodeExchange(line, b)
		if err == nil {
			out = append(out, x)
		}
		return err
	})
	return out, err
}

// decodeExchange decodes one line of NAME.http.jsonl.
func decodeExchange(line int, b []byte) (Exchange, error) {
	var w struct {
		T        string          `json:"t"`
		Method   string          `json:"method"`
		Path     string          `json:"path"`
		Body     json.RawMessage `json:"body"`
		Status   *int            `json:"status"`
		Response json.RawMessage `json:"response"`
		Note     *string         `json:"note"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return Exchange{}, fmt.Errorf("decode http step: %w", err)
	}
	at, err := parseTime(w.T)
	if err != nil {
		return Exchange{}, fmt.Errorf("http step time: %w", err)
	}
	if w.Method == "" || !strings.HasPrefix(w.Path, "/ari/") {
		return Exchange{}, fmt.Errorf("http step without method or /ari path: %q %q", w.Method, w.Path)
	}
	x := Exchange{At: at, Method: w.Method, Path: w.Path, Body: nullToNil(w.Body),
		Response: nullToNil(w.Response), Line: line}
	if w.Status != nil {
		x.Status = *w.Status
	}
	if w.Note != nil {
		x.Note = *w.Note
	}
	return x, nil
}

func nullToNil(r json.RawMessage) json.RawMessage {
	if len(r) == 0 || string(r) == "null" {
		return nil
	}
	return r
}

func readEvents(path string) ([]Event, error) {
	var out []Event
	err := eachLine(path, func(line int, b []byte) error {
		ev, err := decodeEvent(line, b)
		if err == nil {
			out = append(out, ev)
		}
		return err
	})
	return out, err
}

// decodeEvent decodes one websocket message of NAME.events.jsonl.
func decodeEvent(line int, b []byte) (Event, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	var w struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Variable  string `json:"variable"`
		Channel   *struct {
			ID string `json:"id"`
		} `json:"channel"`
		Peer *struct {
			ID string `json:"id"`
		} `json:"peer"`
		Bridge *struct {
			ID string `json:"id"`
		} `json:"bridge"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	if w.Type == "" {
		return Event{}, errors.New("event without type")
	}
	at, err := parseTime(w.Timestamp)
	if err != nil {
		return Event{}, fmt.Errorf("event time: %w", err)
	}
	ev := Event{Type: w.Type, At: at, Raw: b, Variable: w.Variable, Line: line}
	for k := range top {
		ev.Fields = append(ev.Fields, k)
	}
	sort.Strings(ev.Fields)
	switch {
	case w.Channel != nil:
		ev.Channel = w.Channel.ID
	case w.Peer != nil:
		ev.Channel = w.Peer.ID
	}
	if w.Bridge != nil {
		ev.Bridge = w.Bridge.ID
	}
	return ev, nil
}

// HTTP returns the recorded exchanges in file order (the websocket upgrade
// and close included).
func (t *Trace) HTTP() []Exchange { return append([]Exchange(nil), t.exchanges...) }

// Events returns the recorded events in arrival order.
func (t *Trace) Events() []Event { return append([]Event(nil), t.events...) }

// Steps merges exchanges and events in time order. Events keep their arrival
// order; on equal timestamps a request comes before an event, because the
// request was sent at its time and what it caused cannot be earlier.
func (t *Trace) Steps() []Step {
	steps := make([]Step, 0, len(t.exchanges)+len(t.events))
	xs := append([]Exchange(nil), t.exchanges...)
	sort.SliceStable(xs, func(i, j int) bool { return xs[i].At.Before(xs[j].At) })
	i, j := 0, 0
	for i < len(xs) || j < len(t.events) {
		if j >= len(t.events) || (i < len(xs) && !xs[i].At.After(t.events[j].At)) {
			steps = append(steps, Step{Kind: StepHTTP, At: xs[i].At, Exchange: &xs[i]})
			i++
			continue
		}
		ev := t.events[j]
		steps = append(steps, Step{Kind: StepEvent, At: ev.At, Event: &ev})
		j++
	}
	return steps
}

// Filter selects events for EventTypes and Select.
type Filter struct {
	// NoVarset drops ChannelVarset events (the noise a switch need not copy).
	NoVarset bool
	// Channel keeps only events about this channel id ("" keeps all).
	Channel string
}

// Common filters.
var (
	All      = Filter{}
	NoVarset = Filter{NoVarset: true}
)

func (f Filter) keep(ev Event) bool {
	if f.NoVarset && ev.Type == "ChannelVarset" {
		return false
	}
	if f.Channel != "" && ev.Channel != f.Channel {
		return false
	}
	return true
}

// Select returns the events the filter keeps, in arrival order.
func (t *Trace) Select(f Filter) []Event {
	var out []Event
	for _, ev := range t.events {
		if f.keep(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// EventTypes is the expected event type sequence, e.g.
// tr.EventTypes(trace.NoVarset) for the conformance comparison.
func (t *Trace) EventTypes(f Filter) []string {
	var out []string
	for _, ev := range t.Select(f) {
		out = append(out, ev.Type)
	}
	return out
}

// Channels lists channel ids in order of first appearance in the events.
func (t *Trace) Channels() []string {
	seen := map[string]bool{}
	var out []string
	for _, ev := range t.events {
		if ev.Channel != "" && !seen[ev.Channel] {
			seen[ev.Channel] = true
			out = append(out, ev.Channel)
		}
	}
	return out
}

// PerChannel is the event type sequence of each channel, in order of the
// channels' first appearance, for comparing a switch whose channel ids
// differ from Asterisk's (conformance: the i-th channel of a scenario plays
// the same role on both).
func (t *Trace) PerChannel(f Filter) [][]string {
	var out [][]string
	for _, id := range t.Channels() {
		g := f
		g.Channel = id
		out = append(out, t.EventTypes(g))
	}
	return out
}

// FieldsByType is, for each event type in the trace, the top-level fields
// every one of its events carries (the intersection), sorted: what a
// conforming switch must send too.
func (t *Trace) FieldsByType() map[string][]string {
	sets := map[string]map[string]bool{}
	for _, ev := range t.events {
		cur := map[string]bool{}
		for _, f := range ev.Fields {
			cur[f] = true
		}
		if prev, ok := sets[ev.Type]; ok {
			for f := range prev {
				if !cur[f] {
					delete(prev, f)
				}
			}
			continue
		}
		sets[ev.Type] = cur
	}
	out := map[string][]string{}
	for typ, set := range sets {
		fs := make([]string, 0, len(set))
		for f := range set {
			fs = append(fs, f)
		}
		sort.Strings(fs)
		out[typ] = fs
	}
	return out
}
