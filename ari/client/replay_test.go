package client

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"linkctl/callflow"
	"linkctl/config"
)

// stubPBX accepts every command and lets the test play the switch's events.
type stubPBX struct {
	mu          sync.Mutex
	events      chan callflow.Event
	originated  chan callflow.OriginateRequest
	cmds        []string
	failTargets bool // originate to the 110 group answers Allocation failed (t06-nocontact)
}

func (s *stubPBX) note(f string, a ...any) error {
	s.mu.Lock()
	s.cmds = append(s.cmds, fmt.Sprintf(f, a...))
	s.mu.Unlock()
	return nil
}
func (s *stubPBX) Answer(_ context.Context, id string) error { return s.note("answer %s", id) }
func (s *stubPBX) Originate(_ context.Context, r callflow.OriginateRequest) error {
	if s.failTargets && r.Endpoint == "PJSIP/a110-2001" {
		return &callflow.PBXError{Op: "originate", ID: r.ChannelID, Status: 500, Message: "Allocation failed", Kind: callflow.ErrAllocationFailed}
	}
	s.originated <- r
	return s.note("originate %s", r.ChannelID)
}
func (s *stubPBX) Create(_ context.Context, r callflow.OriginateRequest) error { return nil }
func (s *stubPBX) Dial(context.Context, string, string, time.Duration) error   { return nil }
func (s *stubPBX) Hangup(_ context.Context, id, reason string) error {
	return s.note("hangup %s", id)
}
func (s *stubPBX) Ring(context.Context, string) error                 { return nil }
func (s *stubPBX) StopRing(context.Context, string) error             { return nil }
func (s *stubPBX) StartMOH(context.Context, string, string) error     { return nil }
func (s *stubPBX) StopMOH(context.Context, string) error              { return nil }
func (s *stubPBX) Play(context.Context, string, string, string) error { return nil }
func (s *stubPBX) StopPlayback(context.Context, string) error         { return nil }
func (s *stubPBX) GetVar(context.Context, string, string) (string, error) {
	return "", &callflow.PBXError{Status: 500, Kind: callflow.ErrNoSuchVariable}
}
func (s *stubPBX) SetVar(context.Context, string, string, string) error     { return nil }
func (s *stubPBX) TransferProgress(context.Context, string, string) error   { return nil }
func (s *stubPBX) CreateBridge(context.Context, string) error               { return nil }
func (s *stubPBX) DestroyBridge(context.Context, string) error              { return nil }
func (s *stubPBX) AddToBridge(context.Context, string, ...string) error     { return nil }
func (s *stubPBX) RemoveFromBridge(context.Context, string, string) error   { return nil }
func (s *stubPBX) Channels(context.Context) ([]callflow.ChannelInfo, error) { return nil, nil }
func (s *stubPBX) Bridges(context.Context) ([]callflow.BridgeInfo, error)   { return nil, nil }
func (s *stubPBX) Events() <-chan callflow.Event                            { return s.events }
func (s *stubPBX) EndpointState(context.Context, string, string) (callflow.EndpointStatus, error) {
	return callflow.EndpointUnknown, nil
}

func loadEvents(t *testing.T, name string) []callflow.Event {
	t.Helper()
	fh, err := os.Open(filepath.Join(traceDir(t), name+".events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []callflow.Event
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		ev, err := Decode(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if ev != nil {
			out = append(out, ev)
		}
	}
	return out
}

// withID returns ev for channel id instead of its recorded one.
func withID(ev callflow.Event, id string) callflow.Event {
	switch e := ev.(type) {
	case callflow.StasisStart:
		e.ChannelID = id
		return e
	case callflow.StasisEnd:
		e.ChannelID = id
		return e
	case callflow.ChannelStateChange:
		e.ChannelID = id
		return e
	case callflow.HangupRequest:
		e.ChannelID = id
		return e
	case callflow.ChannelDestroyed:
		e.ChannelID = id
		return e
	case callflow.DialStatus:
		e.ChannelID = id
		return e
	case callflow.EnteredBridge:
		e.ChannelID = id
		return e
	case callflow.LeftBridge:
		e.ChannelID = id
		return e
	case callflow.DTMFReceived:
		e.ChannelID = id
		return e
	}
	return nil
}

// TestTracesThroughTheController replays what a real Asterisk 22 sent for an outgoing
// leg (ringing, busy, no answer, dead contact, caller gone) as the 110 leg of a
// one-key transfer, and checks the controller draws the right outcome — without
// waiting for events the traces show never come.
func TestTracesThroughTheController(t *testing.T) {
	tests := []struct {
		trace       string
		want        callflow.TransferOutcome
		callerGone  bool // replay the recorded inbound channel's events onto our caller
		failTargets bool
	}{
		{"t02-originate-bridge-2party", callflow.OutcomeCompleted, false, false},
		{"t04-originate-noanswer", callflow.OutcomeNoAnswer, false, false},
		{"t05-originate-busy", callflow.OutcomeBusy, false, false},
		{"t06-originate-unavailable-nolistener", callflow.OutcomeNoAnswer, false, false},
		{"t06-originate-unavailable-nolistener-notimeout", callflow.OutcomeNoAnswer, false, false},
		{"t06-originate-unavailable-nocontact", callflow.OutcomeUnavailable, false, true},
		{"t07-create-dial-noanswer", callflow.OutcomeNoAnswer, false, false},
		{"t07-create-dial-busy", callflow.OutcomeBusy, false, false},
		{"t08-caller-hangs-up-while-target-rings", callflow.OutcomeCallerGone, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.trace, func(t *testing.T) {
			events := loadEvents(t, tt.trace)
			var recTarget, recCaller string
			for _, ev := range events {
				if d, ok := ev.(callflow.DialStatus); ok && recTarget == "" {
					recTarget = d.ChannelID
				}
				if s, ok := ev.(callflow.StasisStart); ok && len(s.Args) > 0 && s.Args[0] == "inbound" && recCaller == "" {
					recCaller = s.ChannelID
				}
			}
			if recTarget == "" && !tt.failTargets {
				t.Fatal("trace has no dialled leg")
			}
			pbx := &stubPBX{events: make(chan callflow.Event, 256), originated: make(chan callflow.OriginateRequest, 8), failTargets: tt.failTargets}
			cfg := config.Default().Controller
			cfg.Groups = map[string]config.GroupConfig{
				"12345": {Agents: []string{"PJSIP/a12345-1001"}, Strategy: "ring-all", RingTimeout: config.Duration(60 * time.Second)},
				"110":   {Agents: []string{"PJSIP/a110-2001"}, Strategy: "ring-all", RingTimeout: config.Duration(60 * time.Second)},
			}
			cfg.TransferRingTimeout = config.Duration(60 * time.Second) // the trace decides, not our timer
			ctl, err := callflow.New(pbx, callflow.Options{Config: cfg, Logger: zaptest.NewLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = ctl.Run(ctx) }()
			defer func() { cancel(); <-done }()

			pbx.events <- callflow.StasisStart{ChannelID: "cit", Name: "PJSIP/citizen-00000001", State: "Ring", Args: []string{"inbound", "12345"}}
			agent := <-pbx.originated
			pbx.events <- callflow.StasisStart{ChannelID: agent.ChannelID, State: "Up", Args: []string{"outbound"}}
			var id string
			deadline := time.Now().Add(3 * time.Second)
			for id == "" && time.Now().Before(deadline) {
				for _, r := range ctl.Calls() {
					if r.State == callflow.StateTalking.String() {
						id = r.ID
					}
				}
				time.Sleep(time.Millisecond)
			}
			if id == "" {
				t.Fatal("call never reached the first agent")
			}
			cat := ctl.Matters().Names(string(callflow.Dir12345To110))[0]
			res, err := ctl.Softkey(ctx, callflow.SoftkeyRequest{CallID: id, Key: callflow.KeyTransfer, Category: cat})
			if err != nil || !res.Accepted {
				t.Fatalf("softkey: %+v %v", res, err)
			}
			var target string
			if !tt.failTargets {
				target = (<-pbx.originated).ChannelID
				for _, ev := range events {
					switch ev.ChannelIDOf() {
					case recTarget:
						pbx.events <- withID(ev, target)
					case recCaller:
						if tt.callerGone {
							if _, isStart := ev.(callflow.StasisStart); !isStart {
								pbx.events <- withID(ev, "cit")
							}
						}
					}
				}
			}
			var got callflow.TransferOutcome
			deadline = time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) {
				r, _ := ctl.Call(id)
				if len(r.Transfers) == 1 && r.Transfers[0].Outcome != callflow.OutcomePending {
					got = r.Transfers[0].Outcome
					break
				}
				time.Sleep(time.Millisecond)
			}
			if got != tt.want {
				t.Errorf("outcome %q, want %q", got, tt.want)
			}
			if tt.callerGone {
				pbx.mu.Lock()
				cancelled := slices.Contains(pbx.cmds, "hangup "+target)
				pbx.mu.Unlock()
				if !cancelled {
					t.Error("the ringing leg was not cancelled after the caller left")
				}
			}
		})
	}
}
