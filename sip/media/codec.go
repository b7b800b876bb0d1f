package media

import (
	"errors"
	"fmt"
	"strings"
)

// Codec is an RTP audio payload format as negotiated in SDP.
type Codec struct {
	Name string // encoding name as in a=rtpmap, e.g. "PCMU"
	PT   uint8  // RTP payload type
	Rate int    // clock rate, Hz
}

// The codecs the switch and the phones speak. PCMU and PCMA have static payload types.
var (
	PCMU = Codec{Name: "PCMU", PT: 0, Rate: 8000}
	PCMA = Codec{Name: "PCMA", PT: 8, Rate: 8000}
)

// DefaultCodecs is the preference order used when none is configured (Asterisk's allow=ulaw,alaw).
var DefaultCodecs = []Codec{PCMU, PCMA}

// DefaultDTMFPT is the payload type offered for telephone-event/8000.
const DefaultDTMFPT uint8 = 101

// ErrUnsupportedCodec is returned (wrapped) when asked to code audio in a format we do not implement.
var ErrUnsupportedCodec = errors.New("unsupported codec")

// String is "PCMU/8000 (0)".
func (c Codec) String() string { return fmt.Sprintf("%s/%d (%d)", c.Name, c.Rate, c.PT) }

// Same reports whether c and o are the same encoding (name and rate; the payload
// type may differ between the two sides of a call).
func (c Codec) Same(o Codec) bool {
	return strings.EqualFold(c.Name, o.Name) && c.Rate == o.Rate
}

// Supported reports whether Encode/Decode implement c.
func (c Codec) Supported() bool { return c.Same(PCMU) || c.Same(PCMA) }

// Encode appends the payload for pcm to dst.
func (c Codec) Encode(dst []byte, pcm []int16) ([]byte, error) {
	switch {
	case c.Same(PCMU):
		return ULawEncode(dst, pcm), nil
	case c.Same(PCMA):
		return ALawEncode(dst, pcm), nil
	}
	return dst, fmt.Errorf("encode %s: %w", c, ErrUnsupportedCodec)
}

// Decode appends the linear samples of payload to dst.
func (c Codec) Decode(dst []int16, payload []byte) ([]int16, error) {
	switch {
	case c.Same(PCMU):
		return ULawDecode(dst, payload), nil
	case c.Same(PCMA):
		return ALawDecode(dst, payload), nil
	}
	return dst, fmt.Errorf("decode %s: %w", c, ErrUnsupportedCodec)
}

// Transcode converts payload in place from one G.711 law to the other (no-op when
// both are the same encoding), for relaying between legs that negotiated differently.
func Transcode(payload []byte, from, to Codec) error {
	switch {
	case from.Same(to) && from.Supported():
		return nil
	case from.Same(PCMU) && to.Same(PCMA):
		ULawToALaw(payload)
		return nil
	case from.Same(PCMA) && to.Same(PCMU):
		ALawToULaw(payload)
		return nil
	}
	return fmt.Errorf("transcode %s to %s: %w", from, to, ErrUnsupportedCodec)
}
