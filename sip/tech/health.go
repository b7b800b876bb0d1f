package tech

import (
	"context"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"linkctl/config"
)

// startHealth probes every trunk with an options_interval and keeps the
// addresses of trunks given by host name fresh (every minute).
func (t *Tech) startHealth() {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			ctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
			for _, err := range t.dir.refreshTrunkHosts(ctx, resolveIPs) {
				t.log.Warn("trunk host not resolved; calls from it will not be identified", zap.Error(err))
			}
			cancel()
			select {
			case <-t.ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	for _, tr := range t.cfg.Trunks {
		if tr.OptionsInterval <= 0 {
			continue
		}
		t.wg.Add(1)
		go func(tr config.SIPTrunk) {
			defer t.wg.Done()
			t.probeLoop(tr)
		}(tr)
	}
}

func (t *Tech) probeLoop(tr config.SIPTrunk) {
	interval := tr.OptionsInterval.D()
	// A probe waits at most the interval (and never more than 5 s), so a dead
	// peer is noticed within one period instead of after timer F (32 s).
	timeout := min(max(interval, time.Second), 5*time.Second)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		st, errText := t.probe(tr, timeout)
		if old, changed := t.dir.setTrunk(tr.Name, st, errText); changed {
			fields := []zap.Field{zap.String("trunk", tr.Name), zap.String("platform", tr.Platform), zap.String("address", tr.Address), zap.Stringer("from", old), zap.Stringer("to", st)}
			if st == TrunkDown {
				t.log.Warn("trunk down", append(fields, zap.String("error", errText))...)
			} else {
				t.log.Info("trunk up", fields...)
			}
		}
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probe sends one OPTIONS; any response at all means the peer is alive.
func (t *Tech) probe(tr config.SIPTrunk, timeout time.Duration) (TrunkState, string) {
	host, portStr, _ := net.SplitHostPort(tr.Address)
	port, _ := strconv.Atoi(portStr)
	transport := tr.Transport
	if transport == "" {
		transport = "udp"
	}
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: host, Port: port})
	req.SetTransport(strings.ToUpper(transport))
	req.SetDestination(tr.Address)
	req.AppendHeader(sip.NewHeader("User-Agent", t.cfg.UserAgent))
	req.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	t.setLocal(req)
	ctx, cancel := context.WithTimeout(t.ctx, timeout)
	defer cancel()
	res, err := t.client.Do(ctx, req, sipgo.ClientRequestBuild)
	if err != nil {
		if t.ctx.Err() != nil {
			return TrunkUnknown, "shutting down"
		}
		return TrunkDown, err.Error()
	}
	_ = res
	return TrunkUp, ""
}

func resolveIPs(ctx context.Context, host string) ([]net.IP, error) {
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	ips := make([]net.IP, len(addrs))
	for i, a := range addrs {
		ips[i] = a.IP
	}
	return ips, nil
}
