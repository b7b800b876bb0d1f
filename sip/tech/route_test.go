package tech

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// An INVITE that came through a proxy (Record-Route): our 200 OK echoes the
// Record-Route and our BYE follows it as a Route set to the proxy.
func TestRecordRouteFollowed(t *testing.T) {
	eng := newFakeEngine()
	tc := startTech(t, testConfig(), eng, nil)
	proxy := newPeer(t, "proxy") // stands in for the proxy: receives the routed BYE
	citizen := newPeer(t, "citizen")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	rr := fmt.Sprintf("<sip:127.0.0.1:%d;lr>", proxy.addr.Port)
	dlg, err := citizen.invite(ctx, tc, "12345", sippOffer(6100, "0 101"), sip.NewHeader("Record-Route", rr))
	if err != nil {
		t.Fatal(err)
	}
	ch := eng.nextInbound(t)
	if err := tc.Answer(ch); err != nil {
		t.Fatal(err)
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := header(dlg.InviteResponse, "Record-Route"); got != rr {
		t.Fatalf("200 OK Record-Route = %q, want %q", got, rr)
	}
	// ACK straight to us (the stand-in proxy does not forward).
	ack := sip.NewRequest(sip.ACK, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: tc.UDPAddr().Port})
	ack.AppendHeader(sip.HeaderClone(dlg.InviteRequest.From()))
	ack.AppendHeader(sip.HeaderClone(dlg.InviteResponse.To()))
	ack.AppendHeader(sip.HeaderClone(dlg.InviteRequest.CallID()))
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: dlg.InviteRequest.CSeq().SeqNo, MethodName: sip.ACK})
	if err := citizen.cli.WriteRequest(ack); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := tc.Hangup(ch, 16); err != nil {
		t.Fatal(err)
	}
	bye := proxy.await(gotRequest(sip.BYE), "BYE routed via the proxy")
	if got := header(bye, "Route"); got != rr {
		t.Fatalf("BYE Route = %q, want %q", got, rr)
	}
	if got := bye.(*sip.Request).Recipient.User; got != "citizen" {
		t.Fatalf("BYE Request-URI %s, want the caller's Contact", bye.(*sip.Request).Recipient.String())
	}
}

// REGISTER and a call over TCP: the binding remembers the transport, the
// INVITE goes back over TCP and our Contact says transport=tcp.
func TestTCPRegisterAndCall(t *testing.T) {
	tc := startTech(t, agentConfig(), newFakeEngine(), nil)
	agent, err := sipgo.NewUA(sipgo.WithUserAgent("tcp-phone"))
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	srv, _ := sipgo.NewServer(agent)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	invites := make(chan *sip.Request, 1)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		invites <- req
		tx.Respond(sip.NewResponseFromRequest(req, 486, "Busy Here", nil))
	})
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {})
	go srv.ServeTCP(ln)
	cli, _ := sipgo.NewClient(agent, sipgo.WithClientHostname("127.0.0.1"))

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	reg := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: tc.TCPAddr().Port, UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}}})
	reg.SetTransport("TCP")
	aor := sip.Uri{Scheme: "sip", User: "a110-2001", Host: "127.0.0.1"}
	reg.AppendHeader(&sip.ToHeader{Address: aor})
	reg.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "a110-2001", Host: "127.0.0.1", Port: port, UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}}}})
	res, err := cli.Do(ctx, reg)
	if err == nil && res.StatusCode == 401 {
		res, err = cli.DoDigestAuth(ctx, reg, res, sipgo.DigestAuth{Username: "a110-2001", Password: "pw-2001"})
	}
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("REGISTER over TCP: %v %v", res, err)
	}
	ch := newFakeChan("tcp-out")
	if err := tc.Dial(ctx, ch, "a110-2001", dialOpts()); err != nil {
		t.Fatal(err)
	}
	select {
	case inv := <-invites:
		if !strings.EqualFold(inv.Transport(), "tcp") || !strings.Contains(header(inv, "Contact"), "transport=tcp") {
			t.Fatalf("INVITE over %s with Contact %q", inv.Transport(), header(inv, "Contact"))
		}
	case <-time.After(waitFor):
		t.Fatal("no INVITE over TCP")
	}
	ch.expect(t, "hangup:17")
	waitNoDialogs(t, tc)
}
