package engine

import (
	"strings"

	"go.uber.org/zap"
)

var errReadFunction = errf(500, "Unable to read provided function")

// GetVariable is GET /channels/{id}/variable. PJSIP_HEADER(read,Name) reads the
// inbound call's headers; an absent header is a 500 like Asterisk (t03).
func (e *Engine) GetVariable(id, name string) (string, error) {
	e.mu.Lock()
	defer e.unlock()
	ch := e.channels[id]
	if ch == nil || ch.gone {
		return "", errChannelNotFound
	}
	return e.variableLocked(ch, name)
}

func (e *Engine) variableLocked(ch *Channel, name string) (string, error) {
	if name == "" {
		return "", errf(400, "Variable name is required")
	}
	if h, ok := strings.CutPrefix(name, "PJSIP_HEADER(read,"); ok && strings.HasSuffix(h, ")") {
		h = strings.TrimSuffix(h, ")")
		for _, hd := range ch.headers {
			if strings.EqualFold(hd.Name, h) {
				return hd.Value, nil
			}
		}
		return "", errReadFunction
	}
	switch name {
	case "CHANNEL(endpoint)":
		return ch.resource, nil
	case "CHANNEL(name)":
		return ch.name, nil
	case "CHANNEL(uniqueid)":
		return ch.id, nil
	case "CALLERID(num)":
		return ch.caller.Number, nil
	case "CALLERID(name)":
		return ch.caller.Name, nil
	}
	if v, ok := ch.vars[name]; ok {
		return v, nil
	}
	if strings.Contains(name, "(") {
		return "", errReadFunction
	}
	return "", errf(404, "Provided variable was not found")
}

// GetVariables is GET /channels/{id}/variables?variables=a,b (Asterisk 22).
func (e *Engine) GetVariables(id string, names []string) (map[string]string, error) {
	e.mu.Lock()
	defer e.unlock()
	ch := e.channels[id]
	if ch == nil || ch.gone {
		return nil, errChannelNotFound
	}
	if len(names) == 0 {
		return nil, errf(400, "Variables are required")
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		v, err := e.variableLocked(ch, n)
		if err != nil {
			if ae, ok := err.(*Error); ok && ae.Status == 404 {
				continue
			}
			return nil, err
		}
		out[n] = v
	}
	return out, nil
}

// SetVariable is POST /channels/{id}/variable.
func (e *Engine) SetVariable(id, name, value string) error {
	e.mu.Lock()
	defer e.unlock()
	ch := e.channels[id]
	if ch == nil || ch.gone {
		return errChannelNotFound
	}
	if name == "" {
		return errf(400, "Variable name is required")
	}
	e.varsetLocked(ch, name, value)
	return nil
}

// transfer states accepted by POST /channels/{id}/transfer_progress.
var transferStates = map[string]bool{"channel_progress": true, "channel_answered": true, "channel_unavailable": true, "channel_declined": true}

func (e *Engine) transferFields(ch *Channel, tech string) map[string]any {
	by := map[string]any{"source_channel": ch.snapshot()}
	if b := ch.bridge; b != nil {
		for _, m := range b.members {
			if m != ch {
				by["connected_channel"] = m.snapshot()
				break
			}
		}
		bs := b.snapshot()
		if tech != "" {
			bs.Technology = tech
		}
		by["bridge"] = bs
	}
	return map[string]any{"refer_to": map[string]any{"requested_destination": map[string]any{"destination": ch.transferDest}},
		"referred_by": by}
}

// remoteTransfer: the far end sent a REFER; the app decides (ari-only handling, t14).
func (e *Engine) remoteTransfer(ch *Channel, dest string) {
	e.mu.Lock()
	defer e.unlock()
	if ch.gone {
		return
	}
	ch.transferring = true
	ch.transferDest = dest
	ch.log.Info("transfer requested", zap.String("destination", dest))
	e.emit(ch.app, "ChannelTransfer", ch.id, e.transferFields(ch, ""))
}

// TransferProgress is POST /channels/{id}/transfer_progress.
func (e *Engine) TransferProgress(id, state string) error {
	e.mu.Lock()
	defer e.unlock()
	ch := e.channels[id]
	if ch == nil || ch.gone {
		return errChannelNotFound
	}
	if !transferStates[state] {
		return errf(400, "Invalid states value")
	}
	if !ch.transferring {
		return nil
	}
	final := state != "channel_progress"
	echo := state
	if state == "channel_unavailable" {
		echo = "channel_declined" // t14-refer-ari-only-unavailable
	}
	tech := "simple_bridge" // a frame hook sits on the referrer while the transfer is open
	if final {
		ch.transferring = false
		tech = ""
	}
	f := e.transferFields(ch, tech)
	f["state"] = echo
	e.emit(ch.app, "ChannelTransfer", ch.id, f)
	t, ctl := ch.tech, ch.ctl
	e.after(func() {
		if err := t.TransferProgress(ctl, state); err != nil {
			ch.log.Warn("transfer progress failed", zap.Error(err))
		}
	})
	return nil
}
