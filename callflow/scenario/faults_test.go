package scenario

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"linkctl/ari/sim"
	"linkctl/callflow"
)

// goneBeforeAdd is the PBX the controller sees, with one race forced: the first
// bridge add after arm() that names a channel other than the known ones (caller,
// first agent) finds that channel already hung up on the switch, so the embedded switch answers
// the add the way Asterisk does for a channel that just went away (400 "Channel
// not found", ErrChannelGone). Everything else is the real ARI adapter.
type goneBeforeAdd struct {
	callflow.PBX
	mu     sync.Mutex
	known  []string // armed: the channels that are not the victim; nil = not armed
	gone   string   // the channel hung up under the add
	addErr error    // what the real switch answered to the add
}

func (g *goneBeforeAdd) arm(known ...string) {
	g.mu.Lock()
	g.known = known
	g.mu.Unlock()
}

func (g *goneBeforeAdd) AddToBridge(ctx context.Context, bridgeID string, ids ...string) error {
	g.mu.Lock()
	var victim string
	if g.known != nil {
		for _, id := range ids {
			if !slices.Contains(g.known, id) {
				victim = id
			}
		}
	}
	armed := victim != ""
	if armed {
		g.known, g.gone = nil, victim
	}
	g.mu.Unlock()
	if !armed {
		return g.PBX.AddToBridge(ctx, bridgeID, ids...)
	}
	// The other side hangs up as it answers: gone from the switch before the add.
	if err := g.PBX.Hangup(ctx, victim, "normal"); err != nil {
		return err
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		chans, err := g.PBX.Channels(ctx)
		if err == nil && !slices.ContainsFunc(chans, func(c callflow.ChannelInfo) bool { return c.ID == victim }) {
			break
		}
	}
	err := g.PBX.AddToBridge(ctx, bridgeID, ids...)
	g.mu.Lock()
	g.addErr = err
	g.mu.Unlock()
	return err
}

// TestTargetGoneWhenCallerIsMoved: issue 4 fault "ARI 404 for a channel that just
// hung up (race)". The 110 agent answers a one-key transfer and is gone before the
// controller's bridge add reaches the switch. The caller must go back to the first
// agent, who must not have been released, and the transfer must not count as
// completed: never a caller alone, never a caller hung up.
func TestTargetGoneWhenCallerIsMoved(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenarios skipped in -short mode")
	}
	for _, tc := range []struct {
		name   string
		key    callflow.Key
		target string // Sim phone that answers and is gone
	}{
		{"one-key transfer", callflow.KeyTransfer, Agent110},
		{"emergency to 110", callflow.KeyEmergency, Emergency},
	} {
		t.Run(tc.name, func(t *testing.T) { targetGoneWhenCallerIsMoved(t, tc.key, tc.target) })
	}
}

func targetGoneWhenCallerIsMoved(t *testing.T, key callflow.Key, target string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	race := &goneBeforeAdd{}
	env, err := StartOpts(ctx, nil, zaptest.NewLogger(t), Options{Wrap: func(p callflow.PBX) callflow.PBX { race.PBX = p; return race }})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	env.Switch.Sim.Phone(Agent12345).SetScript(sim.Script{Behavior: sim.Answer})
	incoming := make(chan *sim.Call, 1)
	env.Switch.Sim.Phone(target).OnIncoming(func(c *sim.Call) { c.Ring(); incoming <- c })

	cit, err := env.Switch.Sim.Phone(Citizen).Call(ctx, "12345")
	if err != nil {
		t.Fatal(err)
	}
	var rec callflow.CallRecord
	waitFor(t, "caller talking with the 12345 agent", func() bool {
		for _, r := range env.Controller.Calls() {
			if len(r.Legs) > 1 && r.Legs[0].ChannelID == cit.ChannelID() && r.State == callflow.StateTalking.String() {
				rec = r
				return true
			}
		}
		return false
	})
	first := rec.Legs[1].ChannelID
	partners := func() []string {
		bridges, err := env.PBX.Bridges(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bridges {
			if slices.Contains(b.Channels, cit.ChannelID()) {
				return slices.DeleteFunc(slices.Clone(b.Channels), func(c string) bool { return c == cit.ChannelID() })
			}
		}
		return nil
	}
	race.arm(cit.ChannelID(), first)
	req := callflow.SoftkeyRequest{CallID: rec.ID, Key: key}
	if key == callflow.KeyTransfer {
		req.Category = env.Config.Matters.Names(string(callflow.Dir12345To110))[0]
	}
	res, err := env.Controller.Softkey(ctx, req)
	if err != nil || !res.Accepted {
		t.Fatalf("softkey: %+v %v", res, err)
	}
	select {
	case c := <-incoming:
		c.Answer()
	case <-ctx.Done():
		t.Fatal("110 never rang")
	}
	waitFor(t, "transfer settled", func() bool {
		r, _ := env.Controller.Call(rec.ID)
		return len(r.Transfers) == 1 && r.Transfers[0].Outcome != callflow.OutcomePending
	})
	race.mu.Lock()
	addErr, gone := race.addErr, race.gone
	race.mu.Unlock()
	if !errors.Is(addErr, callflow.ErrChannelGone) {
		t.Fatalf("the switch answered the add of hung-up %s with %v, want ErrChannelGone (the race was not forced)", gone, addErr)
	}
	waitFor(t, "caller back with the first agent", func() bool { return slices.Equal(partners(), []string{first}) })
	r, _ := env.Controller.Call(rec.ID)
	if r.State != callflow.StateTalking.String() || r.Transfers[0].Outcome == callflow.OutcomeCompleted || r.OwnerPlatform != callflow.Platform12345 {
		t.Errorf("after the race: state %s owner %s transfer %+v", r.State, r.OwnerPlatform, r.Transfers[0])
	}
	if cit.State() == sim.CallEnded {
		t.Fatal("the caller was hung up")
	}
	cit.Hangup()
	waitFor(t, "call ended and switch empty", func() bool {
		r, _ := env.Controller.Call(rec.ID)
		chans, err1 := env.PBX.Channels(ctx)
		bridges, err2 := env.PBX.Bridges(ctx)
		return r.State == callflow.StateEnded.String() && err1 == nil && err2 == nil && len(chans) == 0 && len(bridges) == 0
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
