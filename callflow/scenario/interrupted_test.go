package scenario

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"linkctl/ari/sim"
	"linkctl/callflow"
	"linkctl/store"
)

// The whole process dies mid-call (controller first, then the embedded switch with
// its channels): the SQLite store keeps the call "talking". The next start finds no
// channel of it, closes it as interrupted, and the store holds the ended version
// (found by outcome, no longer unfinished).
func TestCallCutOffByADeadProcessIsClosedOnStart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenarios skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := zaptest.NewLogger(t)
	cfg := Config()
	scfg := cfg.Store
	scfg.Path = filepath.Join(t.TempDir(), "linkctl.db")
	st, err := store.Open(ctx, scfg, log.Named("store"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	env, err := StartOpts(ctx, cfg, log, Options{Sink: st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Switch.Sim.Phone(Citizen).Call(ctx, "12345", sim.WithCallerID("市民", "13800138000")); err != nil {
		env.Close()
		t.Fatal(err)
	}
	var id string
	for id == "" {
		for _, r := range env.Controller.Calls() {
			if r.State == callflow.StateTalking.String() {
				id = r.ID
			}
		}
		select {
		case <-ctx.Done():
			env.Close()
			t.Fatal("the call never reached the agent")
		case <-time.After(20 * time.Millisecond):
		}
	}
	env.Close() // controller stops first: the hangups of the dying switch reach nobody
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := st.GetCall(ctx, id)
	if err != nil || before.Ended != nil {
		t.Fatalf("test setup: stored record %+v %v, want unfinished", before, err)
	}

	env2, err := StartOpts(ctx, Config(), log, Options{Sink: st})
	if err != nil {
		t.Fatal(err)
	}
	defer env2.Close()
	var got callflow.CallRecord
	for got.Ended == nil {
		select {
		case <-ctx.Done():
			t.Fatalf("the cut-off call stayed %s", got.State)
		case <-time.After(20 * time.Millisecond):
		}
		got, _ = st.GetCall(ctx, id)
	}
	if got.Outcome != string(callflow.OutcomeInterrupted) || got.State != callflow.StateEnded.String() || got.Version != before.Version+1 {
		t.Errorf("closed record: outcome %q state %s v%d (was v%d)", got.Outcome, got.State, got.Version, before.Version)
	}
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if u, err := st.UnfinishedCalls(ctx); err != nil || len(u) != 0 {
		t.Errorf("unfinished after the start: %d %v", len(u), err)
	}
	if l, err := st.ListCalls(ctx, store.CallFilter{Outcome: string(callflow.OutcomeInterrupted)}); err != nil || len(l) != 1 || l[0].ID != id {
		t.Errorf("by outcome interrupted: %+v %v", l, err)
	}
}
