package tech_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"linkctl/config"
	"linkctl/sip/phone"
)

// Real phones (sip/phone: SIP + RTP with their own tones) through the
// embedded switch: a citizen calls 12345, the app answers, originates the
// registered 110 agent and bridges both; each hears the other's tone; the
// citizen's RFC 4733 "*1" arrives as ChannelDtmfReceived and ARI DTMF "12"
// reaches the citizen as RFC 4733; the agent's hold key gives ChannelHold /
// ChannelUnhold; neither party's DTMF is relayed to the other; the agent's
// transfer key (REFER) becomes ChannelTransfer and transfer_progress comes
// back to the phone as NOTIFY sipfrag.
func TestE2EPhonesAudioDTMFTransfer(t *testing.T) {
	h := startSwitch(t, func(c *config.SIPConfig) {
		c.Accounts = []config.SIPAccount{{Username: "a110-2001", Password: "pw", Platform: "110", AgentID: "2001"}}
	})
	h.connect("linkctl")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	registrar := h.tc.UDPAddr().String()

	agent, err := phone.New(ctx, phone.Options{User: "a110-2001", Password: "pw", Registrar: registrar, ToneHz: 1000, AutoAnswer: true, AnswerDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	if err := agent.Register(ctx); err != nil {
		t.Fatal(err)
	}
	citizen, err := phone.New(ctx, phone.Options{User: "citizen", Registrar: registrar, ToneHz: 440})
	if err != nil {
		t.Fatal(err)
	}
	defer citizen.Close()

	calls := make(chan *phone.Call, 1)
	go func() {
		c, err := citizen.Call(ctx, "12345")
		if err != nil {
			t.Errorf("citizen call: %v", err)
			close(calls)
			return
		}
		calls <- c
	}()
	ss := h.event("StasisStart", nil)
	inID := ss["channel"].(map[string]any)["id"].(string)
	if st, _ := h.ari("POST", "/channels/"+inID+"/answer", nil); st != 204 {
		t.Fatalf("answer -> %d", st)
	}
	citizenCall := <-calls
	if citizenCall == nil {
		t.Fatal("citizen call failed")
	}
	if st, body := h.ari("POST", "/channels?endpoint=PJSIP/a110-2001&app=linkctl&appArgs=outbound,110&channelId=lk-agent", nil); st != 200 {
		t.Fatalf("originate -> %d %v", st, body)
	}
	h.event("StasisStart", func(ev map[string]any) bool { return ev["channel"].(map[string]any)["id"] == "lk-agent" })
	agentCall, err := agent.WaitCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := h.ari("POST", "/bridges?bridgeId=b1&type=mixing", nil); st != 200 {
		t.Fatalf("create bridge -> %d", st)
	}
	if st, _ := h.ari("POST", "/bridges/b1/addChannel?channel="+inID+",lk-agent", nil); st != 204 {
		t.Fatalf("addChannel -> %d", st)
	}
	if err := citizenCall.WaitHear(ctx, 1000); err != nil {
		t.Fatalf("citizen never heard the agent's 1000 Hz: %v", err)
	}
	if err := agentCall.WaitHear(ctx, 440); err != nil {
		t.Fatalf("agent never heard the citizen's 440 Hz: %v", err)
	}

	if err := citizenCall.SendDTMF("*1"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"*", "1"} {
		h.event("ChannelDtmfReceived", func(ev map[string]any) bool {
			return ev["digit"] == d && ev["channel"].(map[string]any)["id"] == inID
		})
	}

	// The agent's feature code (*1) is for the controller only: the switch reports
	// it and relays nothing of it into the bridge, so the citizen gets no RFC 4733
	// event (Asterisk would relay it as a DTMF frame; the controller could not stop that).
	if err := agentCall.SendDTMF("*1"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"*", "1"} {
		h.event("ChannelDtmfReceived", func(ev map[string]any) bool {
			return ev["digit"] == d && ev["channel"].(map[string]any)["id"] == "lk-agent"
		})
	}
	time.Sleep(200 * time.Millisecond) // a relayed event would be on the wire by now
	if got := citizenCall.Digits(); got != "" {
		t.Errorf("citizen received the agent's feature code digits %q", got)
	}
	if got := agentCall.Digits(); got != "" {
		t.Errorf("agent received the citizen's digits %q", got)
	}

	// The agent's hold key: re-INVITE sendonly -> ChannelHold, resume -> ChannelUnhold.
	if err := agentCall.Hold(); err != nil {
		t.Fatal(err)
	}
	h.event("ChannelHold", func(ev map[string]any) bool { return ev["channel"].(map[string]any)["id"] == "lk-agent" })
	if err := agentCall.Unhold(); err != nil {
		t.Fatal(err)
	}
	h.event("ChannelUnhold", func(ev map[string]any) bool { return ev["channel"].(map[string]any)["id"] == "lk-agent" })
	if err := citizenCall.WaitHear(ctx, 1000); err != nil {
		t.Fatalf("citizen lost the agent after unhold: %v", err)
	}

	// ARI DTMF towards the citizen goes out as RFC 4733 (trace t09).
	if st, _ := h.ari("POST", "/channels/"+inID+"/dtmf?dtmf=12", nil); st != 204 {
		t.Fatalf("POST dtmf -> %d", st)
	}
	if err := citizenCall.WaitDigits(ctx, "12"); err != nil {
		t.Fatalf("citizen never received DTMF 12: %v (got %q)", err, citizenCall.Digits())
	}

	if err := agentCall.Refer("110"); err != nil {
		t.Fatal(err)
	}
	tr := h.event("ChannelTransfer", nil)
	if dest := fmt.Sprint(tr["refer_to"]); !strings.Contains(dest, "110") {
		t.Fatalf("ChannelTransfer refer_to %s", dest)
	}
	for _, st := range []string{"channel_progress", "channel_answered"} {
		if code, _ := h.ari("POST", "/channels/lk-agent/transfer_progress?states="+st, nil); code != 204 {
			t.Fatalf("transfer_progress %s -> %d", st, code)
		}
	}
	if err := agentCall.WaitNotify(ctx, 200); err != nil {
		t.Fatalf("agent phone got no NOTIFY 200: %v (notifies %q)", err, agentCall.Notifies())
	}
	if n := agentCall.Notifies(); len(n) != 2 || !strings.Contains(n[0], "100 Trying") {
		t.Fatalf("NOTIFY sipfrags %q", n)
	}

	if st, _ := h.ari("DELETE", "/channels/"+inID, nil); st != 204 {
		t.Fatalf("DELETE -> %d", st)
	}
	select {
	case <-citizenCall.Done():
	case <-ctx.Done():
		t.Fatal("citizen call not ended by DELETE")
	}
}
