package media

import (
	"errors"
	"net"
	"strings"
	"testing"
)

var local = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 10000}

func TestBuildOfferShape(t *testing.T) {
	offer, err := BuildOffer(local, 42, DefaultCodecs)
	if err != nil {
		t.Fatal(err)
	}
	s := string(offer)
	for _, want := range []string{
		"v=0\r\n", "o=linkctl 42 42 IN IP4 127.0.0.1\r\n", "c=IN IP4 127.0.0.1\r\n", "t=0 0\r\n",
		"m=audio 10000 RTP/AVP 0 8 101\r\n", "a=rtpmap:0 PCMU/8000\r\n", "a=rtpmap:8 PCMA/8000\r\n",
		"a=rtpmap:101 telephone-event/8000\r\n", "a=fmtp:101 0-16\r\n", "a=ptime:20\r\n", "a=sendrecv\r\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("offer lacks %q:\n%s", want, s)
		}
	}
}

// asteriskOffer is an INVITE body as Asterisk 22 sends it (allow=ulaw,alaw, rfc4733).
const asteriskOffer = "v=0\r\no=- 1870123 1870123 IN IP4 127.0.0.1\r\ns=Asterisk\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 10042 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=maxptime:150\r\na=sendrecv\r\n"

func TestAnswerOffer(t *testing.T) {
	tests := []struct {
		name      string
		offer     string
		supported []Codec
		wantCodec Codec
		wantDTMF  uint8
		wantDir   string
		wantAns   []string
		wantErr   error
	}{
		{name: "asterisk ulaw first", offer: asteriskOffer, supported: DefaultCodecs,
			wantCodec: PCMU, wantDTMF: 101, wantDir: SendRecv, wantAns: []string{"m=audio 20000 RTP/AVP 0 101\r\n", "a=sendrecv"}},
		{name: "we only do alaw", offer: asteriskOffer, supported: []Codec{PCMA},
			wantCodec: PCMA, wantDTMF: 101, wantDir: SendRecv, wantAns: []string{"m=audio 20000 RTP/AVP 8 101\r\n"}},
		{name: "hold sendonly", offer: strings.Replace(asteriskOffer, "a=sendrecv", "a=sendonly", 1), supported: DefaultCodecs,
			wantCodec: PCMU, wantDTMF: 101, wantDir: SendOnly, wantAns: []string{"a=recvonly"}},
		{name: "rfc2543 hold", offer: strings.Replace(asteriskOffer, "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", 1), supported: DefaultCodecs,
			wantCodec: PCMU, wantDTMF: 101, wantDir: Inactive},
		{name: "static pt without rtpmap, no dtmf", offer: "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\n",
			supported: DefaultCodecs, wantCodec: PCMA, wantDir: SendRecv, wantAns: []string{"m=audio 20000 RTP/AVP 8\r\n"}},
		{name: "video rejected, audio kept", offer: "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n" +
			"m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio 4000 RTP/AVP 0\r\n",
			supported: DefaultCodecs, wantCodec: PCMU, wantDir: SendRecv, wantAns: []string{"m=video 0 RTP/AVP 96\r\n", "m=audio 20000 RTP/AVP 0\r\n"}},
		{name: "dynamic pt renamed", offer: "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96 97\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:97 pcma/8000\r\n",
			supported: DefaultCodecs, wantCodec: Codec{Name: "pcma", PT: 97, Rate: 8000}, wantDir: SendRecv},
		{name: "opus only", offer: "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n",
			supported: DefaultCodecs, wantErr: ErrNoCommonCodec},
		{name: "srtp only", offer: strings.Replace(asteriskOffer, "RTP/AVP", "RTP/SAVP", 1), supported: DefaultCodecs, wantErr: ErrNoAudio},
		{name: "no c line", offer: "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", supported: DefaultCodecs, wantErr: ErrSDPMalformed},
		{name: "hostname", offer: strings.Replace(asteriskOffer, "c=IN IP4 127.0.0.1", "c=IN IP4 pbx.example", 1), supported: DefaultCodecs, wantErr: ErrSDPMalformed},
		{name: "port too big", offer: strings.Replace(asteriskOffer, "m=audio 10042", "m=audio 99999", 1), supported: DefaultCodecs, wantErr: ErrSDPMalformed},
		{name: "garbage", offer: "hello", supported: DefaultCodecs, wantErr: ErrSDPMalformed},
		{name: "empty", offer: "", supported: DefaultCodecs, wantErr: ErrSDPMalformed},
		{name: "absurd size", offer: asteriskOffer + strings.Repeat("a=x:y\r\n", 5000), supported: DefaultCodecs, wantErr: ErrSDPMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans, neg, err := AnswerOffer([]byte(tt.offer), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 20000}, tt.supported)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if neg.Codec != tt.wantCodec || neg.DTMFPT != tt.wantDTMF || neg.Direction != tt.wantDir {
				t.Errorf("negotiated %+v, want codec %v dtmf %d dir %s", neg, tt.wantCodec, tt.wantDTMF, tt.wantDir)
			}
			for _, w := range tt.wantAns {
				if !strings.Contains(string(ans), w) {
					t.Errorf("answer lacks %q:\n%s", w, ans)
				}
			}
			// our own answer must be readable by the offerer
			if _, err := ParseAnswer(ans, tt.supported); err != nil {
				t.Errorf("answer does not parse back: %v\n%s", err, ans)
			}
		})
	}
}

func TestOfferAnswerRoundTrip(t *testing.T) {
	offer, err := Offer{Local: local, SessionID: 7, Version: 8, Codecs: []Codec{PCMA, PCMU}, Direction: SendOnly}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	remote := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 30000}
	ans, negB, err := AnswerOffer(offer, remote, DefaultCodecs)
	if err != nil {
		t.Fatal(err)
	}
	if negB.Codec != PCMA || !negB.OnHold() || negB.Remote.String() != "127.0.0.1:10000" {
		t.Errorf("answerer negotiated %+v", negB)
	}
	negA, err := ParseAnswer(ans, []Codec{PCMA, PCMU})
	if err != nil {
		t.Fatal(err)
	}
	if negA.Codec != PCMA || negA.DTMFPT != DefaultDTMFPT || negA.Direction != RecvOnly || negA.Remote.String() != "127.0.0.1:30000" {
		t.Errorf("offerer negotiated %+v", negA)
	}
}

func FuzzAnswerOffer(f *testing.F) {
	f.Add([]byte(asteriskOffer))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96 97\r\na=rtpmap:97 pcma/8000\r\n"))
	f.Add([]byte("v=0\r\nm=audio 0 RTP/AVP\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ans, neg, err := AnswerOffer(data, local, DefaultCodecs)
		if err != nil {
			if !errors.Is(err, ErrSDPMalformed) && !errors.Is(err, ErrNoAudio) && !errors.Is(err, ErrNoCommonCodec) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if neg.Remote == nil || !neg.Codec.Supported() {
			t.Fatalf("accepted offer gave %+v", neg)
		}
		if _, err := ParseAnswer(ans, DefaultCodecs); err != nil {
			t.Fatalf("own answer unparseable: %v\n%s", err, ans)
		}
	})
}
