package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// SDP errors. The SIP side maps ErrNoCommonCodec and ErrNoAudio to 488 Not
// Acceptable Here and ErrSDPMalformed to 400 Bad Request.
var (
	ErrSDPMalformed  = errors.New("malformed SDP")
	ErrNoAudio       = errors.New("no usable audio stream in SDP")
	ErrNoCommonCodec = errors.New("no common codec")
)

// maxSDPBytes bounds what we parse; real audio SDPs are a few hundred bytes.
const maxSDPBytes = 16 << 10

// Directions of an SDP media stream (RFC 3264).
const (
	SendRecv = "sendrecv"
	SendOnly = "sendonly"
	RecvOnly = "recvonly"
	Inactive = "inactive"
)

// Negotiated is the outcome of offer/answer for the audio stream.
type Negotiated struct {
	Remote *net.UDPAddr // where to send RTP
	Codec  Codec        // the audio codec both sides use, with the payload type to send
	DTMFPT uint8        // payload type of telephone-event/8000; 0 = the far end has none
	// Direction is the direction the far end declared in its SDP (sendrecv, sendonly,
	// recvonly, inactive). sendonly or inactive from the far end means it holds the call.
	// A connection address of 0.0.0.0 (RFC 2543 hold) is reported as inactive.
	Direction string
}

// OnHold reports whether the far end's SDP puts the call on hold.
func (n Negotiated) OnHold() bool { return n.Direction == SendOnly || n.Direction == Inactive }

// Offer describes a local SDP offer (or re-offer).
type Offer struct {
	Local     *net.UDPAddr // our RTP address
	SessionID uint64
	Version   uint64 // o= session version; increment for each re-INVITE
	Codecs    []Codec
	DTMFPT    uint8  // telephone-event payload type; 0 = DefaultDTMFPT
	Direction string // "" = sendrecv
}

// BuildOffer returns an SDP offer for one audio stream at local with codecs in
// preference order and telephone-event/8000 on payload type 101.
func BuildOffer(local *net.UDPAddr, sessID uint64, codecs []Codec) ([]byte, error) {
	return Offer{Local: local, SessionID: sessID, Version: sessID, Codecs: codecs}.Marshal()
}

// Marshal encodes the offer.
func (o Offer) Marshal() ([]byte, error) {
	if len(o.Codecs) == 0 {
		return nil, fmt.Errorf("build offer: %w", ErrNoCommonCodec)
	}
	dtmf := o.DTMFPT
	if dtmf == 0 {
		dtmf = DefaultDTMFPT
	}
	return marshalSDP(o.Local, o.SessionID, o.Version, o.Codecs, dtmf, orSendRecv(o.Direction), nil)
}

// AnswerOffer negotiates an answer to offer: it picks the first offered audio codec
// that is in supported (using the offerer's payload type), keeps telephone-event when
// offered, mirrors the direction (sendonly -> recvonly, ...) and rejects (port 0) any
// other media stream. Errors wrap ErrSDPMalformed, ErrNoAudio or ErrNoCommonCodec.
func AnswerOffer(offer []byte, local *net.UDPAddr, supported []Codec) (answer []byte, neg Negotiated, err error) {
	return AnswerOfferWith(offer, local, supported, AnswerOptions{})
}

// AnswerOptions refine AnswerOfferWith.
type AnswerOptions struct {
	// SessionID and Version of our o= line (0: derived from the offer). A UA
	// answering re-INVITEs must keep SessionID and increase Version when its SDP changes.
	SessionID, Version uint64
	// Direction is what we want ("" = sendrecv); the answer combines it with the offer's.
	Direction string
}

// AnswerOfferWith is AnswerOffer with our own o= line and direction wish.
func AnswerOfferWith(offer []byte, local *net.UDPAddr, supported []Codec, opts AnswerOptions) (answer []byte, neg Negotiated, err error) {
	sd, err := parseSDP(offer)
	if err != nil {
		return nil, Negotiated{}, err
	}
	idx, neg, err := pickAudio(sd, supported)
	if err != nil {
		return nil, Negotiated{}, fmt.Errorf("answer offer: %w", err)
	}
	sessID, version := opts.SessionID, opts.Version
	if sessID == 0 {
		sessID = sd.Origin.SessionID ^ 0x5bd1e995
	}
	if version == 0 {
		version = sessID
	}
	dir := answerDirection(neg.Direction, orSendRecv(opts.Direction))
	out, err := marshalSDP(local, sessID, version, []Codec{neg.Codec}, neg.DTMFPT, dir, &rejectPlan{count: len(sd.MediaDescriptions), keep: idx, sd: sd})
	if err != nil {
		return nil, Negotiated{}, err
	}
	return out, neg, nil
}

// ParseAnswer reads the far end's answer to an offer of offered codecs.
func ParseAnswer(answer []byte, offered []Codec) (Negotiated, error) {
	sd, err := parseSDP(answer)
	if err != nil {
		return Negotiated{}, err
	}
	_, neg, err := pickAudio(sd, offered)
	if err != nil {
		return Negotiated{}, fmt.Errorf("parse answer: %w", err)
	}
	return neg, nil
}

// ParseOffer reads a far-end offer without answering it (e.g. a re-INVITE, to see hold).
func ParseOffer(offer []byte, supported []Codec) (Negotiated, error) {
	sd, err := parseSDP(offer)
	if err != nil {
		return Negotiated{}, err
	}
	_, neg, err := pickAudio(sd, supported)
	if err != nil {
		return Negotiated{}, fmt.Errorf("parse offer: %w", err)
	}
	return neg, nil
}

func parseSDP(raw []byte) (sd *sdp.SessionDescription, err error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("empty body: %w", ErrSDPMalformed)
	}
	if len(raw) > maxSDPBytes {
		return nil, fmt.Errorf("%d bytes: %w", len(raw), ErrSDPMalformed)
	}
	defer func() {
		// the parser is outside input's first contact; never let it take the process down
		if r := recover(); r != nil {
			sd, err = nil, fmt.Errorf("parser panic %v: %w", r, ErrSDPMalformed)
		}
	}()
	sd = &sdp.SessionDescription{}
	if err := sd.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSDPMalformed, err)
	}
	return sd, nil
}

// pickAudio finds the first usable audio stream and its first format that is in
// ours: the peer's preference decides, as RFC 3264 §6.1 asks of an answerer.
func pickAudio(sd *sdp.SessionDescription, ours []Codec) (int, Negotiated, error) {
	sawAudio := false
	for i, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
			continue
		}
		proto := strings.Join(md.MediaName.Protos, "/")
		if proto != "RTP/AVP" && proto != "RTP/AVPF" {
			continue
		}
		sawAudio = true
		addr, held, err := connectionAddr(sd, md)
		if err != nil {
			return 0, Negotiated{}, err
		}
		port := md.MediaName.Port.Value
		if port < 1 || port > 65535 {
			return 0, Negotiated{}, fmt.Errorf("media port %d: %w", port, ErrSDPMalformed)
		}
		neg := Negotiated{Remote: net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(port))), Direction: streamDirection(sd, md)}
		if held {
			neg.Direction = Inactive
		}
		rtpmaps := rtpmapsOf(md)
		found := false
		for _, f := range md.MediaName.Formats {
			pt, err := strconv.ParseUint(f, 10, 8)
			if err != nil || pt > 127 {
				return 0, Negotiated{}, fmt.Errorf("payload type %q: %w", f, ErrSDPMalformed)
			}
			c, ok := rtpmaps[uint8(pt)]
			if !ok {
				c, ok = staticCodec(uint8(pt))
				if !ok {
					continue
				}
			}
			if strings.EqualFold(c.Name, "telephone-event") && c.Rate == 8000 {
				if neg.DTMFPT == 0 {
					neg.DTMFPT = c.PT
				}
				continue
			}
			if !found && containsCodec(ours, c) {
				neg.Codec, found = c, true
			}
		}
		if !found {
			return 0, Negotiated{}, fmt.Errorf("offered %v, we support %v: %w", md.MediaName.Formats, ours, ErrNoCommonCodec)
		}
		return i, neg, nil
	}
	if sawAudio {
		return 0, Negotiated{}, ErrNoCommonCodec
	}
	return 0, Negotiated{}, ErrNoAudio
}

func connectionAddr(sd *sdp.SessionDescription, md *sdp.MediaDescription) (addr netip.Addr, held bool, err error) {
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return netip.Addr{}, false, fmt.Errorf("no c= line for audio: %w", ErrSDPMalformed)
	}
	if ci.NetworkType != "IN" || (ci.AddressType != "IP4" && ci.AddressType != "IP6") {
		return netip.Addr{}, false, fmt.Errorf("c=%s %s: %w", ci.NetworkType, ci.AddressType, ErrSDPMalformed)
	}
	a, err := netip.ParseAddr(ci.Address.Address)
	if err != nil {
		return netip.Addr{}, false, fmt.Errorf("connection address %q (names are not resolved): %w", ci.Address.Address, ErrSDPMalformed)
	}
	if a.Is4() != (ci.AddressType == "IP4") {
		return netip.Addr{}, false, fmt.Errorf("connection address %q is not %s: %w", a, ci.AddressType, ErrSDPMalformed)
	}
	return a.Unmap(), a.IsUnspecified(), nil
}

func streamDirection(sd *sdp.SessionDescription, md *sdp.MediaDescription) string {
	for _, attrs := range [][]sdp.Attribute{md.Attributes, sd.Attributes} {
		for _, a := range attrs {
			switch a.Key {
			case SendRecv, SendOnly, RecvOnly, Inactive:
				return a.Key
			}
		}
	}
	return SendRecv
}

func rtpmapsOf(md *sdp.MediaDescription) map[uint8]Codec {
	m := make(map[uint8]Codec)
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		ptStr, enc, ok := strings.Cut(a.Value, " ")
		if !ok {
			continue
		}
		pt, err := strconv.ParseUint(ptStr, 10, 8)
		if err != nil || pt > 127 {
			continue
		}
		parts := strings.Split(strings.TrimSpace(enc), "/")
		if len(parts) < 2 {
			continue
		}
		rate, err := strconv.Atoi(parts[1])
		if err != nil || rate <= 0 {
			continue
		}
		m[uint8(pt)] = Codec{Name: parts[0], PT: uint8(pt), Rate: rate}
	}
	return m
}

func staticCodec(pt uint8) (Codec, bool) {
	switch pt {
	case PCMU.PT:
		return PCMU, true
	case PCMA.PT:
		return PCMA, true
	}
	return Codec{}, false
}

func containsCodec(list []Codec, c Codec) bool {
	for _, o := range list {
		if o.Same(c) {
			return true
		}
	}
	return false
}

func answerDirection(offered, ours string) string {
	canSend := offered == SendRecv || offered == RecvOnly
	canRecv := offered == SendRecv || offered == SendOnly
	if ours == SendOnly || ours == Inactive {
		canRecv = false
	}
	if ours == RecvOnly || ours == Inactive {
		canSend = false
	}
	switch {
	case canSend && canRecv:
		return SendRecv
	case canSend:
		return SendOnly
	case canRecv:
		return RecvOnly
	}
	return Inactive
}

func orSendRecv(dir string) string {
	switch dir {
	case SendOnly, RecvOnly, Inactive:
		return dir
	}
	return SendRecv
}

// rejectPlan makes an answer carry as many m= lines as the offer, only one accepted.
type rejectPlan struct {
	count, keep int
	sd          *sdp.SessionDescription
}

func marshalSDP(local *net.UDPAddr, sessID, version uint64, codecs []Codec, dtmfPT uint8, dir string, plan *rejectPlan) ([]byte, error) {
	if local == nil || local.IP == nil || local.Port <= 0 || local.Port > 65535 {
		return nil, fmt.Errorf("build sdp: bad local address %v", local)
	}
	addrType, ip := "IP4", local.IP.String()
	if local.IP.To4() == nil {
		addrType = "IP6"
	}
	sessID &= 1<<63 - 1 // o= fields must fit a signed 64-bit integer for many parsers
	version &= 1<<63 - 1
	sd := &sdp.SessionDescription{
		Origin: sdp.Origin{
			Username: "linkctl", SessionID: sessID, SessionVersion: version,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: ip,
		},
		SessionName:           "linkctl",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: ip}},
		TimeDescriptions:      []sdp.TimeDescription{{Timing: sdp.Timing{}}},
	}
	audio := &sdp.MediaDescription{
		MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: local.Port}, Protos: []string{"RTP", "AVP"}},
	}
	for _, c := range codecs {
		audio.MediaName.Formats = append(audio.MediaName.Formats, strconv.Itoa(int(c.PT)))
		audio.Attributes = append(audio.Attributes, sdp.NewAttribute("rtpmap", fmt.Sprintf("%d %s/%d", c.PT, c.Name, c.Rate)))
	}
	if dtmfPT != 0 {
		audio.MediaName.Formats = append(audio.MediaName.Formats, strconv.Itoa(int(dtmfPT)))
		audio.Attributes = append(audio.Attributes,
			sdp.NewAttribute("rtpmap", fmt.Sprintf("%d telephone-event/8000", dtmfPT)),
			sdp.NewAttribute("fmtp", fmt.Sprintf("%d 0-16", dtmfPT)))
	}
	audio.Attributes = append(audio.Attributes, sdp.NewAttribute("ptime", "20"), sdp.NewPropertyAttribute(dir))
	if plan == nil {
		sd.MediaDescriptions = []*sdp.MediaDescription{audio}
	} else {
		for i := range plan.count {
			if i == plan.keep {
				sd.MediaDescriptions = append(sd.MediaDescriptions, audio)
				continue
			}
			off := plan.sd.MediaDescriptions[i].MediaName
			formats := off.Formats
			if len(formats) > 1 {
				formats = formats[:1]
			}
			sd.MediaDescriptions = append(sd.MediaDescriptions, &sdp.MediaDescription{
				MediaName: sdp.MediaName{Media: off.Media, Port: sdp.RangedPort{Value: 0}, Protos: off.Protos, Formats: formats},
			})
		}
	}
	out, err := sd.Marshal()
	if err != nil {
		return nil, fmt.Errorf("build sdp: %w", err)
	}
	return out, nil
}
