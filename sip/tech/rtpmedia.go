package tech

import (
	"fmt"
	"net"

	"go.uber.org/zap"

	"linkctl/config"
	"linkctl/sip/media"
)

// RTPMedia is the MediaFactory backed by package sip/media: real RTP on the
// configured port range, G.711 coding, RFC 4733 DTMF both ways.
func RTPMedia(cfg config.SIPConfig, log *zap.Logger) MediaFactory {
	if log == nil {
		log = zap.NewNop()
	}
	return func(ip net.IP) (MediaSession, error) {
		s, err := media.NewSession(ip, media.WithPortRange(cfg.RTPPortMin, cfg.RTPPortMax), media.WithLogger(log))
		if err != nil {
			return nil, fmt.Errorf("rtp session on %s: %w", ip, err)
		}
		return rtpSession{s}, nil
	}
}

// rtpSession adapts *media.Session to MediaSession (codec type conversion).
type rtpSession struct{ *media.Session }

func (r rtpSession) SetRemote(addr *net.UDPAddr, c Codec, dtmfPT uint8) {
	r.Session.SetRemote(addr, media.Codec{Name: c.Name, PT: c.PT, Rate: 8000}, dtmfPT)
}
