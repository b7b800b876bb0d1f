package docker

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"linkctl/config"
)

// compose is the part of the Compose specification this deployment uses.
type compose struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Networks map[string]struct {
		IPAM struct {
			Config []struct {
				Subnet string `yaml:"subnet"`
			} `yaml:"config"`
		} `yaml:"ipam"`
	} `yaml:"networks"`
	Volumes map[string]any `yaml:"volumes"`
}

type composeService struct {
	Build *struct {
		Context    string            `yaml:"context"`
		Dockerfile string            `yaml:"dockerfile"`
		Args       map[string]string `yaml:"args"`
	} `yaml:"build"`
	Image       string            `yaml:"image"`
	Init        bool              `yaml:"init"`
	Restart     string            `yaml:"restart"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Networks    yaml.Node         `yaml:"networks"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
	StopGracePeriod string `yaml:"stop_grace_period"`
}

func loadCompose(t *testing.T) *compose {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(here(t), "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	var c compose
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return &c
}

var secretRef = regexp.MustCompile(`\$\{([A-Z_]+)(:\?[^}]*)?(:-[^}]*)?\}`)

func TestComposeWiresAsteriskLinkctlAndPostgres(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"asterisk", "linkctl", "postgres"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("service %s missing", name)
		}
	}
	lk := c.Services["linkctl"]
	for _, dep := range []string{"asterisk", "postgres"} {
		if lk.DependsOn[dep].Condition != "service_healthy" {
			t.Errorf("linkctl must wait for %s to be healthy, got %q", dep, lk.DependsOn[dep].Condition)
		}
		if c.Services[dep].Healthcheck == nil || len(c.Services[dep].Healthcheck.Test) == 0 {
			t.Errorf("%s has no healthcheck for linkctl to wait on", dep)
		}
	}
	for name, s := range c.Services {
		if s.Restart != "unless-stopped" {
			t.Errorf("%s: restart %q, want unless-stopped", name, s.Restart)
		}
		if s.Build != nil {
			ctx := filepath.Join(here(t), s.Build.Context)
			df := s.Build.Dockerfile
			if df == "" {
				df = "Dockerfile"
			}
			if _, err := os.Stat(filepath.Join(ctx, df)); err != nil {
				t.Errorf("%s: build file %s in context %s: %v", name, df, s.Build.Context, err)
			}
		}
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) < 2 {
				t.Errorf("%s: volume %q is not source:target", name, v)
				continue
			}
			src := parts[0]
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(here(t), src)); err != nil {
					t.Errorf("%s: bind mount source %s: %v", name, src, err)
				}
				if len(parts) < 3 || parts[2] != "ro" {
					t.Errorf("%s: configuration bind mount %s should be read-only", name, v)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s: named volume %s not declared under volumes:", name, src)
			}
		}
		for k, v := range s.Environment {
			low := strings.ToLower(k)
			if strings.Contains(low, "password") || strings.Contains(low, "dsn") {
				m := secretRef.FindStringSubmatch(v)
				if m == nil || m[2] == "" {
					t.Errorf("%s: %s = %q must come from the environment with ${VAR:?message}", name, k, v)
				}
			}
		}
	}
	if lk.Build == nil || lk.Build.Context != ".." || lk.Build.Dockerfile != "docker/Dockerfile" {
		t.Errorf("linkctl must build from the repository root with docker/Dockerfile")
	}
	if !strings.Contains(lk.Environment["LINKCTL_DB_DSN"], "@postgres:5432/") {
		t.Errorf("linkctl DSN %q does not point at the postgres service", lk.Environment["LINKCTL_DB_DSN"])
	}
}

// portRange parses "a-b:a-b/udp" or "a:a/udp" into the host range and container range.
func portRange(t *testing.T, spec string) (proto string, hostLo, hostHi, ctrLo, ctrHi int) {
	t.Helper()
	proto = "tcp"
	if i := strings.LastIndex(spec, "/"); i > 0 {
		spec, proto = spec[:i], spec[i+1:]
	}
	parts := strings.Split(spec, ":")
	if len(parts) == 3 { // ip:host:container
		parts = parts[1:]
	}
	rng := func(s string) (int, int) {
		lo, hi, found := strings.Cut(s, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if found {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || b < a {
			t.Fatalf("bad port spec %q", s)
		}
		return a, b
	}
	hostLo, hostHi = rng(parts[0])
	ctrLo, ctrHi = rng(parts[len(parts)-1])
	return
}

func confValue(t *testing.T, file, section, key string) string {
	t.Helper()
	cf, err := parseConf(filepath.Join(here(t), "asterisk", "conf", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := resolve(cf.Sections); err != nil {
		t.Fatal(err)
	}
	for _, s := range cf.Sections {
		if s.Name == section {
			return s.get(key)
		}
	}
	t.Fatalf("%s has no [%s]", file, section)
	return ""
}

func TestComposePortsMatchAsteriskConf(t *testing.T) {
	c := loadCompose(t)
	ast := c.Services["asterisk"]
	rtpLo, _ := strconv.Atoi(confValue(t, "rtp.conf", "general", "rtpstart"))
	rtpHi, _ := strconv.Atoi(confValue(t, "rtp.conf", "general", "rtpend"))
	ariPort, _ := strconv.Atoi(confValue(t, "http.conf", "general", "bindport"))
	seen := map[string]bool{}
	for _, p := range ast.Ports {
		proto, hl, hh, cl, ch := portRange(t, p)
		switch {
		case proto == "udp" && cl == rtpLo:
			if ch != rtpHi || hl != cl || hh != ch {
				t.Errorf("RTP ports %q, want %d-%d:%d-%d/udp (rtp.conf)", p, rtpLo, rtpHi, rtpLo, rtpHi)
			}
			seen["rtp"] = true
		case cl == 5060:
			seen["sip/"+proto] = true
		case cl == ariPort:
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("ARI port %q published beyond the host's loopback", p)
			}
			seen["ari"] = true
		}
	}
	for _, want := range []string{"rtp", "sip/udp", "sip/tcp", "ari"} {
		if !seen[want] {
			t.Errorf("asterisk does not publish %s (ports %v)", want, ast.Ports)
		}
	}
	// linkctl reaches ARI on the compose network at http.conf's port.
	cfg := loadLinkctlYAML(t)
	u, err := url.Parse(cfg.ARI.URL)
	if err != nil || u.Hostname() != "asterisk" || u.Port() != strconv.Itoa(ariPort) {
		t.Errorf("linkctl.yaml ari.url %q, want http://asterisk:%d/ari", cfg.ARI.URL, ariPort)
	}
	// The ARI permit list and the NAT local_net cover the compose subnet.
	subnet := c.Networks["pbx"].IPAM.Config[0].Subnet
	_, nw, err := net.ParseCIDR(subnet)
	if err != nil {
		t.Fatalf("pbx subnet %q: %v", subnet, err)
	}
	if !strings.Contains(ast.Environment["LINKCTL_ARI_PERMIT"], subnet) || !strings.HasPrefix(ast.Environment["LINKCTL_PBX_LOCAL_NET"], subnet+",") {
		t.Errorf("ARI permit %q / local_net %q must include the compose subnet %s",
			ast.Environment["LINKCTL_ARI_PERMIT"], ast.Environment["LINKCTL_PBX_LOCAL_NET"], subnet)
	}
	var nets map[string]struct {
		IPv4 string `yaml:"ipv4_address"`
	}
	if err := ast.Networks.Decode(&nets); err != nil || !nw.Contains(net.ParseIP(nets["pbx"].IPv4)) {
		t.Errorf("asterisk address %q not in %s (%v)", nets["pbx"].IPv4, subnet, err)
	}
}

func loadLinkctlYAML(t *testing.T) *config.Config {
	t.Helper()
	t.Setenv("LINKCTL_ARI_PASSWORD", "ari-secret-from-env")
	t.Setenv("LINKCTL_DB_DSN", "postgres://linkctl:pw@postgres:5432/linkctl?sslmode=disable")
	path := filepath.Join(here(t), "linkctl.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(path, data)
	if err != nil {
		t.Fatalf("docker/linkctl.yaml does not pass linkctl's validation:\n%v", err)
	}
	return cfg
}

func TestLinkctlYAMLDrivesTheAsteriskContainer(t *testing.T) {
	cfg := loadLinkctlYAML(t)
	if cfg.ARI.Embedded {
		t.Error("ari.embedded must be false: the deployment drives Asterisk")
	}
	if cfg.Password() != "ari-secret-from-env" || cfg.ARI.Application != "linkctl" {
		t.Errorf("ARI password/app not taken from the environment / not linkctl")
	}
	files := loadDir(t, renderOK(t))
	endpoints := sectionsOfType(files, "endpoint")
	for platform, g := range cfg.Controller.Groups {
		if len(g.Agents) == 0 {
			t.Errorf("group %s has no agents", platform)
		}
		for _, a := range g.Agents {
			name, ok := strings.CutPrefix(a, "PJSIP/")
			if !ok {
				t.Errorf("group %s agent %q is not a PJSIP dial string", platform, a)
				continue
			}
			ep := endpoints[name]
			if ep == nil || ep.get("context") != "from-agents" {
				t.Errorf("group %s agent %s is not an agent endpoint in pjsip.conf", platform, a)
			}
		}
	}
	for entry := range cfg.Controller.Entries {
		if entry != "12345" && entry != "110" {
			t.Errorf("controller entry %q has no dialplan entry", entry)
		}
	}
}
