package callflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// endpointCheckTimeout bounds the endpoint-state look-up before a transfer: a slow
// PBX answer must not hold the agent's softkey; what is not known by then is unknown.
const endpointCheckTimeout = 2 * time.Second

// endpointRef is the PBX endpoint a dial string reaches.
type endpointRef struct {
	Tech, Resource string
	Trunk          bool // "PJSIP/110@to110": a number dialled through trunk to110
}

// endpointOfDial names the endpoint a dial string goes through:
// "PJSIP/a110-2001" -> PJSIP a110-2001; "PJSIP/110@to110" -> PJSIP to110 (trunk);
// "PJSIP/to110/sip:110@10.0.0.9" -> PJSIP to110. Local channels have no endpoint state.
func endpointOfDial(dial string) (endpointRef, bool) {
	tech, rest, ok := strings.Cut(dial, "/")
	if !ok || tech == "" || rest == "" || strings.EqualFold(tech, "Local") {
		return endpointRef{}, false
	}
	ref := endpointRef{Tech: tech, Resource: rest}
	if name, _, ok := strings.Cut(rest, "/"); ok {
		ref.Resource, ref.Trunk = name, true
	} else if _, trunk, ok := strings.Cut(rest, "@"); ok {
		ref.Resource, ref.Trunk = trunk, true
	}
	if ref.Resource == "" {
		return endpointRef{}, false
	}
	return ref, true
}

// targetUnreachable reports whether every endpoint a transfer would dial is offline
// (all trunks to the platform down, or no agent phone registered). Endpoints the PBX
// does not know, reports as unknown or cannot tell in time do not count as offline:
// the transfer is then tried and fails the usual way if it must.
func (cl *call) targetUnreachable(target Platform, dials []string) (bool, string) {
	refs := map[endpointRef]bool{}
	for _, d := range dials {
		ref, ok := endpointOfDial(d)
		if !ok {
			return false, ""
		}
		refs[ref] = true
	}
	if len(refs) == 0 {
		return false, ""
	}
	ctx, cancel := context.WithTimeout(cl.ctx, endpointCheckTimeout)
	defer cancel()
	var (
		mu      sync.Mutex
		offline []string
		trunks  bool
		wg      sync.WaitGroup
	)
	for ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := cl.ctl.endpoints.state(ctx, cl.ctl.pbx, ref)
			if err != nil {
				if !errors.Is(err, ErrNoSuchEndpoint) {
					cl.log.Warn("endpoint state unknown", zap.String("endpoint", ref.Tech+"/"+ref.Resource), zap.Error(err))
				}
				return
			}
			if st != EndpointOffline {
				return
			}
			mu.Lock()
			offline = append(offline, ref.Tech+"/"+ref.Resource)
			trunks = trunks || ref.Trunk
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(offline) < len(refs) {
		return false, ""
	}
	cl.log.Warn("transfer target unreachable: every endpoint offline", zap.String("platform", string(target)), zap.Strings("endpoints", offline))
	if trunks {
		return true, fmt.Sprintf("%s平台中继线路全部中断，无法转接，请稍后再试", target)
	}
	return true, fmt.Sprintf("%s平台坐席话机全部离线，无法转接，请稍后再试", target)
}

// endpointStateTTL is how long a reachable endpoint state read from the PBX is reused. A
// burst of transfers towards one platform (hundreds of softkeys within a second) then costs
// one look-up, not one per call, and a trunk that goes down is noticed within a second.
// "offline" is never reused: a platform that comes back is usable at once.
const endpointStateTTL = time.Second

// endpointCache shares endpoint-state look-ups between calls: one request in flight per
// endpoint, its answer reused for endpointStateTTL.
type endpointCache struct {
	mu      sync.Mutex
	entries map[endpointRef]*endpointEntry
}

type endpointEntry struct {
	done chan struct{} // closed when st/err are set
	at   time.Time
	st   EndpointStatus
	err  error
}

func (c *endpointCache) state(ctx context.Context, pbx PBX, ref endpointRef) (EndpointStatus, error) {
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[endpointRef]*endpointEntry{}
	}
	e := c.entries[ref]
	inFlight := e != nil && e.at.IsZero()
	fresh := inFlight || (e != nil && e.err == nil && e.st != EndpointOffline && time.Since(e.at) < endpointStateTTL)
	if !fresh {
		e = &endpointEntry{done: make(chan struct{})}
		c.entries[ref] = e
		c.mu.Unlock()
		// The look-up outlives a caller that gives up: others may be waiting on it.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endpointCheckTimeout)
		st, err := pbx.EndpointState(lctx, ref.Tech, ref.Resource)
		cancel()
		c.mu.Lock()
		e.st, e.err, e.at = st, err, time.Now()
		if err != nil && !errors.Is(err, ErrNoSuchEndpoint) {
			delete(c.entries, ref) // do not keep a transient failure
		}
		close(e.done)
		c.mu.Unlock()
		return st, err
	}
	c.mu.Unlock()
	select {
	case <-e.done:
		return e.st, e.err
	case <-ctx.Done():
		return EndpointUnknown, ctx.Err()
	}
}
