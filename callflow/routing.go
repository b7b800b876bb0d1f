package callflow

import (
	"context"
	"linkctl/config"
	"strings"
	"time"

	"go.uber.org/zap"
)

func (cl *call) groupFor(p Platform) config.GroupConfig { return cl.ctl.cfg.Groups[string(p)] }

// startRouting rings the agent group of platform p for the caller.
func (cl *call) startRouting(p Platform) {
	g := cl.groupFor(p)
	cl.gen++
	ds := &dialSet{platform: p, endpoints: g.Agents, sequence: g.Strategy == "round-robin", timeout: g.RingTimeout.D(), gen: cl.gen,
		meta: Metadata{CallID: cl.id, Role: AgentRole(p), Origin: p}}
	if ds.sequence && len(g.Agents) > 0 {
		ds.next = cl.ctl.nextAgent(p, len(g.Agents))
	}
	cl.routing = ds
	cl.dialNext(ds)
}

// dialNext originates the legs of a dial set: all (ring-all) or the next one (round-robin).
// It returns false when there is nothing left to try.
func (cl *call) dialNext(ds *dialSet) bool {
	var eps []string
	if ds.sequence {
		tried := len(ds.legs)
		if tried >= len(ds.endpoints) {
			return false
		}
		eps = []string{ds.endpoints[(ds.next+tried)%len(ds.endpoints)]}
	} else {
		if len(ds.legs) > 0 {
			return false
		}
		eps = ds.endpoints
	}
	kind := timerRouting
	if ds != cl.routing {
		kind = timerTarget
	}
	cl.after(ds.timeout+2*time.Second, kind, ds.gen) // safety net if the PBX never reports the end
	// Every leg of a ring-all is originated before any refusal is acted on: an
	// unreachable first agent (500 Allocation failed, t06) must not fail the whole
	// group while the others are about to ring (they would ring as orphans).
	var refused []*leg
	var reasons []string
	for _, ep := range eps {
		if l, err := cl.originate(ds, ep); err != nil {
			refused, reasons = append(refused, l), append(reasons, err.Error())
		}
	}
	for i, l := range refused {
		cl.legFailed(l, 0, reasons[i])
	}
	return true
}

// originate starts one leg of ds; a refused originate returns the leg (marked
// unavailable) and the error, for the caller to fail once every leg is started.
func (cl *call) originate(ds *dialSet, endpoint string) (*leg, error) {
	id := cl.ctl.newID("a")
	l := cl.addLeg(id, AgentRole(ds.platform), ds.platform, endpoint, agentName(endpoint))
	ds.legs = append(ds.legs, l)
	cl.ctl.route(id, cl) // subscribe before execute
	vars := ds.meta.Variables()
	vars[VarPlatform] = string(ds.platform)
	if strings.HasPrefix(endpoint, "PJSIP/") {
		// The phone's own transfer key reaches the controller as ChannelTransfer (t14).
		vars["PJSIP_TRANSFER_HANDLING()"] = "ari-only"
	}
	req := OriginateRequest{ChannelID: id, Endpoint: endpoint, AppArgs: []string{"outbound", string(AgentRole(ds.platform)), cl.id},
		CallerID: cl.rec.CallerNumber, Timeout: ds.timeout, Originator: cl.caller.id, Variables: vars}
	err := cl.cmd("originate", func(ctx context.Context) error { return cl.ctl.pbx.Originate(ctx, req) })
	if err != nil {
		// Allocation failed and friends: the endpoint cannot be reached now.
		l.status = "CHANUNAVAIL"
		return l, err
	}
	return l, nil
}

func (cl *call) agentAnswered(l *leg) {
	if err := cl.setState(InAgentAnswered); err != nil {
		cl.log.Error("agent answered", zap.Error(err))
		return
	}
	for _, o := range cl.routing.legs {
		if o != l {
			cl.release(o, "normal")
		}
	}
	cl.routing = nil
	cl.owner = l
	cl.decoders[l.id] = cl.newDecoder()
	pbx := cl.ctl.pbx
	_ = cl.cmd("stop ring", func(ctx context.Context) error { return pbx.StopRing(ctx, cl.caller.id) })
	_ = cl.cmd("stop moh", func(ctx context.Context) error { return pbx.StopMOH(ctx, cl.caller.id) })
	if err := cl.bridgeAdd(cl.caller.id, l.id); err != nil {
		cl.log.Error("cannot bridge caller with agent", zap.String("agent_channel_id", l.id), zap.Error(err))
	}
	cl.log.Info("agent answered", zap.String("agent", l.agent), zap.String("agent_channel_id", l.id))
}

func (cl *call) newDecoder() *featureDecoder {
	return newFeatureDecoder(cl.ctl.cfg.Softkeys.Map(), cl.ctl.cfg.DTMFInterDigit.D())
}

func (cl *call) routingLegFailed(ds *dialSet) {
	if cl.state != StateRouting || !allGone(ds.legs) {
		return
	}
	if cl.dialNext(ds) {
		return
	}
	if err := cl.setState(InAgentsExhausted); err != nil {
		return
	}
	cl.log.Info("no agent of the group answered; ringing again", zap.String("platform", string(ds.platform)))
	cl.routing = nil
	cl.gen++
	cl.after(2*time.Second, timerReroute, cl.gen) // the caller keeps hearing ringback meanwhile
}
