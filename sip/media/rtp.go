package media

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"go.uber.org/zap"
)

// ErrNoPort is returned (wrapped) when no UDP port of the configured range is free.
var ErrNoPort = errors.New("no free RTP port")

// ErrSessionClosed is returned by operations on a closed session.
var ErrSessionClosed = errors.New("rtp session closed")

// ErrNoDTMF is returned by SendDTMF when the far end negotiated no telephone-event.
var ErrNoDTMF = errors.New("far end has no telephone-event payload type")

const (
	maxRTPPacket   = 1500
	maxFrameBytes  = 480 // 60 ms of G.711: the longest packetisation we accept
	jitterSlots    = 16  // must be a power of two
	playoutDepth   = 2   // packets gathered before playout starts (40 ms)
	maxBuffered    = 8   // beyond this the oldest are dropped (sender clock faster than ours)
	seqResetWindow = 200 // a jump larger than this restarts the stream
	ssrcQuiet      = 200 * time.Millisecond
)

// SessionOption configures NewSession.
type SessionOption func(*sessionConfig)

type sessionConfig struct {
	portMin, portMax int
	logger           *zap.Logger
	strictSource     bool
}

// WithStrictSource accepts RTP only from the address the far end's SDP names.
// Without it the session latches to the source of the first packet (symmetric
// RTP, which works through NAT) and ignores every other source from then on.
func WithStrictSource() SessionOption {
	return func(c *sessionConfig) { c.strictSource = true }
}

// WithPortRange binds the RTP port within [min, max] (an even port, as RTP
// convention wants). 0, 0 (the default) lets the kernel choose.
func WithPortRange(min, max int) SessionOption {
	return func(c *sessionConfig) { c.portMin, c.portMax = min, max }
}

// WithLogger sets the logger (fields such as channel id should already be attached).
func WithLogger(l *zap.Logger) SessionOption {
	return func(c *sessionConfig) { c.logger = l }
}

// Stats are a session's counters.
type Stats struct {
	PacketsIn   uint64 // accepted RTP packets (audio and DTMF)
	PacketsOut  uint64
	BytesIn     uint64
	BytesOut    uint64
	Lost        uint64 // by sequence numbers never received (RFC 3550 style)
	Late        uint64 // arrived after their playout slot, or dropped for buffer overflow
	Ignored     uint64 // from an unexpected address or SSRC after latching, or before SetRemote
	Malformed   uint64 // not parseable as RTP, or a payload type we did not negotiate
	DTMFEvents  uint64 // distinct telephone-events received
	SSRCChanges uint64 // new SSRCs accepted from the latched address
	Underruns   uint64 // ReadFrame calls that found nothing buffered
	LatchedFrom string // the source address RTP was latched to
}

// Session is one RTP stream (one UDP port) with G.711 coding, a small jitter buffer
// and RFC 4733 DTMF. A single goroutine reads the socket; ReadFrame/WriteFrame are
// called from the owner's 20 ms media clock. All methods are safe for concurrent use.
type Session struct {
	conn   *net.UDPConn
	log    *zap.Logger
	strict bool
	closed atomic.Bool
	done   chan struct{}

	mu sync.Mutex
	// negotiated
	remote   *net.UDPAddr
	remoteAP netip.AddrPort // remote, converted once: sendto without a per-packet conversion
	codec    Codec
	dtmfPT   uint8
	// receive side
	latched      bool
	latchAddr    netip.AddrPort
	latchSSRC    uint32
	lastAccepted time.Time
	slots        [jitterSlots]jitterSlot
	buffered     int
	playing      bool
	nextSeq      uint16
	waitTicks    int
	dryTicks     int // consecutive ReadFrame calls with nothing to play
	fifo         []int16
	baseSeq      uint32
	highestSeq   uint32 // extended
	seqCycles    uint32
	received     uint64
	lastDTMF     dtmfState
	onDTMF       func(digit string, durMs int)
	stats        Stats
	// send side
	ssrc       uint32
	seq        uint16
	ts         uint32
	lastWrite  time.Time
	sentAny    bool
	dtmfActive bool
	sendMu     sync.Mutex // serialises whole DTMF events
	outBuf     []byte
	payloadBuf []byte
}

type jitterSlot struct {
	seq     uint16
	valid   bool
	samples []int16
}

type dtmfState struct {
	lastSeen time.Time
	ts       uint32
	reported bool
	started  bool
	event    uint8
	duration uint16
}

// NewSession binds a UDP port on ip and starts reading it.
func NewSession(ip net.IP, opts ...SessionOption) (*Session, error) {
	cfg := sessionConfig{logger: zap.NewNop()}
	for _, o := range opts {
		o(&cfg)
	}
	conn, err := bindRTP(ip, cfg.portMin, cfg.portMax)
	if err != nil {
		return nil, err
	}
	s := &Session{
		conn:       conn,
		strict:     cfg.strictSource,
		log:        cfg.logger.With(zap.String("rtp_local", conn.LocalAddr().String())),
		done:       make(chan struct{}),
		ssrc:       randUint32(),
		seq:        uint16(randUint32()),
		ts:         randUint32(),
		outBuf:     make([]byte, maxRTPPacket),
		payloadBuf: make([]byte, 0, maxFrameBytes),
		fifo:       make([]int16, 0, 2*maxFrameBytes),
	}
	for i := range s.slots {
		s.slots[i].samples = make([]int16, 0, maxFrameBytes)
	}
	go s.readLoop()
	return s, nil
}

func bindRTP(ip net.IP, lo, hi int) (*net.UDPConn, error) {
	if lo <= 0 || hi <= 0 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
		if err != nil {
			return nil, fmt.Errorf("bind rtp on %v: %w", ip, err)
		}
		return c, nil
	}
	if lo%2 == 1 {
		lo++
	}
	if hi < lo {
		return nil, fmt.Errorf("rtp port range %d-%d: %w", lo, hi, ErrNoPort)
	}
	evens := (hi-lo)/2 + 1
	start := int(randUint32() % uint32(evens))
	// try every even port once, from a random starting point, so that concurrent
	// sessions rarely collide and a nearly full range still finds the free ports
	for i := range evens {
		port := lo + 2*((start+i)%evens)
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
		if err == nil {
			return c, nil
		}
	}
	return nil, fmt.Errorf("rtp on %v in %d-%d: %w", ip, lo, hi, ErrNoPort)
}

func randUint32() uint32 {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<32))
	if err != nil {
		return uint32(time.Now().UnixNano())
	}
	return uint32(n.Uint64())
}

// LocalAddr is the bound RTP address (for SDP).
func (s *Session) LocalAddr() *net.UDPAddr { return s.conn.LocalAddr().(*net.UDPAddr) }

// SetRemote sets where to send, the codec of both directions and the
// telephone-event payload type (0 = none). Calling it again (re-INVITE) changes
// them and re-arms latching on the next packet received.
func (s *Session) SetRemote(addr *net.UDPAddr, codec Codec, dtmfPT uint8) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remote, s.codec, s.dtmfPT = addr, codec, dtmfPT
	s.remoteAP = netip.AddrPort{}
	if addr != nil {
		s.remoteAP = addr.AddrPort()
	}
	s.latched = false
	s.log.Debug("rtp remote set", zap.Stringer("rtp_remote", addr), zap.String("codec", codec.Name), zap.Uint8("dtmf_pt", dtmfPT))
}

// OnDTMF sets the function called (from the reader goroutine; it must not block)
// once per received RFC 4733 event, when the event ends.
func (s *Session) OnDTMF(fn func(digit string, durMs int)) {
	s.mu.Lock()
	s.onDTMF = fn
	s.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	if s.received > 0 {
		expected := uint64(s.highestSeq-s.baseSeq) + 1
		if expected > s.received {
			st.Lost = expected - s.received
		}
	}
	return st
}

// Close stops the reader and releases the port. It is idempotent.
func (s *Session) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := s.conn.Close()
	<-s.done
	if err != nil {
		return fmt.Errorf("close rtp session: %w", err)
	}
	return nil
}

func (s *Session) readLoop() {
	defer close(s.done)
	buf := make([]byte, maxRTPPacket)
	var pkt rtp.Packet
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("rtp read failed", zap.Error(err))
			continue
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil || pkt.Version != 2 {
			s.mu.Lock()
			s.stats.Malformed++
			s.mu.Unlock()
			continue
		}
		s.receive(&pkt, from, n)
	}
}

func (s *Session) receive(pkt *rtp.Packet, from netip.AddrPort, n int) {
	s.mu.Lock()
	if s.remote == nil {
		s.stats.Ignored++
		s.mu.Unlock()
		return
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	if s.strict && from != unmapped(s.remote.AddrPort()) {
		s.stats.Ignored++
		s.mu.Unlock()
		return
	}
	if !s.latched {
		s.latched, s.latchAddr, s.latchSSRC = true, from, pkt.SSRC
		s.stats.LatchedFrom = from.String()
		s.resetReceive(pkt.SequenceNumber)
	} else if from != s.latchAddr {
		s.stats.Ignored++
		s.mu.Unlock()
		return
	} else if pkt.SSRC != s.latchSSRC {
		// A PBX changes SSRC when its media source changes (Asterisk re-bridging
		// a trunk leg) and marks the first packet. A new SSRC from the latched
		// address is taken on a marker bit or once the old one has been quiet;
		// a second stream interleaved with the first is ignored.
		if !pkt.Marker && time.Since(s.lastAccepted) < ssrcQuiet {
			s.stats.Ignored++
			s.mu.Unlock()
			return
		}
		s.latchSSRC = pkt.SSRC
		s.stats.SSRCChanges++
		s.resetReceive(pkt.SequenceNumber)
	}
	s.lastAccepted = time.Now()
	switch pt := pkt.PayloadType; {
	case s.dtmfPT != 0 && pt == s.dtmfPT:
		s.countSeq(pkt.SequenceNumber, n)
		s.skipSeq(pkt.SequenceNumber)
		cb := s.receiveDTMF(pkt)
		s.mu.Unlock()
		if cb != nil {
			cb()
		}
		return
	case pt == s.codec.PT:
		s.countSeq(pkt.SequenceNumber, n)
		s.bufferAudio(pkt)
	case pt == 13: // comfort noise: nothing to play
		s.countSeq(pkt.SequenceNumber, n)
		s.skipSeq(pkt.SequenceNumber)
	default:
		s.stats.Malformed++
	}
	s.mu.Unlock()
}

func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// resetReceive restarts sequence tracking at seq (new latch or stream restart).
func (s *Session) resetReceive(seq uint16) {
	s.baseSeq, s.highestSeq, s.seqCycles = uint32(seq), uint32(seq), 0
	s.received = 0
	for i := range s.slots {
		s.slots[i].valid = false
	}
	s.buffered, s.playing, s.fifo = 0, false, s.fifo[:0]
}

func (s *Session) countSeq(seq uint16, n int) {
	s.stats.PacketsIn++
	s.stats.BytesIn += uint64(n)
	s.received++
	// the highest extended sequence seen decides the cycle: handle wrap-around
	if diff := int16(seq - uint16(s.highestSeq)); diff > 0 {
		if seq < uint16(s.highestSeq) {
			s.seqCycles += 1 << 16
		}
		s.highestSeq = s.seqCycles | uint32(seq)
	}
}

// skipSeq tells the playout that seq carried no audio (DTMF, comfort noise), so
// that the audio after it is not waited for as if a packet were lost.
func (s *Session) skipSeq(seq uint16) {
	if s.playing && s.buffered == 0 && int16(seq-s.nextSeq) >= 0 {
		s.nextSeq = seq + 1
	}
}

func (s *Session) bufferAudio(pkt *rtp.Packet) {
	seq := pkt.SequenceNumber
	if s.playing {
		ahead := int16(seq - s.nextSeq)
		if ahead < 0 {
			if -int(ahead) > seqResetWindow {
				s.resetReceive(seq) // the sender restarted its sequence
				s.received = 1
			} else {
				s.stats.Late++
				return
			}
		} else if int(ahead) > seqResetWindow {
			s.resetReceive(seq)
			s.received = 1
		}
	}
	slot := &s.slots[seq&(jitterSlots-1)]
	if slot.valid && slot.seq == seq {
		return // duplicate
	}
	if !slot.valid {
		s.buffered++
	}
	slot.seq, slot.valid = seq, true
	payload := pkt.Payload
	if len(payload) > maxFrameBytes {
		payload = payload[:maxFrameBytes]
	}
	slot.samples, _ = s.codec.Decode(slot.samples[:0], payload)
	if !s.playing {
		// playout starts at the oldest packet buffered
		if s.buffered == 1 || int16(seq-s.nextSeq) < 0 {
			s.nextSeq = seq
		}
	}
	for s.buffered > maxBuffered {
		s.dropNext()
	}
}

// dropNext advances the playout point by one packet, discarding it if present.
func (s *Session) dropNext() {
	slot := &s.slots[s.nextSeq&(jitterSlots-1)]
	if slot.valid && slot.seq == s.nextSeq {
		slot.valid = false
		s.buffered--
		s.stats.Late++
	}
	s.nextSeq++
}

// ReadFrame fills buf with the next 20 ms received from the far end (decoded) and
// reports whether there was any; false leaves buf silent.
func (s *Session) ReadFrame(buf []int16) bool {
	s.mu.Lock()
	got := s.readFrameLocked(buf)
	cb := s.expireDTMFLocked()
	s.mu.Unlock()
	if cb != nil {
		cb()
	}
	return got
}

// dtmfEndTimeout ends an event whose three end packets were all lost.
const dtmfEndTimeout = 250 * time.Millisecond

// expireDTMFLocked reports an event that stopped without end packets. ReadFrame
// runs on the owner's 20 ms clock, so no timer of our own is needed.
func (s *Session) expireDTMFLocked() func() {
	st := &s.lastDTMF
	if !st.started || st.reported || time.Since(st.lastSeen) < dtmfEndTimeout {
		return nil
	}
	st.reported = true
	return s.dtmfCallback(st.event, st.duration)
}

func (s *Session) readFrameLocked(buf []int16) bool {
	if !s.playing {
		if s.buffered == 0 {
			s.stats.Underruns++
			clear(buf)
			return false
		}
		s.waitTicks++
		if s.buffered < playoutDepth && s.waitTicks < playoutDepth {
			clear(buf)
			return false
		}
		s.playing, s.waitTicks = true, 0
	}
	for len(s.fifo) < len(buf) && s.buffered > 0 {
		slot := &s.slots[s.nextSeq&(jitterSlots-1)]
		if slot.valid && slot.seq == s.nextSeq {
			s.fifo = append(s.fifo, slot.samples...)
			slot.valid = false
			s.buffered--
			s.nextSeq++
			continue
		}
		// a gap: play what we have, or skip the missing packet if nothing is pending
		if len(s.fifo) > 0 {
			break
		}
		s.nextSeq++
		clear(buf)
		return false
	}
	if len(s.fifo) == 0 {
		s.stats.Underruns++
		if s.dryTicks++; s.dryTicks >= 5 {
			// the far end paused: prime the buffer again when it resumes
			s.playing, s.dryTicks = false, 0
		}
		clear(buf)
		return false
	}
	s.dryTicks = 0
	n := copy(buf, s.fifo)
	clear(buf[n:])
	s.fifo = s.fifo[:copy(s.fifo, s.fifo[n:])]
	return true
}

// WriteFrame encodes frame with the negotiated codec and sends it. Before
// SetRemote, and while a DTMF event is being sent, it sends nothing.
func (s *Session) WriteFrame(frame []int16) { s.WriteFrameAt(frame, time.Now()) }

// WriteFrameAt is WriteFrame for the frame due at now by the caller's media
// clock: frames a late clock sends back to back, due 20 ms apart, stay one
// contiguous stream; a gap of three frames or more between due times starts a
// new talkspurt (marker bit, timestamp jumped over the pause).
func (s *Session) WriteFrameAt(frame []int16, now time.Time) {
	s.mu.Lock()
	if s.remote == nil || s.dtmfActive || s.closed.Load() {
		s.mu.Unlock()
		return
	}
	marker := !s.sentAny
	if s.sentAny {
		s.ts += uint32(len(frame))
		if gap := now.Sub(s.lastWrite); gap >= 3*FrameDuration {
			// a new talkspurt: the timestamp jumps over the silence, marker set
			s.ts += uint32(int64(gap/FrameDuration)-1) * FrameSamples
			marker = true
		}
	}
	s.sentAny, s.lastWrite = true, now
	payload, err := s.codec.Encode(s.payloadBuf[:0], frame)
	if err != nil {
		s.mu.Unlock()
		return
	}
	err = s.sendLocked(s.codec.PT, marker, s.ts, payload)
	s.mu.Unlock()
	if err != nil && !s.closed.Load() {
		s.log.Debug("rtp send failed", zap.Error(err))
	}
}

func (s *Session) sendLocked(pt uint8, marker bool, ts uint32, payload []byte) error {
	s.seq++
	pkt := rtp.Packet{
		Header:  rtp.Header{Version: 2, Marker: marker, PayloadType: pt, SequenceNumber: s.seq, Timestamp: ts, SSRC: s.ssrc},
		Payload: payload,
	}
	n, err := pkt.MarshalTo(s.outBuf)
	if err != nil {
		return fmt.Errorf("marshal rtp: %w", err)
	}
	if _, err := s.conn.WriteToUDPAddrPort(s.outBuf[:n], s.remoteAP); err != nil {
		return fmt.Errorf("send rtp to %v: %w", s.remote, err)
	}
	s.stats.PacketsOut++
	s.stats.BytesOut += uint64(n)
	return nil
}

// dtmfDigits maps RFC 4733 event codes to digits.
const dtmfDigits = "0123456789*#ABCD"

// DTMFEvent returns the RFC 4733 event code of digit (0-9 * # A-D).
func DTMFEvent(digit string) (uint8, bool) {
	if len(digit) != 1 {
		return 0, false
	}
	d := digit[0]
	if d >= 'a' && d <= 'd' {
		d -= 'a' - 'A'
	}
	for i := range len(dtmfDigits) {
		if dtmfDigits[i] == d {
			return uint8(i), true
		}
	}
	return 0, false
}

// SendDTMF sends one digit as an RFC 4733 telephone-event lasting dur: a packet
// every 20 ms (audio paused meanwhile) and three end packets. It blocks for about
// dur + 40 ms; digits sent from several goroutines are serialised.
func (s *Session) SendDTMF(digit string, dur time.Duration) error {
	ev, ok := DTMFEvent(digit)
	if !ok {
		return fmt.Errorf("send dtmf %q: not a DTMF digit", digit)
	}
	if dur < 40*time.Millisecond {
		dur = 40 * time.Millisecond
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()

	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return ErrSessionClosed
	}
	if s.remote == nil || s.dtmfPT == 0 {
		s.mu.Unlock()
		return fmt.Errorf("send dtmf %q: %w", digit, ErrNoDTMF)
	}
	s.dtmfActive = true
	if s.sentAny {
		s.ts += FrameSamples
	}
	s.sentAny = true
	startTS := s.ts
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.dtmfActive = false
		s.lastWrite = time.Now()
		s.mu.Unlock()
	}()

	total := uint16(min(int64(dur/time.Millisecond)*8, 0xFFFF))
	ticker := time.NewTicker(FrameDuration)
	defer ticker.Stop()
	payload := make([]byte, 4)
	const volume = 10 // -10 dBm0
	send := func(marker, end bool, d uint16) error {
		payload[0] = ev
		payload[1] = volume
		if end {
			payload[1] |= 0x80
		}
		binary.BigEndian.PutUint16(payload[2:], d)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed.Load() {
			return ErrSessionClosed
		}
		return s.sendLocked(s.dtmfPT, marker, startTS, payload)
	}
	for elapsed := uint16(FrameSamples); ; elapsed += FrameSamples {
		if elapsed >= total {
			break
		}
		if err := send(elapsed == FrameSamples, false, elapsed); err != nil {
			return fmt.Errorf("send dtmf %q: %w", digit, err)
		}
		<-ticker.C
	}
	for range 3 {
		if err := send(false, true, total); err != nil {
			return fmt.Errorf("send dtmf %q: %w", digit, err)
		}
	}
	s.mu.Lock()
	// the event occupied the media timeline for its duration
	s.ts = startTS + uint32(total) - FrameSamples
	s.mu.Unlock()
	return nil
}

// receiveDTMF handles one telephone-event packet; with s.mu held. It returns the
// callback to run (without the lock) when an event ended.
func (s *Session) receiveDTMF(pkt *rtp.Packet) func() {
	p := pkt.Payload
	if len(p) < 4 {
		s.stats.Malformed++
		return nil
	}
	ev, end, dur := p[0], p[1]&0x80 != 0, binary.BigEndian.Uint16(p[2:4])
	if ev >= uint8(len(dtmfDigits)) {
		return nil // not a DTMF digit (e.g. flash): ignore
	}
	st := &s.lastDTMF
	var pending func()
	if !st.started || st.ts != pkt.Timestamp {
		// a new event; if the previous one never showed its end packets, report it now
		if st.started && !st.reported {
			pending = s.dtmfCallback(st.event, st.duration)
		}
		*st = dtmfState{ts: pkt.Timestamp, started: true, event: ev}
	}
	st.lastSeen = time.Now()
	if dur > st.duration {
		st.duration = dur
	}
	if end && !st.reported {
		st.reported = true
		cb := s.dtmfCallback(ev, st.duration)
		if pending != nil {
			return func() { pending(); cb() }
		}
		return cb
	}
	return pending
}

func (s *Session) dtmfCallback(ev uint8, dur uint16) func() {
	s.stats.DTMFEvents++
	fn := s.onDTMF
	if fn == nil {
		return nil
	}
	digit, ms := dtmfDigits[ev:ev+1], int(dur)/8
	return func() { fn(digit, ms) }
}
