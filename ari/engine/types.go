package engine

import (
	"encoding/json"
	"fmt"
	"time"
)

// ChannelState is an Asterisk channel state as ARI reports it.
type ChannelState int

const (
	StateDown ChannelState = iota
	StateRing
	StateRinging
	StateUp
)

func (s ChannelState) String() string {
	switch s {
	case StateDown:
		return "Down"
	case StateRing:
		return "Ring"
	case StateRinging:
		return "Ringing"
	case StateUp:
		return "Up"
	}
	return fmt.Sprintf("ChannelState(%d)", int(s))
}

// ChannelKind is how a channel came to exist; it decides which events Asterisk sends for it.
type ChannelKind int

const (
	// KindInbound: a call from a technology routed by the dialplan into Stasis.
	KindInbound ChannelKind = iota + 1
	// KindOriginated: POST /channels; enters Stasis when answered.
	KindOriginated
	// KindCreated: POST /channels/create; in Stasis at once, dialled later.
	KindCreated
)

func (k ChannelKind) String() string {
	switch k {
	case KindInbound:
		return "inbound"
	case KindOriginated:
		return "originated"
	case KindCreated:
		return "created"
	}
	return fmt.Sprintf("ChannelKind(%d)", int(k))
}

// CallerID is an ARI CallerID.
type CallerID struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

// DialplanCEP is an ARI DialplanCEP.
type DialplanCEP struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int    `json:"priority"`
	AppName  string `json:"app_name"`
	AppData  string `json:"app_data"`
}

// ChannelJSON is an ARI Channel snapshot.
type ChannelJSON struct {
	ID           string      `json:"id"`
	Name         string      `json:"name"`
	State        string      `json:"state"`
	ProtocolID   string      `json:"protocol_id"`
	Caller       CallerID    `json:"caller"`
	Connected    CallerID    `json:"connected"`
	Accountcode  string      `json:"accountcode"`
	Dialplan     DialplanCEP `json:"dialplan"`
	Creationtime string      `json:"creationtime"`
	Language     string      `json:"language"`
}

// BridgeJSON is an ARI Bridge snapshot.
type BridgeJSON struct {
	ID           string   `json:"id"`
	Technology   string   `json:"technology"`
	BridgeType   string   `json:"bridge_type"`
	BridgeClass  string   `json:"bridge_class"`
	Creator      string   `json:"creator"`
	Name         string   `json:"name"`
	Channels     []string `json:"channels"`
	Creationtime string   `json:"creationtime"`
	VideoMode    string   `json:"video_mode"`
}

// PlaybackJSON is an ARI Playback.
type PlaybackJSON struct {
	ID        string `json:"id"`
	MediaURI  string `json:"media_uri"`
	TargetURI string `json:"target_uri"`
	Language  string `json:"language"`
	State     string `json:"state"`
}

// ApplicationJSON is an ARI Application.
type ApplicationJSON struct {
	Name             string   `json:"name"`
	ChannelIDs       []string `json:"channel_ids"`
	BridgeIDs        []string `json:"bridge_ids"`
	EndpointIDs      []string `json:"endpoint_ids"`
	DeviceNames      []string `json:"device_names"`
	EventsAllowed    []any    `json:"events_allowed"`
	EventsDisallowed []any    `json:"events_disallowed"`
}

// EndpointJSON is an ARI Endpoint.
type EndpointJSON struct {
	Technology string   `json:"technology"`
	Resource   string   `json:"resource"`
	State      string   `json:"state"`
	ChannelIDs []string `json:"channel_ids"`
}

// Event is one ARI event for one application. Fields holds everything but
// type, timestamp, asterisk_id and application.
type Event struct {
	Type      string
	Time      time.Time
	App       string
	ChannelID string // the channel the event is about ("" for bridge/playback-only events)
	Fields    map[string]any
}

// TimeFormat is how Asterisk prints ARI timestamps.
const TimeFormat = "2006-01-02T15:04:05.000-0700"

// MarshalARI encodes the event as Asterisk sends it on the websocket.
func (ev Event) MarshalARI(asteriskID string) ([]byte, error) {
	m := make(map[string]any, len(ev.Fields)+4)
	for k, v := range ev.Fields {
		m[k] = v
	}
	m["type"] = ev.Type
	m["timestamp"] = ev.Time.Format(TimeFormat)
	m["asterisk_id"] = asteriskID
	m["application"] = ev.App
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal %s event: %w", ev.Type, err)
	}
	return b, nil
}

// Error is an ARI-visible failure: the HTTP status and body Asterisk answers with.
type Error struct {
	Status  int
	Message string
	// Key is the JSON key of the body: "message" (usual) or "error" (originate allocation failure).
	Key string
}

func (e *Error) Error() string { return fmt.Sprintf("ari %d: %s", e.Status, e.Message) }

func errf(status int, msg string) *Error { return &Error{Status: status, Message: msg, Key: "message"} }

var (
	errChannelNotFound  = errf(404, "Channel not found")
	errBridgeNotFound   = errf(404, "Bridge not found")
	errPlaybackNotFound = errf(404, "Playback not found")
	errAllocation       = &Error{Status: 500, Message: "Allocation failed", Key: "error"}
)
