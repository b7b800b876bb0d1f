package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"go.uber.org/zap"
	"golang.org/x/net/websocket"

	"linkctl/callflow"
)

// Run keeps the event WebSocket connected until ctx ends, reconnecting with
// exponential backoff and jitter. After every (re)connect it emits
// callflow.Connected so the controller can reconcile what it missed (Asterisk
// replays nothing, trace t13). It closes Events when it returns.
func (c *Client) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("ari client: Run called twice")
	}
	defer close(c.events)
	backoff := c.opts.ReconnectMin
	reconnect := false
	for ctx.Err() == nil {
		ws, err := c.dial(ctx)
		if err != nil {
			wait := jitter(backoff)
			c.log.Warn("ari events: connect failed", zap.Error(err), zap.Duration("retry_in", wait))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			backoff = min(backoff*2, c.opts.ReconnectMax)
			continue
		}
		backoff = c.opts.ReconnectMin
		c.connected.Store(true)
		c.log.Info("ari events: connected", zap.String("url", c.opts.WebsocketURL), zap.Bool("reconnect", reconnect))
		if !c.emit(ctx, callflow.Connected{Reconnect: reconnect}) {
			_ = ws.Close()
			return nil
		}
		reconnect = true
		err = c.read(ctx, ws)
		c.connected.Store(false)
		_ = ws.Close()
		if ctx.Err() != nil {
			return nil
		}
		c.log.Warn("ari events: connection lost", zap.Error(err))
	}
	return nil
}

// jitter spreads reconnects of many controllers: a random value in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

func (c *Client) dial(ctx context.Context) (*websocket.Conn, error) {
	q := url.Values{}
	q.Set("app", c.opts.Application)
	q.Set("subscribeAll", "false")
	cfg, err := websocket.NewConfig(c.opts.WebsocketURL+"?"+q.Encode(), "http://localhost/")
	if err != nil {
		return nil, fmt.Errorf("websocket config: %w", err)
	}
	cfg.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.opts.Username+":"+c.opts.Password)))
	dctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	ws, err := cfg.DialContext(dctx)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", c.opts.WebsocketURL, err)
	}
	return ws, nil
}

func (c *Client) read(ctx context.Context, ws *websocket.Conn) error {
	stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
	defer stop()
	for {
		var data []byte
		if err := websocket.Message.Receive(ws, &data); err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		ev, err := Decode(data)
		if err != nil {
			c.log.Debug("ari events: undecodable message", zap.Error(err), zap.ByteString("raw", truncate(data, 300)))
			continue
		}
		if ev == nil {
			continue // an event the controller does not use
		}
		if !c.emit(ctx, ev) {
			return ctx.Err()
		}
	}
}

func (c *Client) emit(ctx context.Context, ev callflow.Event) bool {
	select {
	case c.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// channelTransfer is ARI's ChannelTransfer (Asterisk 22.3+), unknown to ari v5.3.1.
type channelTransfer struct {
	Type    string `json:"type"`
	State   string `json:"state"`
	ReferTo struct {
		RequestedDestination struct {
			Destination string `json:"destination"`
		} `json:"requested_destination"`
	} `json:"refer_to"`
	ReferredBy struct {
		SourceChannel    ari.ChannelData `json:"source_channel"`
		ConnectedChannel ari.ChannelData `json:"connected_channel"`
		Bridge           ari.BridgeData  `json:"bridge"`
	} `json:"referred_by"`
}

// Decode turns one ARI event message into a callflow event; (nil, nil) for events
// the controller does not use. ChannelTransfer is decoded from the raw JSON; the
// echo Asterisk sends for each transfer_progress (with a state) is dropped.
func Decode(data []byte) (callflow.Event, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("decode event type: %w", err)
	}
	if head.Type == "ChannelTransfer" {
		var t channelTransfer
		if err := json.Unmarshal(data, &t); err != nil {
			return nil, fmt.Errorf("decode ChannelTransfer: %w", err)
		}
		if t.State != "" {
			return nil, nil
		}
		return callflow.TransferRequested{ChannelID: t.ReferredBy.SourceChannel.ID, ConnectedChannel: t.ReferredBy.ConnectedChannel.ID,
			BridgeID: t.ReferredBy.Bridge.ID, Destination: t.ReferTo.RequestedDestination.Destination}, nil
	}
	switch head.Type {
	case "StasisStart", "StasisEnd", "ChannelStateChange", "ChannelDtmfReceived", "ChannelHangupRequest", "ChannelDestroyed",
		"Dial", "ChannelEnteredBridge", "ChannelLeftBridge", "PlaybackFinished":
	default:
		return nil, nil
	}
	e, err := ari.DecodeEvent(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", head.Type, err)
	}
	switch e := e.(type) {
	case *ari.StasisStart:
		ev := callflow.StasisStart{ChannelID: e.Channel.ID, Name: e.Channel.Name, State: e.Channel.State, Args: e.Args}
		if e.Channel.Caller != nil {
			ev.CallerNumber = e.Channel.Caller.Number
		}
		return ev, nil
	case *ari.StasisEnd:
		return callflow.StasisEnd{ChannelID: e.Channel.ID}, nil
	case *ari.ChannelStateChange:
		return callflow.ChannelStateChange{ChannelID: e.Channel.ID, State: e.Channel.State}, nil
	case *ari.ChannelDtmfReceived:
		return callflow.DTMFReceived{ChannelID: e.Channel.ID, Digit: e.Digit}, nil
	case *ari.ChannelHangupRequest:
		return callflow.HangupRequest{ChannelID: e.Channel.ID, Cause: e.Cause, Soft: e.Soft}, nil
	case *ari.ChannelDestroyed:
		return callflow.ChannelDestroyed{ChannelID: e.Channel.ID, Cause: e.Cause, CauseText: e.CauseTxt}, nil
	case *ari.Dial:
		return callflow.DialStatus{ChannelID: e.Peer.ID, Status: e.Dialstatus}, nil
	case *ari.ChannelEnteredBridge:
		return callflow.EnteredBridge{ChannelID: e.Channel.ID, BridgeID: e.Bridge.ID}, nil
	case *ari.ChannelLeftBridge:
		return callflow.LeftBridge{ChannelID: e.Channel.ID, BridgeID: e.Bridge.ID}, nil
	case *ari.PlaybackFinished:
		ch, _ := strings.CutPrefix(e.Playback.TargetURI, "channel:")
		return callflow.PlaybackFinished{ChannelID: ch, PlaybackID: e.Playback.ID, State: e.Playback.State}, nil
	}
	return nil, nil
}
