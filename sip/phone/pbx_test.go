package phone

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"linkctl/sip/media"
)

// fakePBX is a minimal registrar and answering UAS written directly on sipgo, so
// the phone is tested against a SIP stack path other than its own: REGISTER with
// digest, INVITE answered with a tone, REFER answered 202 + NOTIFY sipfrags.
type fakePBX struct {
	t        *testing.T
	addr     string
	srv      *sipgo.Server
	dialogs  *sipgo.DialogServerCache
	password string

	mu         sync.Mutex
	registered map[string]string // user -> contact
	referTo    []string
}

func newFakePBX(t *testing.T, password string) *fakePBX {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().(*net.UDPAddr)
	ua, err := sipgo.NewUA(sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(ua)
	cli, _ := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(addr.Port))
	f := &fakePBX{
		t: t, addr: addr.String(), srv: srv, password: password,
		dialogs:    sipgo.NewDialogServerCache(cli, sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "pbx", Host: "127.0.0.1", Port: addr.Port}}),
		registered: map[string]string{},
	}
	srv.OnRegister(f.onRegister)
	srv.OnInvite(f.onInvite)
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = f.dialogs.ReadAck(req, tx) })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) { _ = f.dialogs.ReadBye(req, tx) })
	srv.OnRefer(f.onRefer)
	go srv.ServeUDP(conn)
	for {
		if _, err := ua.TransportLayer().GetConnection("udp", addr.String()); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(func() { ua.Close(); conn.Close() })
	return f
}

const realm = "linkctl-test"

func (f *fakePBX) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	h := req.GetHeader("Authorization")
	if h == nil {
		res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
		ch := digest.Challenge{Realm: realm, Nonce: "n0nce", Algorithm: "MD5", QOP: []string{"auth"}}
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", ch.String()))
		_ = tx.Respond(res)
		return
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	want, _ := digest.Digest(&digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, QOP: []string{cred.QOP}},
		digest.Options{Method: "REGISTER", URI: cred.URI, Username: cred.Username, Password: f.password, Count: cred.Nc, Cnonce: cred.Cnonce})
	if want == nil || want.Response != cred.Response {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
		return
	}
	f.mu.Lock()
	f.registered[cred.Username] = req.Contact().Address.String()
	f.mu.Unlock()
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
}

// onInvite answers every call with a 450 Hz tone (like a ringback the PBX plays).
func (f *fakePBX) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	dlg, err := f.dialogs.ReadInvite(req, tx)
	if err != nil {
		return
	}
	sess, err := media.NewSession(net.IPv4(127, 0, 0, 1))
	if err != nil {
		_ = dlg.Respond(503, "Service Unavailable", nil)
		return
	}
	answer, neg, err := media.AnswerOffer(req.Body(), sess.LocalAddr(), media.DefaultCodecs)
	if err != nil {
		sess.Close()
		_ = dlg.Respond(488, "Not Acceptable Here", nil)
		return
	}
	sess.SetRemote(neg.Remote, neg.Codec, neg.DTMFPT)
	go func() {
		defer sess.Close()
		tone := media.SineSource(450, 5000)
		frame := make([]int16, media.FrameSamples)
		tick := time.NewTicker(media.FrameDuration)
		defer tick.Stop()
		for {
			select {
			case <-dlg.Context().Done():
				return
			case <-tick.C:
				tone.Next(frame)
				sess.WriteFrame(frame)
			}
		}
	}()
	_ = dlg.RespondSDP(answer)
	<-dlg.Context().Done()
}

// onRefer accepts the transfer and reports progress with two NOTIFYs.
func (f *fakePBX) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	dlg, err := f.dialogs.MatchDialogRequest(req)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	f.mu.Lock()
	f.referTo = append(f.referTo, req.GetHeader("Refer-To").Value())
	f.mu.Unlock()
	_ = tx.Respond(sip.NewResponseFromRequest(req, 202, "Accepted", nil))
	go func() {
		for _, frag := range []string{"SIP/2.0 100 Trying", "SIP/2.0 200 OK"} {
			n := sip.NewRequest(sip.NOTIFY, req.Contact().Address)
			n.AppendHeader(sip.NewHeader("Event", "refer"))
			n.AppendHeader(sip.NewHeader("Subscription-State", "active;expires=60"))
			ct := sip.ContentTypeHeader("message/sipfrag;version=2.0")
			n.AppendHeader(&ct)
			n.SetBody([]byte(frag + "\r\n"))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, _ = dlg.Do(ctx, n)
			cancel()
		}
	}()
}

func TestRegisterWithDigest(t *testing.T) {
	pbx := newFakePBX(t, "s3cret")
	good := newPhone(t, "a12345-1001", 0, func(o *Options) { o.Registrar = pbx.addr; o.Password = "s3cret" })
	if err := good.Register(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	pbx.mu.Lock()
	contact := pbx.registered["a12345-1001"]
	pbx.mu.Unlock()
	if contact != good.URI() {
		t.Errorf("registered contact %q, want %q", contact, good.URI())
	}
	bad := newPhone(t, "a110-2001", 0, func(o *Options) { o.Registrar = pbx.addr; o.Password = "wrong" })
	err := bad.Register(ctxT(t, 5*time.Second))
	var re *RegisterError
	if !errors.As(err, &re) || re.Status != 403 {
		t.Errorf("wrong password: err = %v, want 403 RegisterError", err)
	}
}

func TestReferRecordsNotifies(t *testing.T) {
	pbx := newFakePBX(t, "x")
	agent := newPhone(t, "a12345-1001", 800, func(o *Options) { o.Registrar = pbx.addr })
	ctx := ctxT(t, 10*time.Second)
	call, err := agent.Call(ctx, "12345") // bare number: routed to the registrar
	if err != nil {
		t.Fatal(err)
	}
	if err := call.WaitHear(ctx, 450); err != nil {
		t.Fatalf("agent does not hear the PBX: %s", call.Heard())
	}
	if err := call.Refer("110"); err != nil {
		t.Fatal(err)
	}
	if err := call.WaitNotify(ctx, 200); err != nil {
		t.Fatalf("notifies %v: %v", call.Notifies(), err)
	}
	if got := call.Notifies(); len(got) != 2 || got[0] != "SIP/2.0 100 Trying" {
		t.Errorf("notifies %v", got)
	}
	pbx.mu.Lock()
	referTo := pbx.referTo
	pbx.mu.Unlock()
	if len(referTo) != 1 || referTo[0] != "<sip:110@"+pbx.addr+">" {
		t.Errorf("Refer-To %v", referTo)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
}
