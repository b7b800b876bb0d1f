// Package config is linkctl's one typed configuration: YAML in, defaults and
// validation in one place, and errors that name the key and the line.
//
// Each area owns one section type in its own file (switch.go, sip.go,
// controller.go, store.go, api.go); this file only assembles them.
// schema.go checks the YAML against the structs (unknown keys listed with the
// known ones, syntax-error lines); crosscheck.go holds checks across sections.
//
// Rules a file must follow: booleans are exactly true or false, unquoted
// (yaml.v3 would read yes/no/on/off, quoted or not, as booleans; linkctl
// rejects them so "no" never silently means false); a secret written as
// ${NAME} must name a set, non-empty environment variable.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is the whole linkctl configuration file.
type Config struct {
	// ARI is how the controller reaches the PBX (embedded switch or Asterisk).
	ARI ARIConfig `yaml:"ari"`
	// Switch configures the embedded ARI-compatible switch (ignored when ari.embedded is false).
	Switch SwitchConfig `yaml:"switch"`
	// SIP configures the embedded switch's SIP channel technology.
	SIP SIPConfig `yaml:"sip"`
	// Controller configures the call flows: entries, agent groups, softkeys, transfers.
	Controller ControllerConfig `yaml:"controller"`
	// Store configures call-record persistence and ticket delivery.
	Store StoreConfig `yaml:"store"`
	// API configures the HTTP API for agent desktops and supervisors.
	API APIConfig `yaml:"api"`
	// Log configures logging.
	Log LogConfig `yaml:"log"`
	// Shutdown configures what SIGTERM/SIGINT do with live calls (see shutdown.go).
	Shutdown ShutdownConfig `yaml:"shutdown"`

	// Matters is the transfer matters list, loaded from Controller.MattersFile
	// (or the built-in copy of the policy's 130 rows).
	Matters *Matters `yaml:"-"`
	// Path is the file this config was read from ("" for defaults).
	Path string `yaml:"-"`
}

// ARIConfig is the controller's ARI connection.
type ARIConfig struct {
	// Embedded starts linkctl's own switch and points the controller at it.
	Embedded bool `yaml:"embedded"`
	// URL is the ARI base URL, e.g. http://127.0.0.1:8088/ari.
	URL string `yaml:"url"`
	// Username / Password for ARI basic auth. Password may be "${ENV_VAR}".
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Application is the Stasis application name.
	Application string `yaml:"application"`
	// RequestTimeout bounds every ARI REST call.
	RequestTimeout Duration `yaml:"request_timeout"`
}

// LogConfig configures zap.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // console, json
}

// Problem is one configuration error: which key, which line, what is wrong.
type Problem struct {
	File string
	Key  string
	Line int
	Msg  string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if loc == "" {
		loc = "config"
	}
	return fmt.Sprintf("%s: %s: %s", loc, p.Key, p.Msg)
}

// Problems is every error found in a configuration; it is an error.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Default returns the built-in configuration: embedded switch on loopback,
// the demo's Sim endpoints, the policy's matters list.
func Default() *Config {
	c := &Config{
		ARI: ARIConfig{
			Embedded:       true,
			URL:            "http://127.0.0.1:8088/ari",
			Username:       "linkctl",
			Password:       "linkctl-secret",
			Application:    "linkctl",
			RequestTimeout: Duration(5e9),
		},
		Log: LogConfig{Level: "info", Format: "console"},
	}
	c.Switch.setDefaults()
	c.SIP.setDefaults()
	c.Controller.setDefaults()
	c.Store.setDefaults()
	c.API.setDefaults()
	c.Shutdown.setDefaults()
	return c
}

// Load reads, defaults and validates a configuration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes YAML over the defaults and validates the result. Unknown keys,
// wrong types and invalid values are all reported, each with key and line.
func Parse(path string, data []byte) (*Config, error) {
	c := Default()
	c.Path = path
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		line, msg := syntaxProblem(data, err)
		return nil, Problems{{File: path, Key: "(file)", Line: line, Msg: msg}}
	}
	v := &validator{file: path, root: &root}
	// Unknown keys and non-true/false booleans, told in the file's terms.
	checkSchema(v, &root)
	reported := map[int]bool{}
	for _, p := range v.problems {
		reported[p.Line] = true
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && err.Error() != "EOF" {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			line, msg := syntaxProblem(data, err)
			return nil, Problems{{File: path, Key: "(file)", Line: line, Msg: msg}}
		}
		// Type errors leave the rest decoded: report them and go on validating.
		for _, m := range te.Errors {
			line := lineFromYAMLError(m)
			if reported[line] || strings.Contains(m, " not found in type ") {
				continue // checkSchema said it better
			}
			v.problems = append(v.problems, Problem{File: path, Key: pathAtLine(&root, line, keyFromYAMLError(m)), Line: line, Msg: humanizeTypeError(stripLinePrefix(m))})
		}
	}
	c.validate(v)
	if len(v.problems) > 0 {
		return nil, v.problems
	}
	return c, nil
}

// Validate checks an in-memory configuration (e.g. Default()) and loads the matters list.
func (c *Config) Validate() error {
	v := &validator{file: c.Path}
	c.validate(v)
	if len(v.problems) > 0 {
		return v.problems
	}
	return nil
}

func (c *Config) validate(v *validator) {
	c.Password()
	if c.ARI.Application == "" {
		v.add("ari.application", "must not be empty")
	}
	if c.ARI.Username == "" {
		v.add("ari.username", "must not be empty")
	}
	if c.ARI.RequestTimeout <= 0 {
		v.add("ari.request_timeout", "must be positive, e.g. 5s")
	}
	if !c.ARI.Embedded && c.ARI.URL == "" {
		v.add("ari.url", "required when ari.embedded is false")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", fmt.Sprintf("unknown level %q (debug, info, warn, error)", c.Log.Level))
	}
	c.Switch.validate(v)
	c.SIP.validate(v)
	c.Controller.validate(v, c)
	c.Store.validate(v)
	c.API.validate(v)
	c.Shutdown.validate(v)
	c.checkEnvSecrets(v)
	c.checkAgentPlatforms(v)
	sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Line < v.problems[j].Line })
}

// Password returns the ARI password with ${ENV} expanded (secrets may come from the environment).
func (c *Config) Password() string { return ExpandEnv(c.ARI.Password) }

// ExpandEnv expands a value of the form ${NAME} from the environment; other values are returned as is.
func ExpandEnv(s string) string {
	if strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") {
		return os.Getenv(s[2 : len(s)-1])
	}
	return s
}

// validator collects problems and finds the YAML line of a dotted key.
type validator struct {
	file     string
	root     *yaml.Node
	problems Problems
}

// add records a problem for a dotted key path such as "controller.groups.12345.ring_timeout"
// or "sip.accounts[2].password".
func (v *validator) add(key, msg string) {
	v.problems = append(v.problems, Problem{File: v.file, Key: key, Line: v.lineOf(key), Msg: msg})
}

// addLine records a problem at an explicit line (e.g. in a TSV file).
func (v *validator) addLine(file string, line int, key, msg string) {
	v.problems = append(v.problems, Problem{File: file, Key: key, Line: line, Msg: msg})
}

func (v *validator) lineOf(key string) int {
	if v.root == nil || len(v.root.Content) == 0 {
		return 0
	}
	n := v.root.Content[0]
	line := n.Line
	for _, part := range splitKey(key) {
		next := lookup(n, part)
		if next == nil {
			return line
		}
		n = next
		line = n.Line
	}
	return line
}

func splitKey(key string) []string {
	var parts []string
	for _, p := range strings.Split(key, ".") {
		for {
			i := strings.IndexByte(p, '[')
			if i < 0 {
				parts = append(parts, p)
				break
			}
			if i > 0 {
				parts = append(parts, p[:i])
			}
			j := strings.IndexByte(p, ']')
			if j < i {
				parts = append(parts, p[i:])
				break
			}
			parts = append(parts, p[i:j+1])
			p = p[j+1:]
			if p == "" {
				break
			}
		}
	}
	return parts
}

func lookup(n *yaml.Node, part string) *yaml.Node {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				// Point at the key for scalars, the value's first line otherwise.
				if n.Content[i+1].Kind == yaml.ScalarNode {
					return n.Content[i+1]
				}
				c := *n.Content[i+1]
				if c.Line == 0 {
					c.Line = n.Content[i].Line
				}
				return &c
			}
		}
	case yaml.SequenceNode:
		var idx int
		if _, err := fmt.Sscanf(part, "[%d]", &idx); err == nil && idx >= 0 && idx < len(n.Content) {
			return n.Content[idx]
		}
	}
	return nil
}

// pathAtLine returns the dotted key path of the mapping key on line (or of the
// value on that line), falling back to hint.
func pathAtLine(root *yaml.Node, line int, hint string) string {
	if root == nil || len(root.Content) == 0 || line == 0 {
		return hint
	}
	var walk func(n *yaml.Node, prefix string) string
	walk = func(n *yaml.Node, prefix string) string {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, val := n.Content[i], n.Content[i+1]
				p := k.Value
				if prefix != "" {
					p = prefix + "." + k.Value
				}
				if k.Line == line && (hint == "(value)" || hint == k.Value) {
					return p
				}
				if val.Line == line && val.Kind == yaml.ScalarNode {
					return p
				}
				if r := walk(val, p); r != "" {
					return r
				}
			}
		case yaml.SequenceNode:
			for i, e := range n.Content {
				if r := walk(e, fmt.Sprintf("%s[%d]", prefix, i)); r != "" {
					return r
				}
			}
		}
		return ""
	}
	if p := walk(root.Content[0], ""); p != "" {
		return p
	}
	return hint
}

func stripLinePrefix(m string) string {
	if strings.HasPrefix(m, "line ") {
		if i := strings.Index(m, ": "); i >= 0 {
			return m[i+2:]
		}
	}
	return m
}

func lineFromYAMLError(m string) int {
	var line int
	fmt.Sscanf(m, "line %d:", &line)
	return line
}

// keyFromYAMLError pulls the offending field name out of yaml.v3's messages,
// e.g. "line 7: field ring_timout not found in type config.GroupConfig".
func keyFromYAMLError(m string) string {
	if i := strings.Index(m, "field "); i >= 0 {
		rest := m[i+len("field "):]
		if j := strings.IndexByte(rest, ' '); j > 0 {
			return rest[:j]
		}
	}
	return "(value)"
}
