package media

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/pion/rtp"
)

// Parsers of outside input: WAV files named by ARI clients, tone URIs from ARI
// play requests, RTP packets from the network.

func FuzzParseWAV(f *testing.F) {
	f.Add(EncodeWAV(make([]int16, 10)))
	f.Add(wavHeader(wavFormatULaw, 8, 8000, 1, []byte{1, 2, 3}))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		clip, err := ParseWAV(data)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedWAV) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		frame := make([]int16, FrameSamples)
		src := clip.Source()
		for n := 0; src.Next(frame); n++ {
			if n > len(data) {
				t.Fatal("clip longer than its file")
			}
		}
	})
}

func FuzzToneURI(f *testing.F) {
	f.Add("tone:ring;tonezone=cn")
	f.Add("tone:!350+440/100,!0/100,350*440")
	f.Add("tone:425/50,0/50;tonezone=US")
	f.Fuzz(func(t *testing.T, uri string) {
		src, err := ToneFromURI(uri)
		if err != nil {
			if !errors.Is(err, ErrUnknownTone) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		frame := make([]int16, FrameSamples)
		for range 10 {
			src.Next(frame)
		}
	})
}

func FuzzRTPReceive(f *testing.F) {
	s, err := NewSession(net.IPv4(127, 0, 0, 1))
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	peer := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}
	s.SetRemote(peer, PCMU, 101)
	from := netip.MustParseAddrPort("127.0.0.1:4000")
	good, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 7, SSRC: 1}, Payload: make([]byte, 160)}).Marshal()
	dtmf, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SSRC: 1}, Payload: []byte{1, 0x80, 0, 160}}).Marshal()
	f.Add(good)
	f.Add(dtmf)
	f.Add([]byte{0x80, 101, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9})
	frame := make([]int16, FrameSamples)
	f.Fuzz(func(t *testing.T, data []byte) {
		var pkt rtp.Packet
		if pkt.Unmarshal(data) != nil || pkt.Version != 2 {
			return
		}
		s.receive(&pkt, from, len(data))
		s.ReadFrame(frame)
	})
}
