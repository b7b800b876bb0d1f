package sipp

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/pion/rtp"

	"linkctl/sip/media"
)

// Two real senders on loopback: one stream with a gap of 3 sequence numbers and
// audible frames, one silent; the counter must tell them apart and count right.
func TestRTPCounter(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := NewRTPCounter(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	loud := make([]int16, media.FrameSamples)
	for i := range loud {
		loud[i] = 6000
		if i%2 == 1 {
			loud[i] = -6000
		}
	}
	quiet := make([]int16, media.FrameSamples)
	send := func(conn net.Conn, ssrc uint32, seqs []uint16, pcm []int16) {
		for _, s := range seqs {
			p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: s, SSRC: ssrc}, Payload: media.ULawEncode(nil, pcm)}
			b, _ := p.Marshal()
			if _, err := conn.Write(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, err := net.Dial("udp", c.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.Dial("udp", c.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	send(a, 7, []uint16{65534, 65535, 0, 4, 5}, loud) // wraps, then skips 1, 2, 3
	send(b, 9, []uint16{10, 11, 12}, quiet)
	_, _ = a.Write([]byte{1, 2, 3}) // not RTP

	want := Counts{Streams: 2, Packets: 8, AudioFrames: 5, SeqLost: 3, Malformed: 1}
	deadline := time.Now().Add(3 * time.Second)
	got := c.Counts()
	for ; time.Now().Before(deadline); got = c.Counts() {
		got.ClockFrames = 0 // sent back to back: a frame or so per stream, not what this test is about
		if got == want {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got != want {
		t.Fatalf("counts %v, want %v", got, want)
	}
}

// ClockFrames counts the 20 ms frames between a stream's first and last packet.
func TestRTPCounterClockFrames(t *testing.T) {
	c := &RTPCounter{streams: map[StreamKey]*StreamCount{}}
	t0 := time.Now()
	k := StreamKey{SSRC: 1}
	c.add(k, 1, true, t0)
	c.add(k, 2, true, t0.Add(990*time.Millisecond)) // 49 frame times later: 50 frames
	c.add(StreamKey{SSRC: 2}, 7, false, t0)
	if got := c.Counts().ClockFrames; got != 51 {
		t.Fatalf("clock frames %d, want 50 + 1", got)
	}
}

// The tone pcap is what the counter counts as sound: every frame audible.
func TestTonePcapAllAudible(t *testing.T) {
	data, err := TonePcap(1000, 2)
	if err != nil {
		t.Fatal(err)
	}
	const frame = 16 + 42 + 12 + media.FrameSamples
	if n := (len(data) - 24) / frame; n != 100 || (len(data)-24)%frame != 0 {
		t.Fatalf("%d bytes: want 24 + 100 packets of %d", len(data), frame)
	}
	for i := 0; i < 100; i++ {
		off := 24 + i*frame + 16 + 42
		var p rtp.Packet
		if err := p.Unmarshal(data[off : off+12+media.FrameSamples]); err != nil {
			t.Fatal(err)
		}
		if p.PayloadType != 0 || p.SequenceNumber != uint16(1000+i) || peak(media.ULawDecode(nil, p.Payload)) <= audibleLevel {
			t.Fatalf("packet %d: pt %d seq %d not an audible PCMU frame", i, p.PayloadType, p.SequenceNumber)
		}
	}
	if _, err := TonePcap(5000, 1); err == nil {
		t.Error("5 kHz accepted at 8 kHz sampling")
	}
}
