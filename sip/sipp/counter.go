package sipp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtp"
	"golang.org/x/net/ipv4"

	"linkctl/sip/media"
)

// StreamKey tells RTP streams apart: the sender's address and SSRC.
type StreamKey struct {
	From netip.AddrPort
	SSRC uint32
}

// StreamCount is what arrived of one RTP stream.
type StreamCount struct {
	Packets     uint64 // RTP packets received
	AudioFrames uint64 // G.711 frames louder than silence (the relayed voice)
	SeqLost     uint64 // sequence numbers skipped (RFC 3550 style, reordering ignored)
	First, Last time.Time
	firstSeq    uint16
	maxSeq      uint16
	started     bool
}

// Counts is a snapshot of a counter.
type Counts struct {
	Streams     int
	Packets     uint64
	AudioFrames uint64
	SeqLost     uint64
	Malformed   uint64
	// ClockFrames is how many 20 ms frames fit between each stream's first and
	// last packet, summed: a sender that keeps its clock sends that many.
	ClockFrames uint64
}

func (c Counts) String() string {
	return fmt.Sprintf("streams=%d packets=%d audio_frames=%d seq_lost=%d malformed=%d clock_frames=%d",
		c.Streams, c.Packets, c.AudioFrames, c.SeqLost, c.Malformed, c.ClockFrames)
}

// RTPCounter is the media sink of the benchmark's agents: their SDP names its
// address, the switch sends every agent leg's audio there, and it counts, per
// stream, the packets and the frames that carry sound. A tone sent by the
// citizens comes out as audible frames; what the switch lost or never relayed
// does not.
type RTPCounter struct {
	conn      *net.UDPConn
	mu        sync.Mutex
	streams   map[StreamKey]*StreamCount
	malformed uint64
	done      chan struct{}
}

// audibleLevel is the peak above which a decoded frame counts as sound (the
// benchmark tone peaks at 8000; G.711 silence decodes to at most a few units).
const audibleLevel = 500

// NewRTPCounter listens on addr (UDP, e.g. "127.0.0.1:0") and counts until ctx ends.
func NewRTPCounter(ctx context.Context, addr string) (*RTPCounter, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("rtp counter: %w", err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("rtp counter: listen %s: %w", addr, err)
	}
	_ = conn.SetReadBuffer(16 << 20) // the sink must not be where packets are lost
	c := &RTPCounter{conn: conn, streams: map[StreamKey]*StreamCount{}, done: make(chan struct{})}
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	go c.loop()
	return c, nil
}

// Addr is the address to name in SDP.
func (c *RTPCounter) Addr() *net.UDPAddr { return c.conn.LocalAddr().(*net.UDPAddr) }

// Done is closed once the counter stopped (its context ended).
func (c *RTPCounter) Done() <-chan struct{} { return c.done }

func (c *RTPCounter) loop() {
	defer close(c.done)
	// recvmmsg: up to 64 datagrams a system call, so that counting 25 000
	// packets a second costs the shared machine little
	pc := ipv4.NewPacketConn(c.conn)
	msgs := make([]ipv4.Message, 64)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	pcm := make([]int16, 0, media.FrameSamples)
	var pkt rtp.Packet
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := time.Now()
		c.mu.Lock()
		for _, m := range msgs[:n] {
			from, _ := m.Addr.(*net.UDPAddr)
			if from == nil || pkt.Unmarshal(m.Buffers[0][:m.N]) != nil {
				c.malformed++
				continue
			}
			audible := false
			switch pkt.PayloadType {
			case 0:
				pcm = media.ULawDecode(pcm[:0], pkt.Payload)
				audible = peak(pcm) > audibleLevel
			case 8:
				pcm = media.ALawDecode(pcm[:0], pkt.Payload)
				audible = peak(pcm) > audibleLevel
			}
			c.add(StreamKey{From: from.AddrPort(), SSRC: pkt.SSRC}, pkt.SequenceNumber, audible, now)
		}
		c.mu.Unlock()
	}
}

func (c *RTPCounter) add(k StreamKey, seq uint16, audible bool, at time.Time) {
	s := c.streams[k]
	if s == nil {
		s = &StreamCount{First: at}
		c.streams[k] = s
	}
	s.Last = at
	s.Packets++
	if audible {
		s.AudioFrames++
	}
	switch {
	case !s.started:
		s.started, s.firstSeq, s.maxSeq = true, seq, seq
	case int16(seq-s.maxSeq) > 0:
		s.SeqLost += uint64(seq - s.maxSeq - 1)
		s.maxSeq = seq
	}
}

func peak(pcm []int16) int {
	m := 0
	for _, v := range pcm {
		a := int(v)
		if a < 0 {
			a = -a
		}
		m = max(m, a)
	}
	return m
}

// Counts returns the totals over all streams so far.
func (c *RTPCounter) Counts() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Counts{Streams: len(c.streams), Malformed: c.malformed}
	for _, s := range c.streams {
		out.Packets += s.Packets
		out.AudioFrames += s.AudioFrames
		out.SeqLost += s.SeqLost
		out.ClockFrames += uint64(s.Last.Sub(s.First)/(20*time.Millisecond)) + 1
	}
	return out
}
