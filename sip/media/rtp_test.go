package media

import (
	"errors"
	"net"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

var loopback = net.IPv4(127, 0, 0, 1)

func newPair(t *testing.T, codecA, codecB Codec) (*Session, *Session) {
	t.Helper()
	a, err := NewSession(loopback)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSession(loopback)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	a.SetRemote(b.LocalAddr(), codecA, 101)
	b.SetRemote(a.LocalAddr(), codecB, 101)
	return a, b
}

// pump sends frames of src from a to b on a 20 ms clock and feeds what b reads to a listener.
func pump(t *testing.T, from, to *Session, src Source, frames int, freqs []float64) (heard [][]float64) {
	t.Helper()
	l := NewToneListener(freqs, ListenerOptions{})
	out, in := make([]int16, FrameSamples), make([]int16, FrameSamples)
	tick := time.NewTicker(FrameDuration)
	defer tick.Stop()
	for range frames {
		src.Next(out)
		from.WriteFrame(out)
		<-tick.C
		to.ReadFrame(in)
		if h, ok := l.Feed(in); ok {
			heard = append(heard, h.Present)
		}
	}
	return heard
}

func TestSessionCarriesAudioBothCodecs(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		t.Run(c.Name, func(t *testing.T) {
			a, b := newPair(t, c, c)
			heard := pump(t, a, b, SineSource(1200, 6000), 25, []float64{700, 1200})
			last := heard[len(heard)-1]
			if !slices.Equal(last, []float64{1200}) {
				t.Errorf("b heard %v, want [1200] (all windows %v)", last, heard)
			}
			st := b.Stats()
			if st.PacketsIn < 20 || st.LatchedFrom != a.LocalAddr().String() {
				t.Errorf("b stats %+v", st)
			}
			if a.Stats().PacketsOut != 25 {
				t.Errorf("a sent %d packets, want 25", a.Stats().PacketsOut)
			}
		})
	}
}

func TestSessionIgnoresStrangers(t *testing.T) {
	a, b := newPair(t, PCMU, PCMU)
	frame := make([]int16, FrameSamples)
	a.WriteFrame(frame) // b latches to a
	waitFor(t, func() bool { return b.Stats().PacketsIn == 1 })

	stranger, err := net.ListenUDP("udp", &net.UDPAddr{IP: loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	loud := ULawEncode(nil, frameOf(20000))
	send := func(conn *net.UDPConn, ssrc uint32, seq uint16) {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, SSRC: ssrc}, Payload: loud}
		raw, _ := p.Marshal()
		if _, err := conn.WriteToUDP(raw, b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		send(stranger, 1234, uint16(i))
	}
	// the right address but a second, interleaved SSRC without a marker: also ignored
	aConn := a.conn
	for i := range 3 {
		a.WriteFrame(frame)
		send(aConn, a.ssrc+1, uint16(100+i))
	}
	waitFor(t, func() bool { return b.Stats().Ignored == 8 })
	for range 4 {
		if b.ReadFrame(frame) && slices.Max(frame) > 10000 {
			t.Fatal("a stranger's audio was played")
		}
	}
	if st := b.Stats(); st.PacketsIn != 4 || st.SSRCChanges != 0 {
		t.Errorf("accepted %d packets (want a's 4), %d SSRC changes", st.PacketsIn, st.SSRCChanges)
	}
}

func TestSSRCChangeFromLatchedAddress(t *testing.T) {
	b, err := NewSession(loopback)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	src, _ := net.ListenUDP("udp", &net.UDPAddr{IP: loopback})
	defer src.Close()
	b.SetRemote(src.LocalAddr().(*net.UDPAddr), PCMU, 101)
	send := func(ssrc uint32, seq uint16, marker bool, v int16) {
		p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, SSRC: ssrc, Marker: marker}, Payload: ULawEncode(nil, frameOf(v))}
		raw, _ := p.Marshal()
		src.WriteToUDP(raw, b.LocalAddr())
	}
	send(1, 10, true, 1000)
	send(1, 11, false, 1000)
	waitFor(t, func() bool { return b.Stats().PacketsIn == 2 })
	// the PBX re-bridges: new SSRC, new sequence, marker set
	send(2, 5000, true, 3000)
	send(2, 5001, false, 3000)
	waitFor(t, func() bool { return b.Stats().PacketsIn == 4 })
	frame := make([]int16, FrameSamples)
	var heard []int16
	for range 4 {
		if b.ReadFrame(frame) {
			heard = append(heard, frame[0]/1000*1000)
		}
	}
	if !slices.Equal(heard, []int16{3000, 3000}) || b.Stats().SSRCChanges != 1 {
		t.Errorf("played %v with %d SSRC changes, want the new source [3000 3000] and 1", heard, b.Stats().SSRCChanges)
	}
}

func TestJitterBufferReordersAndCountsLoss(t *testing.T) {
	b, err := NewSession(loopback)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	src, err := net.ListenUDP("udp", &net.UDPAddr{IP: loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	b.SetRemote(src.LocalAddr().(*net.UDPAddr), PCMU, 101)
	// packet k carries the constant value 1000*(k+1); 3 is lost, 1 and 2 swapped
	order := []uint16{0, 2, 1, 4, 5}
	for _, k := range order {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 65534 + k, Timestamp: uint32(k) * 160, SSRC: 9},
			Payload: ULawEncode(nil, frameOf(int16(1000*(k+1))))}
		raw, _ := p.Marshal()
		if _, err := src.WriteToUDP(raw, b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return b.Stats().PacketsIn == 5 })
	frame := make([]int16, FrameSamples)
	var got []int16
	for range 6 {
		if b.ReadFrame(frame) {
			got = append(got, frame[0]/100*100)
		} else {
			got = append(got, 0)
		}
	}
	want := []int16{1000, 2000, 3000, 0, 5000, 6000}
	// µ-law rounds 1000*(k+1) slightly; compare to the hundred
	for i := range want {
		if d := got[i] - want[i]; d < -200 || d > 200 {
			t.Fatalf("playout %v, want about %v (sequence wraps at 65535)", got, want)
		}
	}
	if st := b.Stats(); st.Lost != 1 {
		t.Errorf("lost = %d, want 1 (%+v)", st.Lost, st)
	}
}

func TestDTMFBothWaysWithDedup(t *testing.T) {
	a, b := newPair(t, PCMU, PCMA)
	var mu sync.Mutex
	var got []string
	var durs []int
	b.OnDTMF(func(d string, ms int) {
		mu.Lock()
		got = append(got, d)
		durs = append(durs, ms)
		mu.Unlock()
	})
	var fromB []string
	a.OnDTMF(func(d string, _ int) { mu.Lock(); fromB = append(fromB, d); mu.Unlock() })
	for _, d := range []string{"*", "1", "#"} {
		if err := a.SendDTMF(d, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.SendDTMF("9", 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 3 && len(fromB) >= 1 })
	time.Sleep(50 * time.Millisecond) // late duplicates would show up now
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, []string{"*", "1", "#"}) || !slices.Equal(fromB, []string{"9"}) {
		t.Errorf("b got %v, a got %v", got, fromB)
	}
	for _, ms := range durs {
		if ms != 100 {
			t.Errorf("duration %d ms, want 100", ms)
		}
	}
	if err := a.SendDTMF("x", time.Millisecond); err == nil {
		t.Error("SendDTMF(x) should fail")
	}
	a.SetRemote(b.LocalAddr(), PCMU, 0)
	if err := a.SendDTMF("1", 40*time.Millisecond); !errors.Is(err, ErrNoDTMF) {
		t.Errorf("without telephone-event: err = %v", err)
	}
}

func TestPortRange(t *testing.T) {
	var sessions []*Session
	defer func() {
		for _, s := range sessions {
			s.Close()
		}
	}()
	const lo, hi = 41000, 41007 // four even ports
	for range 4 {
		s, err := NewSession(loopback, WithPortRange(lo, hi))
		if err != nil {
			t.Fatal(err)
		}
		p := s.LocalAddr().Port
		if p < lo || p > hi || p%2 != 0 {
			t.Errorf("port %d outside the even ports of %d-%d", p, lo, hi)
		}
		sessions = append(sessions, s)
	}
	if _, err := NewSession(loopback, WithPortRange(lo, hi)); !errors.Is(err, ErrNoPort) {
		t.Errorf("fifth session: err = %v, want ErrNoPort", err)
	}
}

func TestWriteMarkerOnTalkspurt(t *testing.T) {
	a, err := NewSession(loopback)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sniff, err := net.ListenUDP("udp", &net.UDPAddr{IP: loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer sniff.Close()
	a.SetRemote(sniff.LocalAddr().(*net.UDPAddr), PCMA, 101)
	frame := make([]int16, FrameSamples)
	a.WriteFrame(frame)
	a.WriteFrame(frame)
	time.Sleep(100 * time.Millisecond)
	a.WriteFrame(frame)
	var hdrs []rtp.Header
	buf := make([]byte, 1500)
	for range 3 {
		sniff.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := sniff.ReadFromUDP(buf)
		if err != nil {
			t.Fatal(err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:n]); err != nil {
			t.Fatal(err)
		}
		if len(p.Payload) != FrameSamples || p.PayloadType != 8 {
			t.Fatalf("packet pt %d with %d bytes", p.PayloadType, len(p.Payload))
		}
		hdrs = append(hdrs, p.Header)
	}
	if !hdrs[0].Marker || hdrs[1].Marker || !hdrs[2].Marker {
		t.Errorf("markers %v %v %v, want true false true", hdrs[0].Marker, hdrs[1].Marker, hdrs[2].Marker)
	}
	if hdrs[1].SequenceNumber != hdrs[0].SequenceNumber+1 || hdrs[1].Timestamp != hdrs[0].Timestamp+160 {
		t.Errorf("seq/ts not consecutive: %+v %+v", hdrs[0], hdrs[1])
	}
	if jump := hdrs[2].Timestamp - hdrs[1].Timestamp; jump < 4*160 {
		t.Errorf("timestamp advanced %d over a 100 ms pause, want >= 640", jump)
	}
	if hdrs[0].SSRC != hdrs[2].SSRC {
		t.Error("SSRC changed")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 3s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func BenchmarkMixThreeParties(b *testing.B) {
	in := [][]int16{make([]int16, FrameSamples), make([]int16, FrameSamples), make([]int16, FrameSamples)}
	out := [][]int16{make([]int16, FrameSamples), make([]int16, FrameSamples), make([]int16, FrameSamples)}
	for i, f := range []float64{500, 700, 900} {
		SineSource(f, 5000).Next(in[i])
	}
	have := []bool{true, true, true}
	b.ReportAllocs()
	for b.Loop() {
		MixInto(out, in, have)
	}
}

func BenchmarkMixThreePartiesWithG711(b *testing.B) {
	// the full per-tick work of a 3-party conference: decode 3, mix, encode 3
	payloads := make([][]byte, 3)
	for i, f := range []float64{500, 700, 900} {
		pcm := make([]int16, FrameSamples)
		SineSource(f, 5000).Next(pcm)
		payloads[i] = ULawEncode(nil, pcm)
	}
	in := [][]int16{make([]int16, 0, FrameSamples), make([]int16, 0, FrameSamples), make([]int16, 0, FrameSamples)}
	out := [][]int16{make([]int16, FrameSamples), make([]int16, FrameSamples), make([]int16, FrameSamples)}
	enc := make([]byte, 0, FrameSamples)
	have := []bool{true, true, true}
	b.ReportAllocs()
	for b.Loop() {
		for i := range in {
			in[i] = ULawDecode(in[i][:0], payloads[i])
		}
		MixInto(out, in, have)
		for i := range out {
			enc = ULawEncode(enc[:0], out[i])
		}
	}
}

// BenchmarkSessionThroughput measures encode + send + receive + decode per packet
// through two sessions on loopback, in bursts of 32 packets the receiver drains
// before the next burst (a blast would only measure the kernel's socket buffer).
func BenchmarkSessionThroughput(b *testing.B) {
	a, err := NewSession(loopback)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	c, err := NewSession(loopback)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	a.SetRemote(c.LocalAddr(), PCMU, 101)
	c.SetRemote(a.LocalAddr(), PCMU, 101)
	frame := make([]int16, FrameSamples)
	in := make([]int16, FrameSamples)
	SineSource(1000, 5000).Next(frame)
	b.ReportAllocs()
	sent := uint64(0)
	drain := func() {
		deadline := time.Now().Add(time.Second)
		for c.Stats().PacketsIn < sent && time.Now().Before(deadline) {
			c.ReadFrame(in)
			runtime.Gosched()
		}
		for c.ReadFrame(in) {
		}
	}
	for b.Loop() {
		a.WriteFrame(frame)
		sent++
		if sent%32 == 0 {
			drain()
		}
	}
	drain()
	b.ReportMetric(float64(sent-c.Stats().PacketsIn)/float64(sent)*100, "%loss")
}

// BenchmarkSessionSend is the sender's cost per packet (encode, marshal, sendto).
func BenchmarkSessionSend(b *testing.B) {
	a, err := NewSession(loopback)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: loopback})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	a.SetRemote(sink.LocalAddr().(*net.UDPAddr), PCMU, 101)
	frame := make([]int16, FrameSamples)
	SineSource(1000, 5000).Next(frame)
	b.ReportAllocs()
	for b.Loop() {
		a.WriteFrame(frame)
	}
}

func TestStrictSourceAcceptsOnlyTheSDPAddress(t *testing.T) {
	b, err := NewSession(loopback, WithStrictSource())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	peer, _ := net.ListenUDP("udp", &net.UDPAddr{IP: loopback})
	defer peer.Close()
	stranger, _ := net.ListenUDP("udp", &net.UDPAddr{IP: loopback})
	defer stranger.Close()
	b.SetRemote(peer.LocalAddr().(*net.UDPAddr), PCMU, 101)
	pkt := func(seq uint16) []byte {
		p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, SSRC: 5}, Payload: ULawEncode(nil, frameOf(9000))}
		raw, _ := p.Marshal()
		return raw
	}
	// the stranger speaks first: without strictness it would be latched
	stranger.WriteToUDP(pkt(1), b.LocalAddr())
	waitFor(t, func() bool { return b.Stats().Ignored == 1 })
	peer.WriteToUDP(pkt(2), b.LocalAddr())
	waitFor(t, func() bool { return b.Stats().PacketsIn == 1 })
	if st := b.Stats(); st.LatchedFrom != peer.LocalAddr().String() {
		t.Errorf("latched to %q, want the SDP address %s", st.LatchedFrom, peer.LocalAddr())
	}
}

func TestDTMFWithLostEndPacketsStillReported(t *testing.T) {
	b, err := NewSession(loopback)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	src, _ := net.ListenUDP("udp", &net.UDPAddr{IP: loopback})
	defer src.Close()
	b.SetRemote(src.LocalAddr().(*net.UDPAddr), PCMU, 101)
	got := make(chan string, 4)
	b.OnDTMF(func(d string, ms int) { got <- d })
	for i := range 4 { // digit 5, never an end packet
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: uint16(i), Timestamp: 1000, SSRC: 5, Marker: i == 0},
			Payload: []byte{5, 10, 0, byte(160 * (i + 1))}}
		raw, _ := p.Marshal()
		src.WriteToUDP(raw, b.LocalAddr())
	}
	waitFor(t, func() bool { return b.Stats().PacketsIn == 4 })
	frame := make([]int16, FrameSamples)
	deadline := time.Now().Add(2 * time.Second)
	for len(got) == 0 && time.Now().Before(deadline) {
		b.ReadFrame(frame) // the owner's media clock
		time.Sleep(FrameDuration)
	}
	select {
	case d := <-got:
		if d != "5" {
			t.Errorf("digit %q, want 5", d)
		}
	default:
		t.Fatal("an event without end packets was never reported")
	}
	for range 20 {
		b.ReadFrame(frame)
	}
	if len(got) != 0 {
		t.Error("event reported twice")
	}
}

// TestWriteFrameAtFollowsTheClockNotTheWall: frames a late media clock sends
// back to back (due 20 ms apart, written at once) keep consecutive timestamps
// and no marker; a pause between due times is a new talkspurt whose timestamp
// jumps by exactly the pause.
func TestWriteFrameAtFollowsTheClockNotTheWall(t *testing.T) {
	a, err := NewSession(loopback)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sniff, err := net.ListenUDP("udp", &net.UDPAddr{IP: loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer sniff.Close()
	a.SetRemote(sniff.LocalAddr().(*net.UDPAddr), PCMU, 101)
	base := time.Now()
	frame := make([]int16, FrameSamples)
	// due at 0, 20, then 40..120 caught up in a burst, then after a 180 ms pause
	dues := []time.Duration{0, 20, 40, 60, 80, 100, 120, 300}
	for _, d := range dues {
		a.WriteFrameAt(frame, base.Add(d*time.Millisecond))
	}
	buf := make([]byte, 1500)
	var hdrs []rtp.Header
	for range dues {
		sniff.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := sniff.ReadFromUDP(buf)
		if err != nil {
			t.Fatal(err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:n]); err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, p.Header)
	}
	for i := 1; i < len(hdrs); i++ {
		wantTS := uint32((dues[i] - dues[i-1]) * 8) // 8 samples per ms
		wantMarker := i == len(hdrs)-1
		if got := hdrs[i].Timestamp - hdrs[i-1].Timestamp; got != wantTS || hdrs[i].Marker != wantMarker {
			t.Errorf("frame %d (due +%d ms): timestamp +%d marker %v, want +%d marker %v",
				i, dues[i], got, hdrs[i].Marker, wantTS, wantMarker)
		}
		if hdrs[i].SequenceNumber != hdrs[i-1].SequenceNumber+1 {
			t.Errorf("frame %d: seq %d after %d", i, hdrs[i].SequenceNumber, hdrs[i-1].SequenceNumber)
		}
	}
}
