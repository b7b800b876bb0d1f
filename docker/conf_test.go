package docker

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"linkctl/ari/trace"
)

// here is the docker/ folder (the test's working directory).
func here(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Dir(file)
}

type renderEnv map[string]string

// render runs asterisk/entrypoint.sh render into a temporary folder.
func render(t *testing.T, env renderEnv) (string, []byte, error) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no /bin/sh to run the entrypoint")
	}
	// The entrypoint reads the sources in a child process, which go test's
	// cache does not see: open them here so an edit invalidates the cache.
	srcs, _ := filepath.Glob(filepath.Join(here(t), "asterisk", "conf", "*.conf"))
	for _, p := range append(srcs, filepath.Join(here(t), "asterisk", "entrypoint.sh")) {
		if _, err := os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
	}
	dst := t.TempDir()
	cmd := exec.Command("sh", filepath.Join(here(t), "asterisk", "entrypoint.sh"), "render")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"),
		"LINKCTL_PBX_CONF_SRC=" + filepath.Join(here(t), "asterisk", "conf"),
		"LINKCTL_PBX_CONF_DST=" + dst}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return dst, out, err
}

func renderOK(t *testing.T) string {
	t.Helper()
	dst, out, err := render(t, renderEnv{"LINKCTL_ARI_PASSWORD": "s3cret-for-tests", "LINKCTL_PBX_EXTERNAL_IP": "203.0.113.7"})
	if err != nil {
		t.Fatalf("entrypoint render: %v\n%s", err, out)
	}
	return dst
}

// sectionKind names what a section is, for the option table.
func sectionKind(file string, s *confSection) string {
	switch file {
	case "pjsip.conf":
		return s.get("type")
	case "ari.conf", "ari_users.conf":
		if s.get("type") == "user" {
			return "user"
		}
		return s.Name
	case "musiconhold.conf", "indications.conf", "extensions.conf":
		if s.Name == "general" || (file == "extensions.conf" && s.Name == "globals") {
			return s.Name
		}
		return map[string]string{"musiconhold.conf": "class", "indications.conf": "zone", "extensions.conf": "context"}[file]
	case "pjsip_transports.conf":
		return s.get("type")
	}
	return s.Name
}

// optionFile maps generated include files to the file whose options they carry.
func optionFile(file string) string {
	switch file {
	case "ari_users.conf":
		return "ari.conf"
	case "pjsip_transports.conf":
		return "pjsip.conf"
	}
	return file
}

func loadDir(t *testing.T, dir string) map[string]*confFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no .conf files in %s (%v)", dir, err)
	}
	files := map[string]*confFile{}
	for _, p := range paths {
		cf, err := parseConf(p)
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		files[filepath.Base(p)] = cf
	}
	// Sections of included files join their parent for template and type resolution.
	for _, cf := range files {
		secs := append([]*confSection(nil), cf.Sections...)
		for _, inc := range cf.Includes {
			if sub, ok := files[inc]; ok {
				secs = append(secs, sub.Sections...)
			}
		}
		if err := resolve(secs); err != nil {
			t.Fatalf("%s: %v", cf.Path, err)
		}
	}
	return files
}

// sharedOptions derives file -> kind -> option names from the configuration
// that loaded on the real Asterisk 22.11.
func sharedOptions(t *testing.T) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	// ../shared/asterisk/conf beside the clone, or under $LINKCTL_SHARED.
	dir, err := trace.ConfDir()
	if err != nil {
		if trace.SharedRequired() {
			t.Fatalf("shared Asterisk configuration required (%s=1): %v", trace.EnvRequireShared, err)
		}
		t.Logf("shared Asterisk configuration not found (%v); using the documented option table only", err)
		return out
	}
	t.Logf("shared files from %s", dir)
	for name, cf := range loadDir(t, dir) {
		for _, s := range cf.Sections {
			key := name + "/" + sectionKind(name, s)
			if out[key] == nil {
				out[key] = map[string]bool{}
			}
			for _, o := range s.Options {
				out[key][o.Key] = true
			}
		}
	}
	return out
}

func TestEveryConfFileUsesOnlyOptionsAsterisk22Knows(t *testing.T) {
	dir := renderOK(t)
	shared := sharedOptions(t)
	files := loadDir(t, dir)
	for _, want := range []string{"asterisk.conf", "modules.conf", "logger.conf", "http.conf", "ari.conf",
		"ari_users.conf", "pjsip.conf", "pjsip_transports.conf", "extensions.conf", "rtp.conf",
		"musiconhold.conf", "indications.conf"} {
		if files[want] == nil {
			t.Errorf("%s missing from the rendered configuration", want)
		}
	}
	for name, cf := range files {
		for _, inc := range cf.Includes {
			if files[inc] == nil {
				t.Errorf("%s includes %s, which does not exist", name, inc)
			}
		}
		of := optionFile(name)
		for _, s := range cf.Sections {
			kind := sectionKind(name, s)
			if name == "logger.conf" && s.Name == "logfiles" {
				for _, o := range s.Options {
					for _, lv := range strings.Split(o.Value, ",") {
						lv = strings.TrimSpace(lv)
						if i := strings.Index(lv, "("); i > 0 {
							lv = lv[:i]
						}
						if !logLevels[lv] {
							t.Errorf("%s:%d: log channel %s has unknown level %q", name, o.Line, o.Key, lv)
						}
					}
				}
				continue
			}
			if name == "extensions.conf" && s.Name == "globals" {
				continue // global variable names are free
			}
			table, ok := knownOptions[of]
			if !ok {
				t.Errorf("%s: no option table for this file", name)
				continue
			}
			known := map[string]bool{}
			for _, k := range table[kind] {
				known[k] = true
			}
			for k := range shared[of+"/"+kind] {
				known[k] = true
			}
			if len(known) == 0 {
				t.Errorf("%s:%d: [%s] is of unknown kind %q", name, s.Line, s.Name, kind)
				continue
			}
			for _, o := range s.Options {
				if !known[o.Key] {
					t.Errorf("%s:%d: [%s] (%s): option %q is not an Asterisk 22 %s option", name, o.Line, s.Name, kind, o.Key, of)
				}
			}
		}
	}
}

func sectionsOfType(files map[string]*confFile, typ string) map[string]*confSection {
	out := map[string]*confSection{}
	for _, fn := range []string{"pjsip.conf", "pjsip_transports.conf"} {
		for _, s := range files[fn].Sections {
			if !s.Template && s.get("type") == typ {
				out[s.Name] = s
			}
		}
	}
	return out
}

func TestPJSIPObjectsAreConsistent(t *testing.T) {
	files := loadDir(t, renderOK(t))
	endpoints := sectionsOfType(files, "endpoint")
	aors := sectionsOfType(files, "aor")
	auths := sectionsOfType(files, "auth")
	transports := sectionsOfType(files, "transport")
	contexts := map[string]bool{}
	for _, s := range files["extensions.conf"].Sections {
		contexts[s.Name] = true
	}
	if len(endpoints) < 6 {
		t.Fatalf("%d endpoints, want 2 trunks and 4 example agents", len(endpoints))
	}
	protos := map[string]bool{}
	for _, tr := range transports {
		protos[tr.get("protocol")] = true
		if !strings.HasPrefix(tr.get("bind"), "0.0.0.0:") {
			t.Errorf("transport %s binds %q, want all addresses (it runs in a container)", tr.Name, tr.get("bind"))
		}
		if tr.get("external_media_address") != "203.0.113.7" || len(tr.Effective["local_net"]) == 0 {
			t.Errorf("transport %s lacks the NAT addresses from LINKCTL_PBX_EXTERNAL_IP", tr.Name)
		}
	}
	if !protos["udp"] || !protos["tcp"] {
		t.Errorf("transports %v, want udp and tcp", protos)
	}
	agents := 0
	for name, ep := range endpoints {
		checks := map[string]string{"disallow": "all", "allow": "ulaw,alaw", "dtmf_mode": "rfc4733", "direct_media": "no"}
		for k, want := range checks {
			if got := ep.get(k); got != want {
				t.Errorf("endpoint %s: %s = %q, want %q", name, k, got, want)
			}
		}
		if !contexts[ep.get("context")] {
			t.Errorf("endpoint %s: context %q not in extensions.conf", name, ep.get("context"))
		}
		for _, a := range strings.Split(ep.get("aors"), ",") {
			if aors[strings.TrimSpace(a)] == nil {
				t.Errorf("endpoint %s: aor %q not defined", name, a)
			}
		}
		if ep.get("context") == "from-agents" {
			agents++
			au := auths[ep.get("auth")]
			if au == nil {
				t.Errorf("agent endpoint %s has no auth section", name)
			} else if au.get("username") != name || au.get("password") == "" {
				t.Errorf("agent %s: auth username %q / empty password", name, au.get("username"))
			}
			if aor := aors[name]; aor == nil || aor.get("max_contacts") != "1" {
				t.Errorf("agent %s: want an aor with max_contacts = 1", name)
			}
		}
	}
	if agents < 4 {
		t.Errorf("%d agent endpoints, want the 12345 and 110 examples", agents)
	}
	identified := map[string]bool{}
	for name, id := range sectionsOfType(files, "identify") {
		ep := endpoints[id.get("endpoint")]
		if ep == nil {
			t.Errorf("identify %s names unknown endpoint %q", name, id.get("endpoint"))
			continue
		}
		if id.get("match") == "" {
			t.Errorf("identify %s has no match address", name)
		}
		identified[id.get("endpoint")] = true
	}
	for _, trunk := range []string{"carrier", "peer-platform"} {
		if !identified[trunk] {
			t.Errorf("trunk %s is not identified by address", trunk)
		}
	}
}

var (
	appCall  = regexp.MustCompile(`^([A-Za-z]+)\((.*)\)$`)
	funcCall = regexp.MustCompile(`([A-Z_]+)\(`)
)

// dialplanApps are the applications and functions extensions.conf may use
// and the module providing each ("" = built into the core).
var dialplanApps = map[string]string{
	"Answer": "", "Hangup": "", "NoOp": "", "Set": "", "Goto": "", "GotoIf": "",
	"Stasis": "app_stasis", "Gosub": "app_stack", "Return": "app_stack", "Echo": "app_echo",
}

var dialplanFuncs = map[string]string{
	"PJSIP_TRANSFER_HANDLING": "chan_pjsip", "PJSIP_HEADER": "res_pjsip_header_funcs",
	"CALLERID": "func_callerid", "CHANNEL": "func_channel", "ARG": "", "LEN": "",
}

func loadedModules(t *testing.T, files map[string]*confFile) map[string]bool {
	mods := map[string]bool{}
	for _, s := range files["modules.conf"].Sections {
		for _, o := range s.Options {
			if o.Key == "load" {
				if mods[o.Value] {
					t.Errorf("modules.conf:%d: %s loaded twice", o.Line, o.Value)
				}
				mods[strings.TrimSuffix(o.Value, ".so")] = true
			}
		}
	}
	return mods
}

func TestDialplanSendsBothNumbersToStasis(t *testing.T) {
	files := loadDir(t, renderOK(t))
	mods := loadedModules(t, files)
	ctx := map[string]*confSection{}
	for _, s := range files["extensions.conf"].Sections {
		ctx[s.Name] = s
	}
	if ctx["globals"] == nil || ctx["globals"].get("LINKCTL_APP") != "linkctl" {
		t.Fatalf("globals LINKCTL_APP must be linkctl")
	}
	// Every application and function is known and its module loaded; every
	// Gosub target exists.
	for _, s := range files["extensions.conf"].Sections {
		for _, o := range s.Options {
			if o.Key != "exten" && o.Key != "same" {
				continue
			}
			n := 3 // exten => name,priority,App(args)
			if o.Key == "same" {
				n = 2 // same => priority,App(args)
			}
			parts := strings.SplitN(o.Value, ",", n)
			if len(parts) != n {
				t.Errorf("extensions.conf:%d: %q is not [exten,]priority,app", o.Line, o.Value)
				continue
			}
			m := appCall.FindStringSubmatch(parts[n-1])
			if m == nil {
				t.Errorf("extensions.conf:%d: %q is not App(args)", o.Line, parts[n-1])
				continue
			}
			mod, ok := dialplanApps[m[1]]
			if !ok {
				t.Errorf("extensions.conf:%d: application %s not in the allowed list", o.Line, m[1])
			} else if mod != "" && !mods[mod] {
				t.Errorf("extensions.conf:%d: %s needs %s, which modules.conf does not load", o.Line, m[1], mod)
			}
			for _, f := range funcCall.FindAllStringSubmatch(m[2], -1) {
				fmod, ok := dialplanFuncs[f[1]]
				if !ok {
					t.Errorf("extensions.conf:%d: function %s not in the allowed list", o.Line, f[1])
				} else if fmod != "" && !mods[fmod] {
					t.Errorf("extensions.conf:%d: %s() needs %s, which modules.conf does not load", o.Line, f[1], fmod)
				}
			}
			if m[1] == "Gosub" {
				target := strings.SplitN(m[2], ",", 2)[0]
				if ctx[target] == nil {
					t.Errorf("extensions.conf:%d: Gosub to unknown context %s", o.Line, target)
				}
			}
		}
	}
	entry := strings.Join(ctx["linkctl-entry"].Effective["same"], "\n")
	if !strings.Contains(entry, "Stasis(${LINKCTL_APP},inbound,${ARG1})") {
		t.Errorf("linkctl-entry does not enter Stasis(linkctl,inbound,<number>):\n%s", entry)
	}
	for _, c := range []string{"from-carrier", "from-peer-platform", "from-agents"} {
		s := ctx[c]
		if s == nil {
			t.Errorf("context %s missing", c)
			continue
		}
		for _, num := range []string{"12345", "110"} {
			found := false
			for _, o := range s.Options {
				if o.Key == "exten" && strings.HasPrefix(o.Value, num+",1,") {
					found = true
				}
			}
			if !found {
				t.Errorf("%s has no entry for %s", c, num)
			}
		}
	}
	agentText := strings.Join(append(ctx["from-agents"].Effective["exten"], ctx["from-agents"].Effective["same"]...), "\n")
	if strings.Count(agentText, "Gosub(linkctl-agent-leg,s,1)") < 2 {
		t.Errorf("agent calls to 12345 and 110 must run linkctl-agent-leg first:\n%s", agentText)
	}
	leg := strings.Join(append(ctx["linkctl-agent-leg"].Effective["exten"], ctx["linkctl-agent-leg"].Effective["same"]...), "\n")
	if !strings.Contains(leg, "Set(PJSIP_TRANSFER_HANDLING()=ari-only)") {
		t.Errorf("linkctl-agent-leg does not set PJSIP_TRANSFER_HANDLING()=ari-only:\n%s", leg)
	}
	for _, need := range []string{"res_pjsip_refer", "res_pjsip_header_funcs", "res_ari_channels", "res_ari_bridges",
		"res_ari_events", "app_stasis", "bridge_softmix", "res_musiconhold", "res_pjsip_rfc3326", "codec_ulaw", "codec_alaw"} {
		if !mods[need] {
			t.Errorf("modules.conf does not load %s", need)
		}
	}
}

func TestARIConfMatchesWhatLinkctlExpects(t *testing.T) {
	files := loadDir(t, renderOK(t))
	var general, user *confSection
	for _, s := range files["ari.conf"].Sections {
		if s.Name == "general" {
			general = s
		}
	}
	for _, s := range files["ari_users.conf"].Sections {
		if s.Name == "linkctl" {
			user = s
		}
	}
	if general == nil || general.get("enabled") != "yes" || general.get("pretty") != "no" {
		t.Fatalf("ari.conf [general] must enable ARI with pretty = no")
	}
	if user == nil || user.get("type") != "user" || user.get("password") != "s3cret-for-tests" || user.get("read_only") != "no" {
		t.Fatalf("ari_users.conf [linkctl] user not rendered from LINKCTL_ARI_PASSWORD: %+v", user)
	}
	for _, o := range files["ari.conf"].Sections {
		if o.get("password") != "" {
			t.Errorf("ari.conf carries a password in [%s]; it must come from the environment", o.Name)
		}
	}
}

func TestEntrypointRender(t *testing.T) {
	tests := []struct {
		name    string
		env     renderEnv
		wantErr string
		check   func(t *testing.T, dir string)
	}{
		{name: "no password", env: renderEnv{}, wantErr: "LINKCTL_ARI_PASSWORD is required"},
		{name: "bad port", env: renderEnv{"LINKCTL_ARI_PASSWORD": "x", "LINKCTL_PBX_SIP_PORT": "50a"}, wantErr: "not a port number"},
		{
			name: "semicolon escaped, no NAT",
			env:  renderEnv{"LINKCTL_ARI_PASSWORD": "pa;ss"},
			check: func(t *testing.T, dir string) {
				cf, err := parseConf(filepath.Join(dir, "ari_users.conf"))
				if err != nil {
					t.Fatal(err)
				}
				if err := resolve(cf.Sections); err != nil {
					t.Fatal(err)
				}
				if got := cf.Sections[0].get("password"); got != `pa\;ss` {
					t.Errorf("password rendered as %q, want the ';' escaped", got)
				}
				fi, err := os.Stat(filepath.Join(dir, "ari_users.conf"))
				if err != nil || fi.Mode().Perm()&0o077 != 0 {
					t.Errorf("ari_users.conf mode %v, want owner-only", fi.Mode().Perm())
				}
				b, _ := os.ReadFile(filepath.Join(dir, "pjsip_transports.conf"))
				if strings.Contains(string(b), "external_") || strings.Contains(string(b), "local_net") {
					t.Errorf("NAT options without LINKCTL_PBX_EXTERNAL_IP:\n%s", b)
				}
			},
		},
		{
			name: "NAT with LAN list from compose (trailing comma when no LAN)",
			env:  renderEnv{"LINKCTL_ARI_PASSWORD": "x", "LINKCTL_PBX_EXTERNAL_IP": "203.0.113.9", "LINKCTL_PBX_LOCAL_NET": "172.30.45.0/24,"},
			check: func(t *testing.T, dir string) {
				b, _ := os.ReadFile(filepath.Join(dir, "pjsip_transports.conf"))
				if strings.Count(string(b), "local_net = ") != 2 || strings.Count(string(b), "local_net = 172.30.45.0/24\n") != 2 {
					t.Errorf("want exactly the compose subnet as local_net on both transports:\n%s", b)
				}
				if strings.Count(string(b), "external_media_address = 203.0.113.9") != 2 {
					t.Errorf("external address missing:\n%s", b)
				}
			},
		},
		{
			name: "permit list and port",
			env:  renderEnv{"LINKCTL_ARI_PASSWORD": "x", "LINKCTL_ARI_PERMIT": "10.1.0.0/16,127.0.0.1/32", "LINKCTL_PBX_SIP_PORT": "5070"},
			check: func(t *testing.T, dir string) {
				b, _ := os.ReadFile(filepath.Join(dir, "ari_users.conf"))
				if !strings.Contains(string(b), "permit = 10.1.0.0/16\npermit = 127.0.0.1/32\n") {
					t.Errorf("permit list not rendered:\n%s", b)
				}
				b, _ = os.ReadFile(filepath.Join(dir, "pjsip_transports.conf"))
				if strings.Count(string(b), "bind = 0.0.0.0:5070") != 2 {
					t.Errorf("port not applied to both transports:\n%s", b)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, out, err := render(t, tc.env)
			if tc.wantErr != "" {
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 64 || !strings.Contains(string(out), tc.wantErr) {
					t.Fatalf("want exit 64 with %q, got %v: %s", tc.wantErr, err, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("render: %v\n%s", err, out)
			}
			tc.check(t, dir)
		})
	}
}

// The example files must not drift from the traces' setup where linkctl
// depends on it.
func TestConfKeepsTheTraceSetupThatLinkctlRelies(t *testing.T) {
	files := loadDir(t, renderOK(t))
	var opts *confSection
	for _, s := range files["asterisk.conf"].Sections {
		if s.Name == "options" {
			opts = s
		}
	}
	if opts == nil || opts.get("systemname") != "linkctl-pbx" {
		t.Errorf("asterisk.conf systemname must be linkctl-pbx (channel ids as in the traces)")
	}
	var zones []string
	for _, s := range files["indications.conf"].Sections {
		zones = append(zones, s.Name)
		if s.Name == "general" && s.get("country") != "cn" {
			t.Errorf("indications.conf default country %q, want cn", s.get("country"))
		}
	}
	sort.Strings(zones)
	if strings.Join(zones, ",") != "cn,general,us" {
		t.Errorf("indications zones %v", zones)
	}
}
