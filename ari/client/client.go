package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"go.uber.org/zap"

	"linkctl/callflow"
)

// Options configure the adapter.
type Options struct {
	// URL is the ARI base URL, e.g. http://127.0.0.1:8088/ari.
	URL string
	// WebsocketURL defaults to URL with ws:// and /events.
	WebsocketURL       string
	Username, Password string
	Application        string
	// RequestTimeout bounds every REST call (config ari.request_timeout; default 5 s).
	RequestTimeout time.Duration
	// ReconnectMin/ReconnectMax bound the reconnect backoff (defaults 100 ms / 10 s); jitter is added.
	ReconnectMin, ReconnectMax time.Duration
	// EventBuffer is the event channel's capacity (default 4096).
	EventBuffer int
	Logger      *zap.Logger
	// HTTPClient overrides the HTTP client (tests).
	HTTPClient *http.Client
}

// Client implements callflow.PBX over ARI.
type Client struct {
	opts      Options
	base      string
	http      *http.Client
	log       *zap.Logger
	events    chan callflow.Event
	connected atomic.Bool
	started   atomic.Bool
	// OnCommand, if set, is called before every REST request (benchmarks measure the
	// softkey-to-first-command latency with it). It must be fast.
	OnCommand func(method, path string)
}

var _ callflow.PBX = (*Client)(nil)

// New builds a client; Run connects the event stream.
func New(opts Options) (*Client, error) {
	if opts.URL == "" || opts.Application == "" {
		return nil, errors.New("ari client: URL and Application are required")
	}
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("ari client: parse URL %q: %w", opts.URL, err)
	}
	if opts.WebsocketURL == "" {
		ws := *u
		ws.Scheme = map[string]string{"https": "wss"}[u.Scheme]
		if ws.Scheme == "" {
			ws.Scheme = "ws"
		}
		ws.Path = strings.TrimSuffix(u.Path, "/") + "/events"
		opts.WebsocketURL = ws.String()
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = 100 * time.Millisecond
	}
	if opts.ReconnectMax <= 0 {
		opts.ReconnectMax = 10 * time.Second
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 4096
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	hc := opts.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 256
		hc = &http.Client{Transport: tr}
	}
	return &Client{opts: opts, base: strings.TrimSuffix(u.String(), "/"), http: hc, log: opts.Logger,
		events: make(chan callflow.Event, opts.EventBuffer)}, nil
}

// Events is the event stream; it is closed when Run returns.
func (c *Client) Events() <-chan callflow.Event { return c.events }

// Connected reports whether the event WebSocket is up (for /readyz).
func (c *Client) Connected() bool { return c.connected.Load() }

// do runs one REST call under the request deadline and maps errors.
func (c *Client) do(ctx context.Context, op, id, method, path string, q url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	full := c.base + path
	if len(q) > 0 {
		full += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return &callflow.PBXError{Op: op, ID: id, Kind: callflow.ErrBadRequest, Err: fmt.Errorf("encode body: %w", err)}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, full, rd)
	if err != nil {
		return &callflow.PBXError{Op: op, ID: id, Kind: callflow.ErrBadRequest, Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(c.opts.Username, c.opts.Password)
	if c.OnCommand != nil {
		c.OnCommand(method, path)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &callflow.PBXError{Op: op, ID: id, Kind: callflow.ErrPBXUnavailable, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return &callflow.PBXError{Op: op, ID: id, Status: resp.StatusCode, Kind: callflow.ErrPBXUnavailable, Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := errorMessage(data)
		return &callflow.PBXError{Op: op, ID: id, Status: resp.StatusCode, Message: msg, Kind: classify(resp.StatusCode, path, msg)}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return &callflow.PBXError{Op: op, ID: id, Status: resp.StatusCode, Kind: callflow.ErrPBXInternal, Err: fmt.Errorf("decode answer: %w", err)}
		}
	}
	return nil
}

func chanPath(id string, rest ...string) string {
	p := "/channels/" + url.PathEscape(id)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// Answer answers a channel.
func (c *Client) Answer(ctx context.Context, id string) error {
	return c.do(ctx, "answer", id, http.MethodPost, chanPath(id, "answer"), nil, nil, nil)
}

// originateQuery builds the query of POST /channels and /channels/create from the
// library's request type; variables travel in the JSON body (as in trace t03, which
// keeps raw UTF-8 header values intact).
func (c *Client) originateQuery(r ari.OriginateRequest, withTimeout bool) url.Values {
	q := url.Values{}
	q.Set("endpoint", r.Endpoint)
	q.Set("app", r.App)
	if r.AppArgs != "" {
		q.Set("appArgs", r.AppArgs)
	}
	if r.CallerID != "" {
		q.Set("callerId", r.CallerID)
	}
	if withTimeout && r.Timeout != 0 {
		q.Set("timeout", strconv.Itoa(r.Timeout))
	}
	if r.ChannelID != "" {
		q.Set("channelId", r.ChannelID)
	}
	if r.Originator != "" {
		q.Set("originator", r.Originator)
	}
	return q
}

func (c *Client) toARI(req callflow.OriginateRequest) ari.OriginateRequest {
	timeout := int((req.Timeout + time.Second - 1) / time.Second)
	if req.Timeout < 0 {
		timeout = -1
	}
	return ari.OriginateRequest{Endpoint: req.Endpoint, App: c.opts.Application, AppArgs: strings.Join(req.AppArgs, ","),
		CallerID: req.CallerID, Timeout: timeout, ChannelID: req.ChannelID, Originator: req.Originator, Variables: req.Variables}
}

type varsBody struct {
	Variables map[string]string `json:"variables,omitempty"`
}

// Originate creates an outgoing leg with the chosen channel id.
func (c *Client) Originate(ctx context.Context, req callflow.OriginateRequest) error {
	r := c.toARI(req)
	var out ari.ChannelData
	var body any
	if len(r.Variables) > 0 {
		body = varsBody{r.Variables}
	}
	return c.do(ctx, "originate", req.ChannelID, http.MethodPost, "/channels", c.originateQuery(r, true), body, &out)
}

// Create makes a channel in Stasis that Dial will ring.
func (c *Client) Create(ctx context.Context, req callflow.OriginateRequest) error {
	r := c.toARI(req)
	var out ari.ChannelData
	var body any
	if len(r.Variables) > 0 {
		body = varsBody{r.Variables}
	}
	return c.do(ctx, "create", req.ChannelID, http.MethodPost, "/channels/create", c.originateQuery(r, false), body, &out)
}

// Dial rings a created channel.
func (c *Client) Dial(ctx context.Context, id, caller string, timeout time.Duration) error {
	q := url.Values{}
	if caller != "" {
		q.Set("caller", caller)
	}
	if timeout > 0 {
		q.Set("timeout", strconv.Itoa(int((timeout+time.Second-1)/time.Second)))
	}
	return c.do(ctx, "dial", id, http.MethodPost, chanPath(id, "dial"), q, nil, nil)
}

// Hangup hangs a channel up with an ARI reason.
func (c *Client) Hangup(ctx context.Context, id, reason string) error {
	q := url.Values{}
	if reason != "" {
		q.Set("reason", reason)
	}
	return c.do(ctx, "hangup", id, http.MethodDelete, chanPath(id), q, nil, nil)
}

// Ring indicates ringing to the channel.
func (c *Client) Ring(ctx context.Context, id string) error {
	return c.do(ctx, "ring", id, http.MethodPost, chanPath(id, "ring"), nil, nil, nil)
}

// StopRing stops the ringing indication.
func (c *Client) StopRing(ctx context.Context, id string) error {
	return c.do(ctx, "ring stop", id, http.MethodDelete, chanPath(id, "ring"), nil, nil, nil)
}

// StartMOH plays music on hold to the channel.
func (c *Client) StartMOH(ctx context.Context, id, class string) error {
	q := url.Values{}
	if class != "" {
		q.Set("mohClass", class)
	}
	return c.do(ctx, "moh", id, http.MethodPost, chanPath(id, "moh"), q, nil, nil)
}

// StopMOH stops music on hold.
func (c *Client) StopMOH(ctx context.Context, id string) error {
	return c.do(ctx, "moh stop", id, http.MethodDelete, chanPath(id, "moh"), nil, nil, nil)
}

// Play starts media on a channel under a chosen playback id.
func (c *Client) Play(ctx context.Context, id, playbackID, media string) error {
	q := url.Values{}
	q.Set("media", media)
	if playbackID != "" {
		q.Set("playbackId", playbackID)
	}
	var out ari.PlaybackData
	return c.do(ctx, "play", id, http.MethodPost, chanPath(id, "play"), q, nil, &out)
}

// StopPlayback stops a playback.
func (c *Client) StopPlayback(ctx context.Context, playbackID string) error {
	return c.do(ctx, "playback stop", playbackID, http.MethodDelete, "/playbacks/"+url.PathEscape(playbackID), nil, nil, nil)
}

// GetVar reads a channel variable or function (PJSIP_HEADER(read,X)).
func (c *Client) GetVar(ctx context.Context, id, name string) (string, error) {
	q := url.Values{}
	q.Set("variable", name)
	var out struct {
		Value string `json:"value"`
	}
	err := c.do(ctx, "get variable", id, http.MethodGet, chanPath(id, "variable"), q, nil, &out)
	return out.Value, err
}

// SetVar sets a channel variable.
func (c *Client) SetVar(ctx context.Context, id, name, value string) error {
	q := url.Values{}
	q.Set("variable", name)
	q.Set("value", value)
	return c.do(ctx, "set variable", id, http.MethodPost, chanPath(id, "variable"), q, nil, nil)
}

// TransferProgress answers a phone transfer request (ari-only transfer handling).
func (c *Client) TransferProgress(ctx context.Context, id, state string) error {
	q := url.Values{}
	q.Set("states", state)
	return c.do(ctx, "transfer progress", id, http.MethodPost, chanPath(id, "transfer_progress"), q, nil, nil)
}

// CreateBridge creates a mixing bridge with a chosen id.
func (c *Client) CreateBridge(ctx context.Context, id string) error {
	q := url.Values{}
	q.Set("type", "mixing")
	q.Set("bridgeId", id)
	var out ari.BridgeData
	return c.do(ctx, "bridge create", id, http.MethodPost, "/bridges", q, nil, &out)
}

// DestroyBridge destroys a bridge.
func (c *Client) DestroyBridge(ctx context.Context, id string) error {
	return c.do(ctx, "bridge destroy", id, http.MethodDelete, "/bridges/"+url.PathEscape(id), nil, nil, nil)
}

// AddToBridge adds channels to a bridge in one request (a channel in another bridge moves).
func (c *Client) AddToBridge(ctx context.Context, id string, channelIDs ...string) error {
	q := url.Values{}
	q.Set("channel", strings.Join(channelIDs, ","))
	return c.do(ctx, "bridge add", id, http.MethodPost, "/bridges/"+url.PathEscape(id)+"/addChannel", q, nil, nil)
}

// RemoveFromBridge removes a channel from a bridge (it stays in Stasis).
func (c *Client) RemoveFromBridge(ctx context.Context, id, channelID string) error {
	q := url.Values{}
	q.Set("channel", channelID)
	return c.do(ctx, "bridge remove", id, http.MethodPost, "/bridges/"+url.PathEscape(id)+"/removeChannel", q, nil, nil)
}

// Channels lists the switch's channels.
func (c *Client) Channels(ctx context.Context) ([]callflow.ChannelInfo, error) {
	var out []ari.ChannelData
	if err := c.do(ctx, "list channels", "", http.MethodGet, "/channels", nil, nil, &out); err != nil {
		return nil, err
	}
	infos := make([]callflow.ChannelInfo, 0, len(out))
	for _, ch := range out {
		info := callflow.ChannelInfo{ID: ch.ID, Name: ch.Name, State: ch.State}
		if ch.Caller != nil {
			info.CallerNumber = ch.Caller.Number
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// Bridges lists the switch's bridges.
func (c *Client) Bridges(ctx context.Context) ([]callflow.BridgeInfo, error) {
	var out []ari.BridgeData
	if err := c.do(ctx, "list bridges", "", http.MethodGet, "/bridges", nil, nil, &out); err != nil {
		return nil, err
	}
	infos := make([]callflow.BridgeInfo, 0, len(out))
	for _, b := range out {
		infos = append(infos, callflow.BridgeInfo{ID: b.ID, Channels: b.ChannelIDs, Technology: b.Technology})
	}
	return infos, nil
}

// EndpointState reads an endpoint's state (GET /endpoints/{tech}/{resource}).
// A state the PBX does not name online or offline is unknown.
func (c *Client) EndpointState(ctx context.Context, tech, resource string) (callflow.EndpointStatus, error) {
	var out struct {
		State string `json:"state"`
	}
	path := "/endpoints/" + url.PathEscape(tech) + "/" + url.PathEscape(resource)
	if err := c.do(ctx, "endpoint state", tech+"/"+resource, http.MethodGet, path, nil, nil, &out); err != nil {
		return callflow.EndpointUnknown, err
	}
	switch st := callflow.EndpointStatus(out.State); st {
	case callflow.EndpointOnline, callflow.EndpointOffline:
		return st, nil
	}
	return callflow.EndpointUnknown, nil
}
