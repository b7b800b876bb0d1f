package tech

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"linkctl/ari/engine"
	"linkctl/sip/sipcause"
)

// callState is the SIP-side life of one channel.
type callState int

const (
	stateNew    callState = iota // INVITE received / being sent, nothing else yet
	stateEarly                   // 180/183 sent or received
	stateUp                      // 200 OK sent or received
	stateEnding                  // we are tearing down (CANCEL/BYE/final response in flight)
	stateEnded                   // gone; no more SIP for this call
)

func (s callState) String() string {
	switch s {
	case stateNew:
		return "new"
	case stateEarly:
		return "early"
	case stateUp:
		return "up"
	case stateEnding:
		return "ending"
	case stateEnded:
		return "ended"
	}
	return fmt.Sprintf("callState(%d)", int(s))
}

// legal lists the transitions a call may take; anything else is a bug or a
// race with the peer, reported as an error by setState.
var legal = map[callState][]callState{
	stateNew:    {stateEarly, stateUp, stateEnding, stateEnded},
	stateEarly:  {stateEarly, stateUp, stateEnding, stateEnded},
	stateUp:     {stateEnding, stateEnded},
	stateEnding: {stateEnded},
}

type direction int

const (
	inbound direction = iota + 1
	outbound
)

func (d direction) String() string {
	if d == inbound {
		return "inbound"
	}
	return "outbound"
}

// call is the technology's private state of one channel (ctl.TechPrivate()).
type call struct {
	t         *Tech
	dir       direction
	ctl       engine.ChannelControl
	log       *zap.Logger
	endpoint  string
	transport string
	dtmfInfo  bool
	key       string

	uas      *sipgo.DialogServerSession
	inviteTx sip.ServerTransaction // inbound: the INVITE's transaction, for final responses
	uac      *sipgo.DialogClientSession

	media  MediaSession
	sessID uint64

	mu          sync.Mutex
	state       callState
	remote      remoteMedia
	sdpVersion  uint64
	remoteHold  bool
	provisional bool // outbound: a 1xx other than 100 arrived, CANCEL is allowed
	lateOffer   bool // inbound INVITE without SDP: the peer's answer comes in the ACK
	localCause  int  // cause of our own hangup (0: not hung up by us)
	refer       *referSub
	finalSent   chan struct{} // inbound: closed once the INVITE transaction is settled

	// work runs in-dialog requests we originate (NOTIFY, INFO, DTMF) one at a
	// time in the order asked, off the engine's goroutine.
	work        []func()
	workRunning bool

	releaseOnce sync.Once
}

func (c *call) getState() callState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// setStateLocked moves the call on; the caller holds c.mu.
func (c *call) setStateLocked(to callState) error {
	from := c.state
	for _, ok := range legal[from] {
		if ok == to {
			c.state = to
			if from != to {
				c.log.Debug("sip call state", zap.Stringer("from", from), zap.Stringer("to", to))
			}
			return nil
		}
	}
	return fmt.Errorf("sip call %s: illegal transition %s -> %s", c.ctl.ID(), from, to)
}

// beginHangup marks a local hangup; it reports the state we were in and
// false if the call was already ending (hangup is idempotent).
func (c *call) beginHangup(cause int) (callState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	from := c.state
	if from >= stateEnding {
		return from, false
	}
	c.localCause = cause
	_ = c.setStateLocked(stateEnding)
	return from, true
}

// remoteEnded records that the peer ended the call and tells the engine,
// unless we had already started our own hangup.
func (c *call) remoteEnded(cause int, why string) {
	c.mu.Lock()
	already := c.state >= stateEnding
	if c.state != stateEnded {
		_ = c.setStateLocked(stateEnded)
	}
	c.mu.Unlock()
	c.release()
	if already {
		return
	}
	c.log.Info("sip call ended by peer", zap.Int("cause", cause), zap.String("cause_txt", sipcause.Text(cause)), zap.String("why", why))
	c.ctl.Hangup(cause)
}

// release frees the media and the dialog slot; safe to call many times.
func (c *call) release() {
	c.releaseOnce.Do(func() {
		c.mu.Lock()
		if c.state != stateEnded {
			c.state = stateEnded
		}
		fs := c.finalSent
		c.mu.Unlock()
		c.t.removeCall(c.key)
		if c.media != nil {
			c.ctl.SetMedia(nil)
			if err := c.media.Close(); err != nil {
				c.log.Debug("media close", zap.Error(err))
			}
		}
		if c.uas != nil {
			c.uas.Close()
		}
		if c.uac != nil {
			c.uac.Close()
		}
		if fs != nil {
			closeOnce(fs)
		}
	})
}

var closeMu sync.Mutex

func closeOnce(ch chan struct{}) {
	closeMu.Lock()
	defer closeMu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// enqueue runs f after every earlier enqueued job of this call, on a
// goroutine of its own: technology methods must return at once, yet the far
// end must see NOTIFYs and digits in order.
func (c *call) enqueue(f func()) {
	c.mu.Lock()
	start := c.enqueueLocked(f)
	c.mu.Unlock()
	if start {
		go c.runWork()
	}
}

// enqueueLocked queues f with c.mu held; if it reports true the caller must
// start runWork after unlocking.
func (c *call) enqueueLocked(f func()) bool {
	c.work = append(c.work, f)
	start := !c.workRunning
	c.workRunning = true
	return start
}

func (c *call) runWork() {
	for {
		c.mu.Lock()
		if len(c.work) == 0 {
			c.workRunning = false
			c.mu.Unlock()
			return
		}
		f := c.work[0]
		c.work = c.work[1:]
		c.mu.Unlock()
		f()
	}
}

// localSDP is our offer/answer for the current state.
func (c *call) localSDP(codecs []Codec, dtmfPT uint8, dir Direction) []byte {
	c.mu.Lock()
	c.sdpVersion++
	v := c.sdpVersion
	c.mu.Unlock()
	return buildSDP(c.media.LocalAddr(), c.sessID, v, codecs, dtmfPT, dir)
}

// applyRemote points the media at the peer and reports hold changes.
func (c *call) applyRemote(rm remoteMedia) (holdChanged, hold bool) {
	c.mu.Lock()
	c.remote = rm
	hold = rm.Direction.onHold()
	holdChanged = hold != c.remoteHold
	c.remoteHold = hold
	c.mu.Unlock()
	c.media.SetRemote(rm.Addr, rm.Codec, rm.DTMFPT)
	return holdChanged, hold
}

// prepare readies a request we send inside the dialog.
func (c *call) prepare(req *sip.Request) {
	req.SetTransport(strings.ToUpper(c.transport))
	c.t.setLocal(req)
	req.AppendHeader(sip.NewHeader("User-Agent", c.t.cfg.UserAgent))
}

// do sends an in-dialog request and waits for its final response.
func (c *call) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	c.prepare(req)
	if c.uas != nil {
		return c.uas.Do(ctx, req)
	}
	return c.uac.Do(ctx, req)
}

// remoteTarget is the peer's Contact: where in-dialog requests go.
func (c *call) remoteTarget() sip.Uri {
	if c.uas != nil {
		if ct := c.uas.InviteRequest.Contact(); ct != nil {
			return *ct.Address.Clone()
		}
		return *c.uas.InviteRequest.Recipient.Clone()
	}
	if res := c.uac.InviteResponse; res != nil {
		if ct := res.Contact(); ct != nil {
			return *ct.Address.Clone()
		}
	}
	return *c.uac.InviteRequest.Recipient.Clone()
}

// sendBye ends an answered call with the cause in a Reason header.
func (c *call) sendBye(cause int) {
	bye := sip.NewRequest(sip.BYE, c.remoteTarget())
	bye.AppendHeader(sip.NewHeader("Reason", sipcause.ReasonHeader(cause)))
	c.prepare(bye)
	ctx, cancel := c.t.endRequestCtx(32 * time.Second)
	defer cancel()
	var err error
	if c.uas != nil {
		err = c.uas.WriteBye(ctx, bye)
	} else {
		err = c.uac.WriteBye(ctx, bye)
	}
	if err != nil {
		c.log.Warn("BYE failed", zap.Error(err))
	}
}

func callerIP(ip string) net.IP {
	if p := net.ParseIP(ip); p != nil {
		return p
	}
	return net.IPv4(127, 0, 0, 1)
}

// AttachChannel implements engine.ChannelAttacher: the engine names an inbound
// call's channel before the channel enters Stasis (called with the engine locked).
func (c *call) AttachChannel(ctl engine.ChannelControl) {
	c.ctl = ctl
	c.log = c.log.With(zap.String("channel_id", ctl.ID()))
}

// callOf returns the call behind a channel handed back by the engine. Inbound
// calls are attached before their channel enters Stasis and outbound ones before
// Dial returns, so there is nothing to wait for.
func callOf(ch engine.ChannelControl) (*call, error) {
	if ch == nil {
		return nil, fmt.Errorf("sip: nil channel")
	}
	if c, ok := ch.TechPrivate().(*call); ok && c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("sip: channel %s has no SIP call", ch.ID())
}
