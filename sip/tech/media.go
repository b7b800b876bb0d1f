package tech

import (
	"fmt"
	"net"
	"sync"
	"time"

	"linkctl/ari/engine"
)

// MediaSession is one channel's RTP stream. Package sip/media implements it
// (adapted by the wiring); it is an engine.MediaPort so the engine's media
// clock reads and writes 20 ms PCM frames through it.
type MediaSession interface {
	engine.MediaPort
	// LocalAddr is the bound RTP address written into our SDP.
	LocalAddr() *net.UDPAddr
	// SetRemote points the stream at the peer (from its SDP) with the negotiated codec.
	SetRemote(addr *net.UDPAddr, codec Codec, dtmfPT uint8)
	// SendDTMF sends one digit as RFC 4733 telephone-events.
	SendDTMF(digit string, dur time.Duration) error
	// OnDTMF registers the callback for digits received as RFC 4733 events.
	OnDTMF(func(digit string, durMs int))
	Close() error
}

// MediaFactory binds a new RTP session on ip.
type MediaFactory func(ip net.IP) (MediaSession, error)

// NullMedia is a MediaFactory for signalling-only use (tests, or until RTP is
// wired): it binds a real UDP port so SDP is truthful, sends nothing and
// reports silence.
func NullMedia(ip net.IP) (MediaSession, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
	if err != nil {
		return nil, fmt.Errorf("bind null media on %s: %w", ip, err)
	}
	return &nullSession{conn: c}, nil
}

type nullSession struct {
	conn  *net.UDPConn
	mu    sync.Mutex
	onDTM func(string, int)
	sent  []string
}

func (s *nullSession) ReadFrame(buf []int16) bool           { return false }
func (s *nullSession) WriteFrame(frame []int16)             {}
func (s *nullSession) LocalAddr() *net.UDPAddr              { return s.conn.LocalAddr().(*net.UDPAddr) }
func (s *nullSession) SetRemote(*net.UDPAddr, Codec, uint8) {}
func (s *nullSession) SendDTMF(digit string, _ time.Duration) error {
	s.mu.Lock()
	s.sent = append(s.sent, digit)
	s.mu.Unlock()
	return nil
}
func (s *nullSession) OnDTMF(f func(string, int)) {
	s.mu.Lock()
	s.onDTM = f
	s.mu.Unlock()
}
func (s *nullSession) Close() error { return s.conn.Close() }
