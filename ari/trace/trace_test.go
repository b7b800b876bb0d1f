package trace

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func traceDir(t *testing.T) string {
	t.Helper()
	d, err := Dir()
	if err != nil {
		if SharedRequired() {
			t.Fatalf("asterisk traces required (%s=1): %v", EnvRequireShared, err)
		}
		t.Skipf("asterisk traces not available: %v", err)
	}
	t.Logf("shared files from %s", d)
	return d
}

func load(t *testing.T, name string) *Trace {
	t.Helper()
	tr, err := Load(traceDir(t), name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return tr
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			n++
		}
	}
	return n
}

func TestEveryTraceParses(t *testing.T) {
	dir := traceDir(t)
	names, err := Names(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 29 {
		t.Fatalf("found %d traces in %s, want the 29 recorded scenarios", len(names), dir)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			tr := load(t, name)
			if got, want := len(tr.Events()), countLines(t, filepath.Join(dir, name+".events.jsonl")); got != want {
				t.Errorf("events: parsed %d, file has %d lines", got, want)
			}
			if got, want := len(tr.HTTP()), countLines(t, filepath.Join(dir, name+".http.jsonl")); got != want {
				t.Errorf("http: parsed %d, file has %d lines", got, want)
			}
			steps := tr.Steps()
			if len(steps) != len(tr.Events())+len(tr.HTTP()) {
				t.Fatalf("steps %d != events+http", len(steps))
			}
			for i := 1; i < len(steps); i++ {
				if steps[i].At.Before(steps[i-1].At) {
					t.Fatalf("step %d (%s) at %v before step %d at %v", i, steps[i].Kind, steps[i].At, i-1, steps[i-1].At)
				}
			}
			up := 0
			for _, x := range tr.HTTP() {
				if x.IsUpgrade() {
					up++
				}
			}
			if up == 0 {
				t.Errorf("no websocket upgrade recorded")
			}
			for _, ev := range tr.Events() {
				if len(ev.Fields) < 3 || ev.Type == "" {
					t.Errorf("line %d: event %q fields %v", ev.Line, ev.Type, ev.Fields)
				}
			}
		})
	}
}

// field decodes one top-level field of an event.
func field(t *testing.T, ev Event, key string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Raw, &m); err != nil {
		t.Fatal(err)
	}
	return m[key]
}

func dialStatuses(t *testing.T, tr *Trace) []string {
	var out []string
	for _, ev := range tr.Select(All) {
		if ev.Type == "Dial" {
			out = append(out, field(t, ev, "dialstatus").(string))
		}
	}
	return out
}

// The README's scenario table, checked against the parsed traces.
func TestSequencesMatchREADME(t *testing.T) {
	tests := []struct {
		name     string
		noVarset []string
		dials    []string
		check    func(t *testing.T, tr *Trace)
	}{
		{
			name:     "t01-inbound-answer-caller-hangup",
			noVarset: []string{"StasisStart", "ChannelStateChange", "ChannelHangupRequest", "StasisEnd"},
			check: func(t *testing.T, tr *Trace) {
				if n := len(tr.EventTypes(All)) - len(tr.EventTypes(NoVarset)); n != 5 {
					t.Errorf("RTPAUDIOQOS varsets: %d, want 5", n)
				}
				hr := tr.Select(NoVarset)[2]
				if field(t, hr, "cause") != nil || field(t, hr, "soft") != nil {
					t.Errorf("remote BYE hangup request carries cause/soft: %s", hr.Raw)
				}
				args := field(t, tr.Select(All)[0], "args")
				if !reflect.DeepEqual(args, []any{"inbound", "12345"}) {
					t.Errorf("StasisStart args %v", args)
				}
			},
		},
		{
			name:     "t04-originate-noanswer",
			noVarset: []string{"Dial", "Dial", "ChannelStateChange", "ChannelDestroyed"},
			dials:    []string{"", "RINGING"},
			check: func(t *testing.T, tr *Trace) {
				evs := tr.Select(NoVarset)
				last := evs[len(evs)-1]
				if c := field(t, last, "cause"); c != float64(19) {
					t.Errorf("ChannelDestroyed cause %v, want 19", c)
				}
			},
		},
		{
			name:     "t05-originate-busy",
			noVarset: []string{"Dial", "ChannelHangupRequest", "Dial", "ChannelDestroyed"},
			dials:    []string{"", "BUSY"},
		},
		{
			name:     "t06-originate-unavailable-nolistener",
			noVarset: []string{"Dial", "ChannelDestroyed"},
			dials:    []string{""},
		},
		{
			name: "t06-originate-unavailable-nocontact",
			check: func(t *testing.T, tr *Trace) {
				n := 0
				for _, x := range tr.HTTP() {
					if x.Method == "POST" {
						n++
						if x.Status != 500 || string(x.Response) != `{"error": "Allocation failed"}` {
							t.Errorf("originate line %d: %d %s", x.Line, x.Status, x.Response)
						}
					}
				}
				if n != 3 {
					t.Errorf("%d originates, want 3", n)
				}
			},
		},
		{
			name:  "t07-create-dial-noanswer",
			dials: []string{"", "RINGING"}, // no final NOANSWER
			check: func(t *testing.T, tr *Trace) {
				ch := tr.Channels()[len(tr.Channels())-1]
				got := tr.EventTypes(Filter{NoVarset: true, Channel: ch})
				want := []string{"ChannelDialplan", "StasisStart", "Dial", "ChannelStateChange", "Dial",
					"ChannelHangupRequest", "StasisEnd", "ChannelDestroyed"}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("agent leg %s:\n got %v\nwant %v", ch, got, want)
				}
			},
		},
		{
			name:  "t07-create-dial-busy",
			dials: []string{""}, // no Dial BUSY
		},
		{
			name: "t13-ws-disconnect",
			check: func(t *testing.T, tr *Trace) {
				up := 0
				for _, x := range tr.HTTP() {
					if x.IsUpgrade() {
						up++
					}
				}
				if up != 2 {
					t.Errorf("%d websocket sessions, want 2", up)
				}
			},
		},
		{
			name:     "t13-ws-none-inbound",
			noVarset: []string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := load(t, tc.name)
			if tc.noVarset != nil {
				got := tr.EventTypes(NoVarset)
				if len(got) != 0 || len(tc.noVarset) != 0 {
					if !reflect.DeepEqual(got, tc.noVarset) {
						t.Errorf("event types without varset:\n got %v\nwant %v", got, tc.noVarset)
					}
				}
			}
			if tc.dials != nil {
				if got := dialStatuses(t, tr); !reflect.DeepEqual(got, tc.dials) {
					t.Errorf("dial statuses %q, want %q", got, tc.dials)
				}
			}
			if tc.check != nil {
				tc.check(t, tr)
			}
		})
	}
}

func TestStepsPutRequestBeforeItsEvent(t *testing.T) {
	tr := load(t, "t01-inbound-answer-caller-hangup")
	var kinds []string
	for _, s := range tr.Steps() {
		switch s.Kind {
		case StepHTTP:
			kinds = append(kinds, s.Exchange.Method+" "+s.Exchange.Path)
		case StepEvent:
			if s.Event.Type != "ChannelVarset" {
				kinds = append(kinds, s.Event.Type)
			}
		}
	}
	want := []string{
		"GET /ari/events?app=linkctl&subscribeAll=false",
		"GET /ari/asterisk/info",
		"StasisStart",
		"POST /ari/channels/linkctl-pbx-1796315656.0/answer",
		"ChannelStateChange",
		"ChannelHangupRequest",
		"StasisEnd",
		"GET /ari/channels",
		"WEBSOCKET-CLOSE /ari/events?app=linkctl&subscribeAll=false",
	}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("steps:\n got %q\nwant %q", kinds, want)
	}
}

func TestDirFromEnv(t *testing.T) {
	d := traceDir(t)
	shared := filepath.Dir(filepath.Dir(d))
	t.Setenv("LINKCTL_SHARED", shared)
	got, err := Dir()
	if err != nil || got != d {
		t.Fatalf("Dir() with LINKCTL_SHARED=%s = %q, %v; want %q", shared, got, err, d)
	}
	t.Setenv("LINKCTL_SHARED", t.TempDir())
	if _, err := Dir(); err == nil {
		t.Fatal("Dir() accepted a LINKCTL_SHARED without traces")
	}
}

func TestReplaceID(t *testing.T) {
	tests := []struct{ in, old, repl, want string }{
		{`{"id":"a.1"}`, "a.1", "x", `{"id":"x"}`},
		{`{"id":"a.10"}`, "a.1", "x", `{"id":"a.10"}`},
		{`["outbound,12345,a.1"]`, "a.1", "x", `["outbound,12345,x"]`},
		{`"a.1","a.1"`, "a.1", "yy", `"yy","yy"`},
		{`"pre-a.1"`, "a.1", "x", `"pre-a.1"`},
		{`"BRIDGEPEER":"a.1"`, "a.1", "a.1", `"BRIDGEPEER":"a.1"`},
	}
	for _, tc := range tests {
		if got := string(replaceID([]byte(tc.in), tc.old, tc.repl)); got != tc.want {
			t.Errorf("replaceID(%s, %s, %s) = %s, want %s", tc.in, tc.old, tc.repl, got, tc.want)
		}
	}
}

func FuzzReplaceID(f *testing.F) {
	f.Add([]byte(`{"id":"a.1","x":"a.10"}`), "a.1", "b")
	f.Fuzz(func(t *testing.T, in []byte, old, repl string) {
		out := replaceID(in, old, repl)
		if old == repl && !bytes.Equal(out, in) {
			t.Fatalf("identity replacement changed input")
		}
	})
}

func FuzzDecodeTraceLines(f *testing.F) {
	f.Add([]byte(`{"type":"StasisStart","timestamp":"2026-12-03T16:34:16.251+0000","args":["inbound","12345"],"channel":{"id":"a.1"}}`))
	f.Add([]byte(`{"t": "2026-12-03T16:34:16.252+0000", "method": "POST", "path": "/ari/channels/a.1/answer", "body": null, "status": 204, "response": null}`))
	f.Add([]byte(`{"type":"Dial","timestamp":"x","peer":{"id":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if ev, err := decodeEvent(1, b); err == nil {
			if ev.Type == "" || ev.At.IsZero() || len(ev.Fields) < 2 {
				t.Fatalf("accepted event without type/time: %+v", ev)
			}
		}
		if x, err := decodeExchange(1, b); err == nil {
			if x.Method == "" || !strings.HasPrefix(x.Path, "/ari/") {
				t.Fatalf("accepted exchange without method/path: %+v", x)
			}
		}
	})
}

func TestPerChannelAndFieldsByType(t *testing.T) {
	tr := load(t, "t05-originate-busy")
	got := tr.PerChannel(NoVarset)
	want := [][]string{{"Dial", "ChannelHangupRequest", "Dial", "ChannelDestroyed"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("t05 per channel %v, want %v", got, want)
	}
	tr = load(t, "t02-originate-bridge-2party")
	per := tr.PerChannel(NoVarset)
	if len(per) != 2 || per[0][0] != "StasisStart" || per[1][0] != "Dial" {
		t.Errorf("t02 per channel: inbound first (StasisStart), agent second (Dial): %v", per)
	}
	fields := tr.FieldsByType()
	if !reflect.DeepEqual(fields["Dial"], []string{"application", "asterisk_id", "dialstatus", "dialstring", "forward", "peer", "timestamp", "type"}) {
		t.Errorf("Dial fields %v", fields["Dial"])
	}
	if !reflect.DeepEqual(fields["ChannelDestroyed"], []string{"application", "asterisk_id", "cause", "cause_txt", "channel", "timestamp", "type"}) {
		t.Errorf("ChannelDestroyed fields %v", fields["ChannelDestroyed"])
	}
}
