package tech

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"

	"linkctl/sip/sipcause"
)

func seedTorture(f *testing.F) {
	files, _ := filepath.Glob("testdata/torture/*.dat")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// FuzzSIPRequest drives the inbound request path we own — INVITE vetting
// (SDP, endpoint identification), header copying, Refer-To, INFO DTMF,
// User-to-User and Reason parsing — with arbitrary datagrams. None may
// panic, and an accepted INVITE must come with usable media.
func FuzzSIPRequest(f *testing.F) {
	seedTorture(f)
	f.Add([]byte("INVITE sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\nFrom: <sip:citizen@127.0.0.1>;tag=1\r\n" +
		"To: <sip:12345@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:citizen@127.0.0.1:5070>\r\n" +
		"User-to-User: 47442D323032362D303030343536;encoding=hex\r\nContent-Type: application/sdp\r\nContent-Length: 109\r\n\r\n" + goodSDP))
	f.Add([]byte("INFO sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>;tag=2\r\nCall-ID: x\r\nCSeq: 2 INFO\r\n" +
		"Content-Type: application/dtmf-relay\r\nContent-Length: 24\r\n\r\nSignal=*\r\nDuration=250\r\n"))
	f.Add([]byte("REFER sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK3\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>;tag=2\r\nCall-ID: x\r\nCSeq: 3 REFER\r\n" +
		"Refer-To: <sip:110@127.0.0.1>\r\nReason: Q.850;cause=16\r\nContent-Length: 0\r\n\r\n"))
	tc, err := New(Options{Config: agentConfig()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sip.ParseMessage(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		_ = inboundHeaders(req)
		if req.Method == sip.INVITE {
			v := tc.vetInvite(req)
			if !v.rejected() {
				if v.endpoint == "" || (!v.lateOffer && v.media.Addr == nil) {
					t.Fatalf("accepted INVITE without media/endpoint: %+v", v)
				}
				if n := v.media.Codec.Name; !v.lateOffer && n != "PCMU" && n != "PCMA" {
					t.Fatalf("accepted codec %+v", v.media.Codec)
				}
			} else if v.status < 400 || v.status > 699 {
				t.Fatalf("rejected with status %d", v.status)
			}
		}
		if h := req.GetHeader("Refer-To"); h != nil {
			if d, err := referDestination(h.Value()); err == nil && d == "" {
				t.Fatal("empty destination without error")
			}
		}
		if ct := req.ContentType(); ct != nil {
			if d, ms, ok := parseINFODTMF(ct.Value(), req.Body()); ok && (normalizeDigit(d) != d || ms <= 0) {
				t.Fatalf("INFO digit %q duration %d", d, ms)
			}
		}
		if h := req.GetHeader("User-to-User"); h != nil {
			checkUUI(t, h.Value())
		}
		if h := req.GetHeader("Reason"); h != nil {
			if c, ok := sipcause.ParseReason(h.Value()); ok && (c < 1 || c > 127) {
				t.Fatalf("cause %d", c)
			}
		}
	})
}

func checkUUI(t *testing.T, v string) {
	data, err := ParseUserToUser(v)
	if err != nil {
		return
	}
	back, err := ParseUserToUser(FormatUserToUser(data))
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("User-to-User %q: decoded %x, re-encoded round trip %x %v", v, data, back, err)
	}
}

// FuzzUserToUser: decoding never panics, and whatever decodes survives a
// FormatUserToUser round trip.
func FuzzUserToUser(f *testing.F) {
	for _, s := range []string{
		"47442D323032362D303030313233;encoding=hex",
		"47442d323032362d303030313233",
		"hello;encoding=ascii",
		";encoding=hex", "4;encoding=hex", "zz;encoding=hex", "",
		`0102;purpose=isdn-uui;content=isdn-uui;encoding="hex"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) { checkUUI(t, v) })
}

// FuzzSDP: SDP parsing never panics and never returns a codec we did not offer.
func FuzzSDP(f *testing.F) {
	f.Add([]byte(goodSDP))
	f.Add(sippOffer(6100, "0 8 101"))
	f.Add(sippOffer(0, "18"))
	f.Add([]byte("v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 1 RTP/AVP 8\r\na=inactive\r\n"))
	supported := []Codec{CodecPCMU, CodecPCMA}
	f.Fuzz(func(t *testing.T, body []byte) {
		rm, err := parseSDP(body, supported)
		if err != nil {
			return
		}
		if rm.Addr == nil || rm.Addr.Port <= 0 || rm.Addr.Port > 65535 {
			t.Fatalf("bad address %v", rm.Addr)
		}
		if rm.Codec.Name != "PCMU" && rm.Codec.Name != "PCMA" {
			t.Fatalf("codec %+v", rm.Codec)
		}
		switch rm.Direction {
		case SendRecv, SendOnly, RecvOnly, Inactive:
		default:
			t.Fatalf("direction %q", rm.Direction)
		}
	})
}
