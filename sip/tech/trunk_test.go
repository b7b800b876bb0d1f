package tech

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"linkctl/ari/engine"
	"linkctl/config"
)

func trunkConfig(addr string, interval time.Duration) config.SIPConfig {
	cfg := testConfig()
	cfg.Trunks = []config.SIPTrunk{{Name: "to110", Platform: "110", Address: addr, OptionsInterval: config.Duration(interval)}}
	return cfg
}

// OPTIONS probes mark a trunk up while the peer answers and down once it
// stops; a down trunk cannot be dialled and its platform is unreachable.
func TestTrunkHealth(t *testing.T) {
	peer110 := newPeer(t, "pbx110")
	tc := startTech(t, trunkConfig(peer110.addr.String(), 200*time.Millisecond), newFakeEngine(), nil)

	waitTrunk(t, tc, TrunkUp)
	peer110.await(gotRequest(sip.OPTIONS), "OPTIONS probe")
	if !tc.PlatformReachable("110") || tc.PlatformReachable("12345") {
		t.Fatal("PlatformReachable wrong while up")
	}
	if !tc.Exists("110@to110") || endpointState(tc, "to110") != "online" {
		t.Fatal("trunk not dialable/online while up")
	}

	peer110.ua.Close()
	peer110.conn.Close()
	waitTrunk(t, tc, TrunkDown)
	if tc.PlatformReachable("110") {
		t.Fatal("platform reachable with its only trunk down")
	}
	if tc.Exists("110@to110") || endpointState(tc, "to110") != "offline" {
		t.Fatal("down trunk still dialable/online")
	}
	if err := tc.Dial(context.Background(), newFakeChan("x"), "110@to110", engine.DialOptions{}); err == nil {
		t.Fatal("dial over a down trunk succeeded")
	}
	st := tc.Trunks()
	if len(st) != 1 || st[0].LastError == "" || st[0].Platform != "110" {
		t.Fatalf("Trunks() = %+v", st)
	}
}

func waitTrunk(t *testing.T, tc *Tech, want TrunkState) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		st := tc.Trunks()
		if len(st) > 0 && st[0].State == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("trunk state %+v, want %s", st, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Calls across a trunk: outbound "110@to110" puts 110 in the Request-URI;
// inbound from the trunk's address is identified as endpoint to110.
func TestTrunkCalls(t *testing.T) {
	pbx := newPeer(t, "pbx110")
	pbx.answerWith(180, 200)
	eng := newFakeEngine()
	tc := startTech(t, trunkConfig(pbx.addr.String(), 0), eng, nil)

	ch := newFakeChan("xfer")
	if err := tc.Dial(context.Background(), ch, "110@to110", engine.DialOptions{CallerIDNumber: "12345"}); err != nil {
		t.Fatal(err)
	}
	inv := pbx.await(gotRequest(sip.INVITE), "INVITE").(*sip.Request)
	if inv.Recipient.User != "110" || inv.Recipient.Port != pbx.addr.Port {
		t.Fatalf("Request-URI %s", inv.Recipient.String())
	}
	ch.expect(t, "ringing")
	ch.expect(t, "answered")

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := pbx.invite(ctx, tc, "12345", sippOffer(6100, "0 101")); err != nil {
		t.Fatal(err)
	}
	in := eng.nextInbound(t)
	if in.call.Endpoint != "to110" || in.call.Exten != "12345" {
		t.Fatalf("inbound from trunk = %+v", in.call)
	}
}

// A trunk peer that challenges our INVITE with 401: we retry with digest
// credentials from the trunk's config and the call is answered.
func TestTrunkDigestAuth(t *testing.T) {
	agent, err := sipgo.NewUA(sipgo.WithUserAgent("pbx110"))
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	srv, _ := sipgo.NewServer(agent)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	cli, _ := sipgo.NewClient(agent)
	dua := &sipgo.DialogUA{Client: cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: pc.LocalAddr().(*net.UDPAddr).Port}}}
	const realm, nonce = "pbx110", "abc123"
	authorized := make(chan string, 2)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		h := req.GetHeader("Authorization")
		if h == nil {
			ch := digest.Challenge{Realm: realm, Nonce: nonce, Algorithm: "MD5"}
			res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
			res.AppendHeader(sip.NewHeader("WWW-Authenticate", ch.String()))
			tx.Respond(res)
			return
		}
		cred, err := digest.ParseCredentials(h.Value())
		if err != nil {
			tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
			return
		}
		want, _ := digest.Digest(&digest.Challenge{Realm: realm, Nonce: nonce, Algorithm: "MD5"},
			digest.Options{Method: "INVITE", URI: cred.URI, Username: "linkctl12345", Password: "trunk-secret"})
		if cred.Response != want.Response {
			tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
			return
		}
		authorized <- cred.Username
		dlg, err := dua.ReadInvite(req, tx)
		if err != nil {
			return
		}
		if dlg.RespondSDP(sippOffer(40000, "0 101")) == nil {
			<-dlg.Context().Done()
		}
	})
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {})
	go srv.ServeUDP(pc)

	cfg := trunkConfig(pc.LocalAddr().String(), 0)
	cfg.Trunks[0].Username = "linkctl12345"
	cfg.Trunks[0].Password = "trunk-secret"
	tc := startTech(t, cfg, newFakeEngine(), nil)
	ch := newFakeChan("auth")
	if err := tc.Dial(context.Background(), ch, "110@to110", engine.DialOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case u := <-authorized:
		if u != "linkctl12345" {
			t.Fatalf("authorized as %q", u)
		}
	case <-time.After(waitFor):
		t.Fatal("INVITE never retried with credentials")
	}
	ch.expect(t, "answered")
}
