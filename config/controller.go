package config

import (
	"fmt"
	"strings"
	"time"
)

// ControllerConfig configures the call flows: which Stasis entries belong to which
// platform, the agent groups, the softkey feature codes and the transfer timings.
type ControllerConfig struct {
	// MattersFile is the transfer matters list (TSV: direction, category, subcategory,
	// description). Empty means the built-in copy of the policy's list.
	MattersFile string `yaml:"matters_file"`

	// Entries maps the second StasisStart argument of an inbound call
	// (Stasis(linkctl,inbound,<entry>)) to a platform: "12345" or "110".
	Entries map[string]string `yaml:"entries"`

	// Groups are the agent groups per platform ("12345", "110").
	Groups map[string]GroupConfig `yaml:"groups"`

	// Emergency is the dial target of an emergency hand-over to 110 (紧急警情优先转110).
	Emergency EmergencyConfig `yaml:"emergency"`

	// TransferRingTimeout bounds how long the other platform's group rings on a
	// one-key transfer or a three-way call before the caller goes back to the first agent.
	TransferRingTimeout Duration `yaml:"transfer_ring_timeout"`

	// Announcement is played to the caller when a one-key transfer starts, e.g.
	// "sound:linkctl-transfer-zh". Empty plays AnnouncementTone instead.
	Announcement string `yaml:"announcement"`
	// AnnouncementTo is the announcement per target platform when Announcement is
	// empty: by default the zh-CN prompts shipped with linkctl ("正在为您转接110，请稍候").
	// On Asterisk, install them as sound files (docker/asterisk/sounds) and name them here.
	AnnouncementTo map[string]string `yaml:"announcement_to"`
	// AnnouncementTone is the fallback announcement (a finite tone).
	AnnouncementTone string `yaml:"announcement_tone"`
	// AnnouncementMax bounds the announcement before ringback/MOH starts, even if the
	// PBX never reports the playback finished.
	AnnouncementMax Duration `yaml:"announcement_max"`
	// MOHClass is the music-on-hold class the caller hears while the other side rings.
	MOHClass string `yaml:"moh_class"`
	// FailureNotice is played to the first agent when a transfer fails (sound or tone).
	FailureNotice string `yaml:"failure_notice"`
	// RefusedNotice is played to an agent whose DTMF softkey was refused.
	RefusedNotice string `yaml:"refused_notice"`

	// Softkeys are the DTMF feature codes an agent dials on its own channel.
	Softkeys SoftkeyCodes `yaml:"softkeys"`
	// DTMFInterDigit is how long a started feature code waits for its next digit.
	DTMFInterDigit Duration `yaml:"dtmf_inter_digit"`
	// DTMFCategory is the category used when a DTMF softkey (which cannot carry one)
	// starts a transfer in a direction, e.g. {"12345->110": "社会治安类/盗砸抢骗"}.
	// Without it, and without a category already known on the call, a DTMF transfer is refused.
	DTMFCategory map[string]string `yaml:"dtmf_category"`

	// RequestTimeout bounds the teardown of a call (all hangups and bridge destroy).
	TeardownTimeout Duration `yaml:"teardown_timeout"`

	// LinkagePeers are the endpoints ("Tech/resource", e.g. PJSIP/to110, Sim/to12345)
	// whose inbound calls are trusted to carry X-Linkage-* metadata: the other
	// platform's linkctl or PBX trunk. A call from any other endpoint keeps none of
	// it (call id, ticket, category, origin, agent, mode, emergency); only its
	// restricting X-Linkage-Flags are honoured, since they can only hide more.
	// Default: empty (no endpoint is trusted).
	LinkagePeers []string `yaml:"linkage_peers"`
}

// GroupConfig is one platform's agent group.
type GroupConfig struct {
	// Agents are dial strings, e.g. "PJSIP/a110-2001" or "Sim/a110-2001".
	Agents []string `yaml:"agents"`
	// Strategy is "ring-all" or "round-robin".
	Strategy string `yaml:"strategy"`
	// RingTimeout bounds ringing one agent (round-robin) or the whole group (ring-all).
	RingTimeout Duration `yaml:"ring_timeout"`
}

// EmergencyConfig is the emergency-to-110 dial target.
type EmergencyConfig struct {
	// Agents are dial strings; empty means the 110 group's agents.
	Agents []string `yaml:"agents"`
	// RingTimeout is longer than a normal transfer's.
	RingTimeout Duration `yaml:"ring_timeout"`
}

// SoftkeyCodes are the DTMF feature codes.
type SoftkeyCodes struct {
	Transfer     string `yaml:"transfer"`
	ThreeWay     string `yaml:"three_way"`
	HandOver     string `yaml:"hand_over"`
	Keep         string `yaml:"keep"`
	Undetermined string `yaml:"undetermined"`
	Cancel       string `yaml:"cancel"`
	Emergency    string `yaml:"emergency"`
}

// Map returns key name -> code, with the key names of callflow's softkeys.
func (s SoftkeyCodes) Map() map[string]string {
	return map[string]string{
		"transfer": s.Transfer, "three-way": s.ThreeWay, "hand-over": s.HandOver, "keep": s.Keep,
		"undetermined": s.Undetermined, "cancel": s.Cancel, "emergency": s.Emergency,
	}
}

// Per-field defaults of a group and of the emergency target. A group written in
// the file replaces the built-in one as a whole (YAML maps decode fresh values),
// so the fields it leaves out are filled from these in validate.
const (
	defaultStrategy             = "ring-all"
	defaultGroupRingTimeout     = Duration(20 * time.Second)
	defaultEmergencyRingTimeout = Duration(60 * time.Second)
)

func (c *ControllerConfig) setDefaults() {
	c.Entries = map[string]string{"12345": "12345", "110": "110"}
	c.Groups = map[string]GroupConfig{
		"12345": {Agents: []string{"Sim/a12345-1001", "Sim/a12345-1002"}, Strategy: defaultStrategy, RingTimeout: defaultGroupRingTimeout},
		"110":   {Agents: []string{"Sim/a110-2001", "Sim/a110-2002"}, Strategy: defaultStrategy, RingTimeout: defaultGroupRingTimeout},
	}
	c.Emergency = EmergencyConfig{RingTimeout: defaultEmergencyRingTimeout}
	c.TransferRingTimeout = Duration(30 * time.Second)
	c.AnnouncementTone = "tone:!950/330,!1400/330,!1800/330"
	c.AnnouncementTo = map[string]string{"110": "sound:transfer-110", "12345": "sound:transfer-12345"}
	c.AnnouncementMax = Duration(6 * time.Second)
	c.MOHClass = "default"
	c.FailureNotice = "tone:!480/250,!0/250,!480/250,!0/250,!480/250"
	c.RefusedNotice = "tone:!480/150,!0/100,!480/150"
	c.Softkeys = SoftkeyCodes{Transfer: "*1", ThreeWay: "*3", HandOver: "*4", Keep: "*5", Undetermined: "*6", Cancel: "*0", Emergency: "*9"}
	c.DTMFInterDigit = Duration(3 * time.Second)
	c.TeardownTimeout = Duration(5 * time.Second)
}

// fillFieldDefaults gives a group or the emergency target the per-field default
// of every field the file leaves out. A field written with an empty value stays
// empty and is reported by validate.
func (c *ControllerConfig) fillFieldDefaults(v *validator) {
	for p, g := range c.Groups {
		key := "controller.groups." + p
		if g.Strategy == "" && !v.present(key+".strategy") {
			g.Strategy = defaultStrategy
		}
		if g.RingTimeout == 0 && !v.present(key+".ring_timeout") {
			g.RingTimeout = defaultGroupRingTimeout
		}
		c.Groups[p] = g
	}
	if c.Emergency.RingTimeout == 0 && !v.present("controller.emergency.ring_timeout") {
		c.Emergency.RingTimeout = defaultEmergencyRingTimeout
	}
}

// present reports whether the YAML file names key; without a file (an in-memory
// configuration) nothing is present.
func (v *validator) present(key string) bool {
	if v.root == nil || len(v.root.Content) == 0 {
		return false
	}
	n := v.root.Content[0]
	for _, part := range splitKey(key) {
		if n = lookup(n, part); n == nil {
			return false
		}
	}
	return true
}

// checkSimAgents reports Sim/NAME dial strings that name no switch.sim_endpoints
// entry when the embedded switch is used: such a group would ring nobody.
// PJSIP/ and other technologies are not checked (their phones register later).
// Only agent lists the file writes are checked (all of them for an in-memory
// configuration): a file that only changes the switch section keeps the built-in
// demo groups, which a switch-only process never dials. A switch without any Sim
// endpoint (switch-only or softphone-only) has the Sim technology off.
func (c *ControllerConfig) checkSimAgents(v *validator, root *Config) {
	if !root.ARI.Embedded || len(root.Switch.SimEndpoints) == 0 {
		return
	}
	sims := map[string]bool{}
	for _, s := range root.Switch.SimEndpoints {
		sims[s.Name] = true
	}
	check := func(key string, agents []string) {
		if v.root != nil && !v.present(key) {
			return
		}
		for i, a := range agents {
			tech, res, ok := strings.Cut(a, "/")
			if !ok || !strings.EqualFold(tech, "Sim") {
				continue
			}
			name, _, _ := strings.Cut(res, "/")
			if !sims[name] {
				v.add(fmt.Sprintf("%s[%d]", key, i), fmt.Sprintf("%s is not in switch.sim_endpoints (ari.embedded is true)", a))
			}
		}
	}
	for _, p := range []string{"12345", "110"} {
		if g, ok := c.Groups[p]; ok {
			check("controller.groups."+p+".agents", g.Agents)
		}
	}
	check("controller.emergency.agents", c.Emergency.Agents)
}

func (c *ControllerConfig) validate(v *validator, root *Config) {
	c.fillFieldDefaults(v)
	c.checkSimAgents(v, root)
	for entry, p := range c.Entries {
		if p != "12345" && p != "110" {
			v.add("controller.entries."+entry, fmt.Sprintf("platform %q unknown (want 12345 or 110)", p))
		}
	}
	for _, p := range []string{"12345", "110"} {
		g, ok := c.Groups[p]
		key := "controller.groups." + p
		if !ok {
			v.add("controller.groups", "missing group "+p)
			continue
		}
		if len(g.Agents) == 0 {
			v.add(key+".agents", "needs at least one agent dial string, e.g. PJSIP/a110-2001")
		}
		for i, a := range g.Agents {
			if !strings.Contains(a, "/") {
				v.add(fmt.Sprintf("%s.agents[%d]", key, i), fmt.Sprintf("%q is not a dial string (Tech/resource)", a))
			}
		}
		switch g.Strategy {
		case "ring-all", "round-robin":
		default:
			v.add(key+".strategy", fmt.Sprintf("unknown strategy %q (ring-all, round-robin)", g.Strategy))
		}
		if g.RingTimeout < Duration(time.Second) {
			v.add(key+".ring_timeout", "must be at least 1s")
		}
	}
	for name := range c.Groups {
		if name != "12345" && name != "110" {
			v.add("controller.groups."+name, "unknown platform (want 12345 or 110)")
		}
	}
	for i, a := range c.Emergency.Agents {
		if !strings.Contains(a, "/") {
			v.add(fmt.Sprintf("controller.emergency.agents[%d]", i), fmt.Sprintf("%q is not a dial string (Tech/resource)", a))
		}
	}
	if c.Emergency.RingTimeout < Duration(time.Second) {
		v.add("controller.emergency.ring_timeout", "must be at least 1s")
	}
	if c.TransferRingTimeout < Duration(time.Second) {
		v.add("controller.transfer_ring_timeout", "must be at least 1s")
	}
	if c.AnnouncementMax <= 0 {
		v.add("controller.announcement_max", "must be positive")
	}
	for p, uri := range c.AnnouncementTo {
		if p != "12345" && p != "110" {
			v.add("controller.announcement_to."+p, fmt.Sprintf("platform %q unknown (want 12345 or 110)", p))
		} else if uri != "" && !strings.HasPrefix(uri, "sound:") && !strings.HasPrefix(uri, "tone:") {
			v.add("controller.announcement_to."+p, fmt.Sprintf("%q is not a media URI (sound:NAME or tone:...)", uri))
		}
	}
	if c.TeardownTimeout <= 0 {
		v.add("controller.teardown_timeout", "must be positive")
	}
	if c.DTMFInterDigit <= 0 {
		v.add("controller.dtmf_inter_digit", "must be positive")
	}
	seen := map[string]string{}
	for name, code := range c.Softkeys.Map() {
		key := "controller.softkeys." + strings.ReplaceAll(name, "-", "_")
		if code == "" {
			continue // a softkey may be disabled for DTMF (HTTP only)
		}
		if strings.Trim(code, "0123456789*#ABCD") != "" {
			v.add(key, fmt.Sprintf("%q: only DTMF digits 0-9 * # A-D", code))
		}
		if other, dup := seen[code]; dup {
			v.add(key, fmt.Sprintf("code %q is also %s", code, other))
		}
		seen[code] = name
	}
	c.validatePeers(v)
	m, err := LoadMatters(c.MattersFile)
	if err != nil {
		var ps Problems
		if asProblems(err, &ps) {
			v.problems = append(v.problems, ps...)
		} else {
			v.add("controller.matters_file", err.Error())
		}
		return
	}
	root.Matters = m
	for dir, cat := range c.DTMFCategory {
		if _, err := m.Lookup(dir, cat); err != nil {
			v.add("controller.dtmf_category."+dir, err.Error())
		}
	}
}

// validatePeers checks controller.linkage_peers: endpoints written Tech/resource,
// without a channel suffix or dial options, each once.
func (c *ControllerConfig) validatePeers(v *validator) {
	seen := map[string]int{}
	for i, p := range c.LinkagePeers {
		key := fmt.Sprintf("controller.linkage_peers[%d]", i)
		tech, res, ok := strings.Cut(p, "/")
		switch {
		case !ok || tech == "" || res == "":
			v.add(key, fmt.Sprintf("%q is not an endpoint (Tech/resource, e.g. PJSIP/to110)", p))
			continue
		case strings.ContainsAny(res, " \t,;@:/"):
			v.add(key, fmt.Sprintf("%q: the resource is an endpoint name, without a dial string's host or options", p))
			continue
		}
		norm := strings.ToLower(tech) + "/" + res
		if j, dup := seen[norm]; dup {
			v.add(key, fmt.Sprintf("%q is also controller.linkage_peers[%d]", p, j))
			continue
		}
		seen[norm] = i
	}
}
