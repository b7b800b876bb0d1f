package config

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
)

// SwitchConfig configures the embedded ARI-compatible switch: its ARI listener,
// system name, dialplan, sounds and tone zone, and the Sim endpoints that stand
// in for phones in demos and tests.
type SwitchConfig struct {
	// Listen is the ARI HTTP/WebSocket listen address (loopback; "127.0.0.1:0" picks a port).
	Listen string `yaml:"listen"`
	// SystemName prefixes channel ids (<system_name>-<epoch>.<n>), like asterisk.conf systemname.
	SystemName string `yaml:"system_name"`
	// EntityID is the asterisk_id / entity_id the switch reports.
	EntityID string `yaml:"entity_id"`
	// Context is the dialplan context name shown in channel snapshots.
	Context string `yaml:"context"`
	// Dialplan maps dialled extensions to Stasis(app,args...).
	Dialplan []DialplanEntry `yaml:"dialplan"`
	// SoundsDir holds NAME.wav (8 kHz mono 16-bit) files played with sound:NAME.
	SoundsDir string `yaml:"sounds_dir"`
	// ToneZone is the default indications zone for tone: playbacks and ringback (cn, us).
	ToneZone string `yaml:"tonezone"`
	// SimEndpoints are the Sim/<name> endpoints and how they behave when called.
	SimEndpoints []SimEndpoint `yaml:"sim_endpoints"`
}

// DialplanEntry is `exten => Exten,n,Stasis(App,Args...)`.
type DialplanEntry struct {
	Exten string   `yaml:"exten"`
	App   string   `yaml:"app"`
	Args  []string `yaml:"args"`
}

// SimEndpoint is one simulated phone (dial string Sim/<name>).
type SimEndpoint struct {
	Name string `yaml:"name"`
	// Behavior when called: answer, busy, no_answer, unavailable.
	Behavior string `yaml:"behavior"`
	// AnswerAfter is how long it rings before answering (behavior answer).
	AnswerAfter Duration `yaml:"answer_after"`
	// DTMF is sent DTMFAfter after answering, if set.
	DTMF      string   `yaml:"dtmf"`
	DTMFAfter Duration `yaml:"dtmf_after"`
	// HangupAfter hangs up this long after answering (0 = never).
	HangupAfter Duration `yaml:"hangup_after"`
	// ToneHz makes the phone send a sine of this frequency as its voice (0 = no media).
	ToneHz float64 `yaml:"tone_hz"`
}

// SimBehaviors are the accepted sim_endpoints[].behavior values.
var SimBehaviors = []string{"answer", "busy", "no_answer", "unavailable"}

func (c *SwitchConfig) setDefaults() {
	c.Listen = "127.0.0.1:8088"
	c.SystemName = "linkctl-pbx"
	c.EntityID = "02:fc:00:00:00:01"
	c.Context = "from-internal"
	c.ToneZone = "cn"
	c.Dialplan = []DialplanEntry{
		{Exten: "12345", App: "linkctl", Args: []string{"inbound", "12345"}},
		{Exten: "110", App: "linkctl", Args: []string{"inbound", "110"}},
	}
	c.SimEndpoints = []SimEndpoint{
		{Name: "citizen-1", Behavior: "answer"},
		{Name: "a12345-1001", Behavior: "answer", AnswerAfter: Duration(1500e6)},
		{Name: "a12345-1002", Behavior: "no_answer"},
		{Name: "a110-2001", Behavior: "answer", AnswerAfter: Duration(1500e6)},
		{Name: "a110-2002", Behavior: "busy"},
	}
}

var (
	extenRe    = regexp.MustCompile(`^[0-9A-Za-z*#+_.-]+$`)
	resourceRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	entityRe   = regexp.MustCompile(`^([0-9a-f]{2}:){5}[0-9a-f]{2}$`)
)

func (c *SwitchConfig) validate(v *validator) {
	if c.Listen != "" {
		if host, _, err := net.SplitHostPort(c.Listen); err != nil {
			v.add("switch.listen", fmt.Sprintf("%q is not host:port: %v", c.Listen, err))
		} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			v.add("switch.listen", fmt.Sprintf("%q must be a loopback address (the ARI face is for the controller only)", c.Listen))
		}
	} else {
		v.add("switch.listen", "must not be empty")
	}
	if c.SystemName == "" || strings.ContainsAny(c.SystemName, " /") {
		v.add("switch.system_name", "must be a non-empty name without spaces or slashes")
	}
	if !entityRe.MatchString(c.EntityID) {
		v.add("switch.entity_id", fmt.Sprintf("%q is not a MAC-style entity id like 02:fc:00:00:00:01", c.EntityID))
	}
	if c.Context == "" {
		v.add("switch.context", "must not be empty")
	}
	switch c.ToneZone {
	case "cn", "us":
	default:
		v.add("switch.tonezone", fmt.Sprintf("unknown tone zone %q (cn, us)", c.ToneZone))
	}
	if c.SoundsDir != "" {
		if st, err := os.Stat(c.SoundsDir); err != nil || !st.IsDir() {
			v.add("switch.sounds_dir", fmt.Sprintf("%q is not a readable directory", c.SoundsDir))
		}
	}
	seen := map[string]bool{}
	for i, d := range c.Dialplan {
		key := fmt.Sprintf("switch.dialplan[%d]", i)
		if !extenRe.MatchString(d.Exten) {
			v.add(key+".exten", fmt.Sprintf("%q is not an extension", d.Exten))
		} else if seen[d.Exten] {
			v.add(key+".exten", fmt.Sprintf("extension %q is listed twice", d.Exten))
		}
		seen[d.Exten] = true
		if d.App == "" {
			v.add(key+".app", "must name the Stasis application")
		}
	}
	names := map[string]bool{}
	for i, s := range c.SimEndpoints {
		key := fmt.Sprintf("switch.sim_endpoints[%d]", i)
		if !resourceRe.MatchString(s.Name) {
			v.add(key+".name", fmt.Sprintf("%q is not an endpoint name", s.Name))
		} else if names[s.Name] {
			v.add(key+".name", fmt.Sprintf("endpoint %q is listed twice", s.Name))
		}
		names[s.Name] = true
		ok := s.Behavior == ""
		for _, b := range SimBehaviors {
			ok = ok || s.Behavior == b
		}
		if !ok {
			v.add(key+".behavior", fmt.Sprintf("unknown behavior %q (%s)", s.Behavior, strings.Join(SimBehaviors, ", ")))
		}
		if s.AnswerAfter < 0 || s.DTMFAfter < 0 || s.HangupAfter < 0 {
			v.add(key, "durations must not be negative")
		}
		if s.ToneHz < 0 || s.ToneHz > 3900 {
			v.add(key+".tone_hz", "must be between 0 and 3900 Hz")
		}
	}
}
