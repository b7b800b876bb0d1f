package asteriskit

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"linkctl/ari/client"
	"linkctl/callflow"
	"linkctl/config"
	"linkctl/sip/phone"
)

// The core linkctl scenario on a real Asterisk with real SIP phones: a citizen
// calls 12345, the controller rings the 12345 agent, the agent transfers with
// one key, the 110 agent answers and takes the caller. Audio is checked on
// the phones (each hears the other's tone), state in the controller's record.
//
// It needs a PBX set up for it (docker/ is): the phones register as the
// endpoints named below, and the PBX's dialplan sends 12345 to the Stasis
// application the test runs (LINKCTL_ASTERISK_SCENARIO_APP, default linkctl,
// so stop the production linkctl first). Environment, on top of the ARI ones:
//
//	LINKCTL_ASTERISK_SCENARIOS=1          confirm this PBX may be used for scenario calls
//	LINKCTL_ASTERISK_SIP_REGISTRAR        host:port of the PBX's SIP (e.g. 127.0.0.1:5060)
//	LINKCTL_ASTERISK_PHONE_IP             local address the PBX can reach the phones at (default 127.0.0.1)
//	LINKCTL_ASTERISK_CITIZEN              user:password of the endpoint playing the citizen (e.g. a12345-1002:...)
//	LINKCTL_ASTERISK_AGENT_12345          user:password of the 12345 agent (e.g. a12345-1001:...)
//	LINKCTL_ASTERISK_AGENT_110            user:password of the 110 agent (e.g. a110-2001:...)
const (
	envScenarios = "LINKCTL_ASTERISK_SCENARIOS"
	envScenApp   = "LINKCTL_ASTERISK_SCENARIO_APP"
	envRegistrar = "LINKCTL_ASTERISK_SIP_REGISTRAR"
	envPhoneIP   = "LINKCTL_ASTERISK_PHONE_IP"
	envCitizen   = "LINKCTL_ASTERISK_CITIZEN"
	envAgent1    = "LINKCTL_ASTERISK_AGENT_12345"
	envAgent2    = "LINKCTL_ASTERISK_AGENT_110"
)

const (
	citizenHz = 600.0 // each tone must be in phone.DefaultListen
	agent1Hz  = 700.0
	agent2Hz  = 1100.0
)

type account struct{ user, pass string }

func accountFromEnv(t *testing.T, key string) account {
	t.Helper()
	u, p, ok := strings.Cut(os.Getenv(key), ":")
	if !ok || u == "" || p == "" {
		t.Skipf("SIP scenario skipped: %s must be user:password", key)
	}
	return account{u, p}
}

func TestOneKeyTransferOverSIP(t *testing.T) {
	tg := targetFromEnv(t)
	if os.Getenv(envScenarios) != "1" {
		t.Skipf("SIP scenario skipped: set %s=1 (and %s, %s, %s, %s) to place real calls through this PBX",
			envScenarios, envRegistrar, envCitizen, envAgent1, envAgent2)
	}
	registrar := os.Getenv(envRegistrar)
	if registrar == "" {
		t.Skipf("SIP scenario skipped: %s is not set", envRegistrar)
	}
	cit, ag1, ag2 := accountFromEnv(t, envCitizen), accountFromEnv(t, envAgent1), accountFromEnv(t, envAgent2)
	tg.app = getenv(envScenApp, "linkctl")
	ip := getenv(envPhoneIP, "127.0.0.1")
	log := zaptest.NewLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	newPhone := func(a account, hz float64, auto bool) *phone.Phone {
		p, err := phone.New(ctx, phone.Options{User: a.user, Password: a.pass, Registrar: registrar,
			ListenAddr: ip + ":0", ToneHz: hz, AutoAnswer: auto, AnswerDelay: 300 * time.Millisecond,
			Logger: log.Named(a.user)})
		if err != nil {
			t.Fatalf("phone %s: %v", a.user, err)
		}
		t.Cleanup(func() { _ = p.Close() })
		if err := p.Register(ctx); err != nil {
			t.Fatalf("register %s at %s: %v", a.user, registrar, err)
		}
		t.Cleanup(func() {
			c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_ = p.Unregister(c)
		})
		return p
	}
	citizen := newPhone(cit, citizenHz, false)
	agent1 := newPhone(ag1, agent1Hz, true)
	agent2 := newPhone(ag2, agent2Hz, true)

	pbx, err := client.New(client.Options{URL: tg.base, WebsocketURL: tg.ws, Username: tg.user, Password: tg.pass,
		Application: tg.app, RequestTimeout: 5 * time.Second, Logger: log.Named("ari")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cc := &cfg.Controller
	cc.Groups = map[string]config.GroupConfig{
		"12345": {Agents: []string{"PJSIP/" + ag1.user}, Strategy: "ring-all", RingTimeout: config.Duration(20 * time.Second)},
		"110":   {Agents: []string{"PJSIP/" + ag2.user}, Strategy: "ring-all", RingTimeout: config.Duration(20 * time.Second)},
	}
	cc.TransferRingTimeout = config.Duration(20 * time.Second)
	ctl, err := callflow.New(pbx, callflow.Options{Config: *cc, Matters: cfg.Matters, Logger: log.Named("callflow")})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	pbxRan, ran := make(chan struct{}), make(chan struct{})
	go func() { defer close(pbxRan); _ = pbx.Run(rctx) }()
	go func() { defer close(ran); _ = ctl.Run(rctx) }()
	defer func() { stop(); <-ran; <-pbxRan }()
	for !pbx.Connected() {
		if ctx.Err() != nil {
			t.Fatal("controller never connected to ARI")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// 1. The citizen calls 12345 and ends up talking with the 12345 agent.
	call, err := citizen.Call(ctx, "12345")
	if err != nil {
		t.Fatalf("citizen call to 12345: %v", err)
	}
	if err := call.WaitHear(within(ctx, t, 15*time.Second), agent1Hz); err != nil {
		t.Fatalf("citizen never heard the 12345 agent: %v (heard %v)", err, call.Heard())
	}
	a1, err := agent1.WaitCall(within(ctx, t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := a1.WaitHear(within(ctx, t, 5*time.Second), citizenHz); err != nil {
		t.Fatalf("12345 agent never heard the citizen: %v", err)
	}
	var id string
	for id == "" && ctx.Err() == nil {
		for _, r := range ctl.Calls() {
			if r.State == callflow.StateTalking.String() && r.FirstPlatform == callflow.Platform12345 {
				id = r.ID
			}
		}
		time.Sleep(10 * time.Millisecond)
	}

	// 2. One-key transfer to 110.
	category := ctl.Matters().Names(string(callflow.Dir12345To110))[0]
	res, err := ctl.Softkey(ctx, callflow.SoftkeyRequest{CallID: id, Key: callflow.KeyTransfer, Category: category,
		TicketID: "GD-IT-000001", Source: callflow.SourceHTTP})
	if err != nil || !res.Accepted {
		t.Fatalf("transfer softkey: %+v %v", res, err)
	}
	a2, err := agent2.WaitCall(within(ctx, t, 15*time.Second))
	if err != nil {
		t.Fatalf("110 agent never rang: %v", err)
	}
	if got := a2.Header(callflow.HeaderCallID); got != id {
		t.Errorf("110 INVITE %s = %q, want %q", callflow.HeaderCallID, got, id)
	}
	if err := call.WaitHear(within(ctx, t, 10*time.Second), agent2Hz); err != nil {
		t.Fatalf("citizen never heard the 110 agent: %v", err)
	}
	if err := call.WaitNotHear(within(ctx, t, 5*time.Second), agent1Hz); err != nil {
		t.Errorf("citizen still hears the 12345 agent after the transfer: %v", err)
	}
	select {
	case <-a1.Done():
	case <-ctx.Done():
		t.Error("the 12345 agent was not released after the transfer")
	}
	r, _ := ctl.Call(id)
	if len(r.Transfers) != 1 || r.Transfers[0].Outcome != callflow.OutcomeCompleted || r.OwnerPlatform != callflow.Platform110 {
		t.Errorf("record after transfer: owner %s transfers %+v", r.OwnerPlatform, r.Transfers)
	}

	// 3. The citizen hangs up; the call ends everywhere.
	if err := call.Hangup(ctx); err != nil {
		t.Fatalf("citizen hangup: %v", err)
	}
	select {
	case <-a2.Done():
	case <-ctx.Done():
		t.Error("the 110 agent's call did not end after the citizen hung up")
	}
	for ctx.Err() == nil {
		if r, _ := ctl.Call(id); r.State == callflow.StateEnded.String() {
			if r.Outcome != string(callflow.OutcomeCompleted) {
				t.Errorf("call outcome %q, want %q", r.Outcome, callflow.OutcomeCompleted)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the call never ended in the controller")
}

// within bounds one step of the scenario.
func within(ctx context.Context, t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(ctx, d)
	t.Cleanup(cancel)
	return c
}
