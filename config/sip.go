package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// SIPConfig configures the embedded switch's SIP channel technology ("PJSIP"
// dial strings): listeners, media address, agent phone accounts and the
// static trunk peers towards the other platform.
type SIPConfig struct {
	// ListenUDP / ListenTCP are the SIP listen addresses ("" disables that transport).
	ListenUDP string `yaml:"listen_udp"`
	ListenTCP string `yaml:"listen_tcp"`
	// ExternalMediaIP is the address written into SDP and bound by RTP sessions.
	ExternalMediaIP string `yaml:"external_media_ip"`
	// RTPPortMin / RTPPortMax bound the UDP ports RTP sessions bind (inclusive).
	RTPPortMin int `yaml:"rtp_port_min"`
	RTPPortMax int `yaml:"rtp_port_max"`
	// Realm is the digest realm of REGISTER challenges.
	Realm string `yaml:"realm"`
	// UserAgent is sent in User-Agent and Server headers.
	UserAgent string `yaml:"user_agent"`
	// MaxExpires caps the expiry (seconds) a phone may register for; MinExpires is the floor (423 below it).
	MaxExpires int `yaml:"max_expires"`
	MinExpires int `yaml:"min_expires"`
	// Codecs is the offer/answer preference order: PCMU, PCMA.
	Codecs []string `yaml:"codecs"`
	// AllowAnonymous lets callers that are neither a trunk nor a registered
	// account in as endpoint "anonymous" (citizens reaching 12345/110 directly,
	// like Asterisk's anonymous endpoint). Turn off when only trunks and phones may call.
	AllowAnonymous bool `yaml:"allow_anonymous"`
	// Accounts are the agent phones that REGISTER with digest authentication.
	Accounts []SIPAccount `yaml:"accounts"`
	// Trunks are static peers (the other platform, or a citizen gateway) identified by source address.
	Trunks []SIPTrunk `yaml:"trunks"`
}

// SIPAccount is one registering phone; its endpoint resource is Username
// (dial string PJSIP/<username>).
type SIPAccount struct {
	Username string `yaml:"username"`
	// Password may be "${ENV_VAR}"; use Secret().
	Password string `yaml:"password"`
	// Platform is "12345" or "110".
	Platform string `yaml:"platform"`
	// AgentID is the agent this phone belongs to (ticket and API identity).
	AgentID string `yaml:"agent_id"`
	// DTMFMode is how ARI DTMF is sent to this phone: rfc4733 (default) or info.
	DTMFMode string `yaml:"dtmf_mode"`
}

// Secret returns the account password with ${ENV} expanded.
func (a SIPAccount) Secret() string { return ExpandEnv(a.Password) }

// SIPTrunk is a static SIP peer: calls to PJSIP/<name>/<number> go to Address,
// requests from Address are identified as this peer.
type SIPTrunk struct {
	Name string `yaml:"name"`
	// Platform is the platform behind the trunk: "12345", "110" or "" (e.g. a citizen gateway).
	Platform string `yaml:"platform"`
	// Address is host:port of the peer.
	Address string `yaml:"address"`
	// Transport is udp (default) or tcp.
	Transport string `yaml:"transport"`
	// Username / Password answer the peer's digest challenges (optional; password may be ${ENV}).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// OptionsInterval is how often the peer is probed with OPTIONS (0 disables: always up).
	OptionsInterval Duration `yaml:"options_interval"`
	// DTMFMode: rfc4733 (default) or info.
	DTMFMode string `yaml:"dtmf_mode"`
}

// Secret returns the trunk password with ${ENV} expanded.
func (t SIPTrunk) Secret() string { return ExpandEnv(t.Password) }

func (c *SIPConfig) setDefaults() {
	c.ListenUDP = "127.0.0.1:5060"
	c.ListenTCP = "127.0.0.1:5060"
	c.ExternalMediaIP = "127.0.0.1"
	c.RTPPortMin = 10000
	c.RTPPortMax = 20000
	c.Realm = "linkctl"
	c.UserAgent = "linkctl"
	c.MaxExpires = 3600
	c.MinExpires = 60
	c.Codecs = []string{"PCMU", "PCMA"}
	c.AllowAnonymous = true
}

func (c *SIPConfig) validate(v *validator) {
	if c.ListenUDP == "" && c.ListenTCP == "" {
		v.add("sip.listen_udp", "at least one of sip.listen_udp and sip.listen_tcp must be set")
	}
	if c.ListenUDP != "" {
		if err := checkHostPort(c.ListenUDP, true); err != nil {
			v.add("sip.listen_udp", err.Error())
		}
	}
	if c.ListenTCP != "" {
		if err := checkHostPort(c.ListenTCP, true); err != nil {
			v.add("sip.listen_tcp", err.Error())
		}
	}
	if ip := net.ParseIP(c.ExternalMediaIP); ip == nil || ip.IsUnspecified() {
		v.add("sip.external_media_ip", fmt.Sprintf("%q is not a usable IP address (e.g. 127.0.0.1)", c.ExternalMediaIP))
	}
	if c.RTPPortMin < 1024 || c.RTPPortMin > 65534 {
		v.add("sip.rtp_port_min", fmt.Sprintf("%d is outside 1024..65534", c.RTPPortMin))
	}
	if c.RTPPortMax <= c.RTPPortMin || c.RTPPortMax > 65535 {
		v.add("sip.rtp_port_max", fmt.Sprintf("%d must be above rtp_port_min (%d) and at most 65535", c.RTPPortMax, c.RTPPortMin))
	}
	if c.Realm == "" {
		v.add("sip.realm", "must not be empty")
	}
	if c.MinExpires <= 0 || c.MaxExpires < c.MinExpires {
		v.add("sip.max_expires", fmt.Sprintf("need 0 < min_expires (%d) <= max_expires (%d)", c.MinExpires, c.MaxExpires))
	}
	if len(c.Codecs) == 0 {
		v.add("sip.codecs", "must list at least one of PCMU, PCMA")
	}
	seenCodec := map[string]bool{}
	for i, name := range c.Codecs {
		key := fmt.Sprintf("sip.codecs[%d]", i)
		switch strings.ToUpper(name) {
		case "PCMU", "PCMA":
		default:
			v.add(key, fmt.Sprintf("unknown codec %q (PCMU, PCMA)", name))
		}
		if seenCodec[strings.ToUpper(name)] {
			v.add(key, fmt.Sprintf("codec %q listed twice", name))
		}
		seenCodec[strings.ToUpper(name)] = true
	}
	names := map[string]string{}
	for i, a := range c.Accounts {
		key := fmt.Sprintf("sip.accounts[%d]", i)
		if err := checkResource(a.Username); err != nil {
			v.add(key+".username", err.Error())
		} else if prev, dup := names[a.Username]; dup {
			v.add(key+".username", fmt.Sprintf("%q is already used by %s", a.Username, prev))
		} else {
			names[a.Username] = key
		}
		if a.Password == "" {
			v.add(key+".password", "must not be empty (phones authenticate with digest)")
		} else if a.Secret() == "" {
			v.add(key+".password", fmt.Sprintf("environment variable in %s is empty or unset", a.Password))
		}
		switch a.Platform {
		case "12345", "110":
		default:
			v.add(key+".platform", fmt.Sprintf("unknown platform %q (12345 or 110)", a.Platform))
		}
		checkDTMFMode(v, key+".dtmf_mode", a.DTMFMode)
	}
	for i, t := range c.Trunks {
		key := fmt.Sprintf("sip.trunks[%d]", i)
		if err := checkResource(t.Name); err != nil {
			v.add(key+".name", err.Error())
		} else if prev, dup := names[t.Name]; dup {
			v.add(key+".name", fmt.Sprintf("%q is already used by %s", t.Name, prev))
		} else {
			names[t.Name] = key
		}
		switch t.Platform {
		case "12345", "110", "":
		default:
			v.add(key+".platform", fmt.Sprintf("unknown platform %q (12345, 110 or empty)", t.Platform))
		}
		if err := checkHostPort(t.Address, false); err != nil {
			v.add(key+".address", err.Error())
		}
		switch t.Transport {
		case "", "udp", "tcp":
		default:
			v.add(key+".transport", fmt.Sprintf("unknown transport %q (udp, tcp)", t.Transport))
		}
		if t.Password != "" && t.Username == "" {
			v.add(key+".username", "required when password is set")
		}
		if t.OptionsInterval < 0 || (t.OptionsInterval > 0 && t.OptionsInterval.D().Seconds() < 1) {
			v.add(key+".options_interval", "must be 0 (off) or at least 1s")
		}
		checkDTMFMode(v, key+".dtmf_mode", t.DTMFMode)
	}
}

func checkDTMFMode(v *validator, key, mode string) {
	switch mode {
	case "", "rfc4733", "info":
	default:
		v.add(key, fmt.Sprintf("unknown dtmf mode %q (rfc4733, info)", mode))
	}
}

// checkResource accepts names usable as the resource of a dial string PJSIP/<name>.
func checkResource(name string) error {
	if name == "" {
		return fmt.Errorf("must not be empty")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%q: only letters, digits, '-', '_' and '.' are allowed", name)
		}
	}
	return nil
}

func checkHostPort(addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if host == "" && !listen {
		return fmt.Errorf("%q has no host", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 || (p == 0 && !listen) {
		return fmt.Errorf("%q has an invalid port", addr)
	}
	return nil
}
