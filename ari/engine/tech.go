package engine

import (
	"context"
	"time"

	"linkctl/sip/sipcause"
)

// This file is the contract between the embedded switch core (package engine) and
// its channel technologies (Sim in ari/sim, PJSIP-compatible SIP in sip/tech).
// A technology never talks ARI: it drives channels through ChannelControl and the
// engine turns that into Asterisk-shaped channel state and ARI events.

// Technology creates and drives the channels of one kind ("Sim", "PJSIP").
// Every method must return quickly; progress is reported asynchronously
// through the ChannelControl handed to Dial or Inbound.
type Technology interface {
	// Name is the technology prefix of dial strings, e.g. "PJSIP" for "PJSIP/a110-2001".
	Name() string
	// Exists reports whether resource (the part after "Tech/") can be dialled now.
	// Originate to a resource that does not exist answers 500 {"error":"Allocation failed"}.
	Exists(resource string) bool
	// Dial starts an outgoing call on an already allocated channel. It returns an error
	// only if the call cannot even be attempted (the engine then answers Allocation failed).
	// Progress: ctl.Ringing(), ctl.Answered(), ctl.Hangup(cause).
	Dial(ctx context.Context, ctl ChannelControl, resource string, opts DialOptions) error
	// Answer answers an inbound channel (SIP 200 OK). Answering twice is a no-op.
	Answer(ch ChannelControl) error
	// Indicate sends an in-call indication on an unanswered inbound channel
	// (IndicateRinging = 180 Ringing, IndicateProgress = 183).
	Indicate(ch ChannelControl, ind Indication) error
	// Hangup ends the channel towards the far end (BYE, CANCEL, or final response
	// for an unanswered inbound call) with a Q.850 cause.
	Hangup(ch ChannelControl, cause int) error
	// SendDTMF sends digits to the far end (RFC 4733 or INFO, per endpoint).
	SendDTMF(ch ChannelControl, digits string, durationMs int) error
	// TransferProgress answers a transfer request (REFER) previously reported with
	// ctl.TransferRequested; state is one of the ARI transfer_progress states.
	TransferProgress(ch ChannelControl, state string) error
	// Endpoints lists the endpoints of this technology for GET /endpoints.
	Endpoints() []EndpointInfo
}

// Indication is an in-band/out-of-band call progress indication.
type Indication int

const (
	IndicateRinging Indication = iota + 1
	IndicateProgress
)

// DialOptions carry what an originate/dial asks of the technology.
type DialOptions struct {
	CallerIDName   string
	CallerIDNumber string
	// Headers are SIP headers added with PJSIP_HEADER(add,Name)=value, in the order set.
	Headers []Header
	// Variables are all originate variables (for technologies that care, e.g. Sim).
	Variables map[string]string
}

// Header is one SIP header name/value pair.
type Header struct{ Name, Value string }

// EndpointInfo is an ARI Endpoint (technology, resource, state, channel_ids filled by engine).
type EndpointInfo struct {
	Resource string
	State    string // "online", "offline", "unknown"
}

// ChannelControl is the engine's handle for one channel, given to technologies.
// All methods are safe for concurrent use and idempotent where it makes sense.
type ChannelControl interface {
	// ID is the ARI channel id.
	ID() string
	// Name is the Asterisk-style channel name, e.g. "PJSIP/a110-2001-00000002".
	Name() string
	// TechPrivate/SetTechPrivate keep the technology's per-channel state (dialog, RTP session).
	TechPrivate() any
	SetTechPrivate(v any)

	// Ringing: the far end is alerting (SIP 180/183). Channel state -> Ringing, Dial RINGING.
	Ringing()
	// Answered: the far end answered (outbound) — state Up, Dial ANSWER, then StasisStart.
	Answered()
	// Hangup: the far end hung up or the call failed (BYE, CANCEL, 4xx-6xx, timer B).
	// cause is Q.850 (16 normal, 17 busy, 18 no response, 19 no answer, 21 rejected, ...).
	Hangup(cause int)
	// DTMF: a digit arrived (RFC 4733 end of event, or INFO).
	DTMF(digit string, durationMs int)
	// TransferRequested: the far end asked for a blind transfer (REFER) to destination.
	TransferRequested(destination string)
	// Hold/Unhold: the far end put the call on hold (re-INVITE sendonly/inactive) or resumed.
	Hold()
	Unhold()

	// SetMedia attaches the channel's media port (nil detaches). The engine's media clock
	// reads what the far end says and writes what it should hear.
	SetMedia(p MediaPort)
}

// InboundCall describes a new call arriving from a technology.
type InboundCall struct {
	Tech           string // technology name
	Endpoint       string // endpoint resource the call came from, e.g. "citizen", "a12345-1001"
	Exten          string // dialled number, e.g. "12345"
	CallerIDName   string
	CallerIDNumber string
	ProtocolID     string   // SIP Call-ID
	Headers        []Header // inbound SIP headers, readable with PJSIP_HEADER(read,Name)
	// TechPrivate is the technology's state of the call. The engine sets it on the
	// channel before the channel enters Stasis, so the application's first command
	// (answer, ring, hangup) already finds it; if it implements ChannelAttacher it is
	// also told its ChannelControl then. The technology must have it ready to serve
	// Answer/Indicate/Hangup before it calls Inbound.
	TechPrivate any
}

// ChannelAttacher is implemented by an InboundCall.TechPrivate that wants its
// ChannelControl before the channel enters Stasis. AttachChannel is called with the
// engine locked: it must only store what it is given and never call back into ctl.
type ChannelAttacher interface {
	AttachChannel(ctl ChannelControl)
}

// InboundRouter is implemented by the engine: a technology hands every new inbound
// call to it. It returns the channel's control (with InboundCall.TechPrivate already
// attached; a technology that leaves it nil attaches its state with SetTechPrivate,
// racing the application's first command) or an error with the Q.850 cause the technology must reject the call with
// (e.g. no Stasis application connected -> 16, answered by the tech as 603 Decline).
type InboundRouter interface {
	Inbound(call InboundCall) (ChannelControl, error)
}

// MediaPort is a channel's audio, as 20 ms frames of 8 kHz signed 16-bit linear PCM
// (FrameSamples samples). Implemented by technologies (RTP for SIP; generated for Sim).
type MediaPort interface {
	// ReadFrame fills buf with the next 20 ms the far end sent and reports whether
	// there was any (false = silence / nothing received).
	ReadFrame(buf []int16) bool
	// WriteFrame sends 20 ms to the far end (what the channel's party hears).
	WriteFrame(frame []int16)
}

// TimedMediaPort is optionally implemented by a MediaPort whose stream carries
// its own timing (RTP timestamps). The media clock calls WriteFrameAt with the
// time the frame is due by its 20 ms schedule instead of WriteFrame, so frames
// sent back to back while a late clock catches up stay one contiguous stream
// rather than looking like a new talkspurt after a pause.
type TimedMediaPort interface {
	MediaPort
	WriteFrameAt(frame []int16, due time.Time)
}

// FrameSamples is the number of samples in one 20 ms frame at 8 kHz.
const FrameSamples = 160

// RejectError is returned by InboundRouter.Inbound when a call cannot be taken.
type RejectError struct {
	Cause  int // Q.850
	Reason string
	// RetryAfter, when set, is how long the caller should wait before trying
	// again (SIP Retry-After on the 503 of a switch that is shutting down).
	RetryAfter time.Duration
}

func (e *RejectError) Error() string { return "inbound call rejected: " + e.Reason }

// ProtocolIDSetter is implemented by the engine's ChannelControl: a technology
// that knows the call's protocol id (SIP Call-ID of an outgoing INVITE) reports it
// for the channel's protocol_id with ctl.(engine.ProtocolIDSetter).SetProtocolID(id).
// Added after the first contract; optional for technologies.
type ProtocolIDSetter interface {
	SetProtocolID(id string)
}

// SIPStatusForCause is a helper for technologies: the final response that ends an
// unanswered inbound call hung up with a Q.850 cause (t15: 16->603, 17->486, ...).
func SIPStatusForCause(cause int) int { st, _ := sipcause.ToSIP(cause); return st }
