package tech

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Codec is an RTP audio payload format this technology can negotiate.
type Codec struct {
	Name string // "PCMU", "PCMA"
	PT   uint8
}

var (
	// CodecPCMU is G.711 mu-law, static payload type 0.
	CodecPCMU = Codec{Name: "PCMU", PT: 0}
	// CodecPCMA is G.711 A-law, static payload type 8.
	CodecPCMA = Codec{Name: "PCMA", PT: 8}
)

// defaultDTMFPT is the telephone-event payload type we offer (as Asterisk does).
const defaultDTMFPT = 101

// Direction is an SDP media direction attribute.
type Direction string

const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
	Inactive Direction = "inactive"
)

// reverse is the direction we answer with: a peer that only sends makes us only receive.
func (d Direction) reverse() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	default:
		return d
	}
}

// onHold reports whether a peer's direction means it put the call on hold.
func (d Direction) onHold() bool { return d == SendOnly || d == Inactive }

var (
	// errSDPMalformed: the body is not parseable SDP or lacks an audio stream / address.
	errSDPMalformed = errors.New("malformed SDP")
	// errNoCommonCodec: nothing in the offer is a codec we support (488 Not Acceptable Here).
	errNoCommonCodec = errors.New("no common codec")
)

// remoteMedia is what we learned from the peer's SDP.
type remoteMedia struct {
	Addr      *net.UDPAddr
	Codec     Codec // first supported codec, in the peer's order for offers we answer
	DTMFPT    uint8 // 0 = none offered
	Direction Direction
	offered   []Codec // supported codecs present in the SDP, peer order
}

// parseSDP reads the first audio stream of an SDP body and picks the codec:
// for an offer, the first of the peer's formats that we support (peer
// preference, as chan_pjsip does); for an answer, the peer's choice.
func parseSDP(body []byte, supported []Codec) (remoteMedia, error) {
	var rm remoteMedia
	if len(body) == 0 {
		return rm, fmt.Errorf("%w: empty body", errSDPMalformed)
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return rm, fmt.Errorf("%w: %v", errSDPMalformed, err)
	}
	var audio *sdp.MediaDescription
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media == "audio" && md.MediaName.Port.Value != 0 {
			audio = md
			break
		}
	}
	if audio == nil {
		return rm, fmt.Errorf("%w: no active audio stream", errSDPMalformed)
	}
	conn := audio.ConnectionInformation
	if conn == nil {
		conn = sd.ConnectionInformation
	}
	if conn == nil || conn.Address == nil {
		return rm, fmt.Errorf("%w: no connection address", errSDPMalformed)
	}
	ip := net.ParseIP(conn.Address.Address)
	if ip == nil {
		return rm, fmt.Errorf("%w: connection address %q is not an IP", errSDPMalformed, conn.Address.Address)
	}
	port := audio.MediaName.Port.Value
	if port <= 0 || port > 65535 {
		return rm, fmt.Errorf("%w: port %d", errSDPMalformed, port)
	}
	rm.Addr = &net.UDPAddr{IP: ip, Port: port}

	rtpmap := map[uint8]string{}
	rm.Direction = SendRecv
	for _, attrs := range [][]sdp.Attribute{sd.Attributes, audio.Attributes} {
		for _, a := range attrs {
			switch a.Key {
			case "rtpmap":
				ptStr, enc, ok := strings.Cut(a.Value, " ")
				pt, err := strconv.ParseUint(ptStr, 10, 7)
				if ok && err == nil {
					name, _, _ := strings.Cut(enc, "/")
					rtpmap[uint8(pt)] = strings.ToUpper(name)
				}
			case string(SendRecv), string(SendOnly), string(RecvOnly), string(Inactive):
				rm.Direction = Direction(a.Key)
			}
		}
	}
	if ip.IsUnspecified() && rm.Direction == SendRecv {
		// RFC 2543 hold: c=0.0.0.0.
		rm.Direction = Inactive
	}
	for _, f := range audio.MediaName.Formats {
		pt64, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		pt := uint8(pt64)
		name, mapped := rtpmap[pt]
		if !mapped {
			// Static payload types need no rtpmap.
			switch pt {
			case 0:
				name = "PCMU"
			case 8:
				name = "PCMA"
			}
		}
		if name == "TELEPHONE-EVENT" {
			if rm.DTMFPT == 0 {
				rm.DTMFPT = pt
			}
			continue
		}
		for _, c := range supported {
			if c.Name == name {
				rm.offered = append(rm.offered, Codec{Name: name, PT: pt})
			}
		}
	}
	if len(rm.offered) == 0 {
		return rm, fmt.Errorf("%w: offered %v", errNoCommonCodec, audio.MediaName.Formats)
	}
	rm.Codec = rm.offered[0]
	return rm, nil
}

// buildSDP writes our offer or answer in the shape chan_pjsip uses.
// codecs are listed in order; dtmfPT 0 leaves telephone-event out.
func buildSDP(local *net.UDPAddr, sessID, version uint64, codecs []Codec, dtmfPT uint8, dir Direction) []byte {
	var b strings.Builder
	ip := local.IP.String()
	family := "IP4"
	if local.IP.To4() == nil {
		family = "IP6"
	}
	fmt.Fprintf(&b, "v=0\r\no=- %d %d IN %s %s\r\ns=linkctl\r\nc=IN %s %s\r\nt=0 0\r\n", sessID, version, family, ip, family, ip)
	fmt.Fprintf(&b, "m=audio %d RTP/AVP", local.Port)
	for _, c := range codecs {
		fmt.Fprintf(&b, " %d", c.PT)
	}
	if dtmfPT != 0 {
		fmt.Fprintf(&b, " %d", dtmfPT)
	}
	b.WriteString("\r\n")
	for _, c := range codecs {
		fmt.Fprintf(&b, "a=rtpmap:%d %s/8000\r\n", c.PT, c.Name)
	}
	if dtmfPT != 0 {
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", dtmfPT, dtmfPT)
	}
	fmt.Fprintf(&b, "a=ptime:20\r\na=maxptime:140\r\na=%s\r\n", dir)
	return []byte(b.String())
}

// codecsFromNames maps configured codec names to codecs, ignoring unknown names
// (config validation rejects them).
func codecsFromNames(names []string) []Codec {
	var out []Codec
	for _, n := range names {
		switch strings.ToUpper(n) {
		case "PCMU":
			out = append(out, CodecPCMU)
		case "PCMA":
			out = append(out, CodecPCMA)
		}
	}
	if len(out) == 0 {
		out = []Codec{CodecPCMU, CodecPCMA}
	}
	return out
}
