package docker

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

type instruction struct {
	Cmd  string // upper case
	Args string
	Line int
}

var dockerInstructions = map[string]bool{"FROM": true, "RUN": true, "CMD": true, "LABEL": true, "EXPOSE": true,
	"ENV": true, "ADD": true, "COPY": true, "ENTRYPOINT": true, "VOLUME": true, "USER": true, "WORKDIR": true,
	"ARG": true, "ONBUILD": true, "STOPSIGNAL": true, "HEALTHCHECK": true, "SHELL": true}

// parseDockerfile splits a Dockerfile into instructions, joining "\"
// continuations and skipping comments and parser directives.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var buf strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if buf.Len() == 0 && (trim == "" || strings.HasPrefix(trim, "#")) {
			continue
		}
		if buf.Len() > 0 && strings.HasPrefix(trim, "#") {
			continue // comment inside a continuation
		}
		if buf.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(trim, "\\") {
			buf.WriteString(strings.TrimSuffix(trim, "\\") + " ")
			continue
		}
		buf.WriteString(trim)
		cmd, args, _ := strings.Cut(buf.String(), " ")
		out = append(out, instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start})
		buf.Reset()
	}
	if buf.Len() > 0 {
		t.Fatalf("%s: dangling line continuation at the end", path)
	}
	return out
}

type stage struct {
	Name  string
	Instr []instruction
}

func stages(t *testing.T, path string) []stage {
	t.Helper()
	var out []stage
	for _, in := range parseDockerfile(t, path) {
		if !dockerInstructions[in.Cmd] {
			t.Errorf("%s:%d: unknown instruction %s", path, in.Line, in.Cmd)
		}
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			st := stage{}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			} else if len(f) != 1 {
				t.Errorf("%s:%d: FROM %q", path, in.Line, in.Args)
			}
			out = append(out, st)
			continue
		}
		if len(out) == 0 {
			if in.Cmd != "ARG" {
				t.Errorf("%s:%d: %s before the first FROM", path, in.Line, in.Cmd)
			}
			continue
		}
		out[len(out)-1].Instr = append(out[len(out)-1].Instr, in)
	}
	return out
}

// checkDockerfile asserts the shape every image here must have and returns the stages.
func checkDockerfile(t *testing.T, path, context string) []stage {
	t.Helper()
	st := stages(t, path)
	if len(st) < 2 {
		t.Fatalf("%s: %d stages, want a multi-stage build", path, len(st))
	}
	names := map[string]bool{}
	for i, s := range st {
		if s.Name != "" {
			names[s.Name] = true
		}
		for _, in := range s.Instr {
			switch in.Cmd {
			case "COPY", "ADD":
				f := strings.Fields(in.Args)
				from := ""
				var srcs []string
				for _, a := range f[:len(f)-1] {
					if v, ok := strings.CutPrefix(a, "--from="); ok {
						from = v
					} else if !strings.HasPrefix(a, "--") {
						srcs = append(srcs, a)
					}
				}
				if from != "" {
					if !names[from] {
						t.Errorf("%s:%d: COPY --from=%s names no earlier stage", path, in.Line, from)
					}
					continue
				}
				for _, s := range srcs {
					if s == "." {
						continue
					}
					if _, err := os.Stat(filepath.Join(context, s)); err != nil {
						t.Errorf("%s:%d: COPY source %s not in the build context: %v", path, in.Line, s, err)
					}
				}
			case "ENTRYPOINT", "CMD":
				var v []string
				if err := json.Unmarshal([]byte(in.Args), &v); err != nil {
					t.Errorf("%s:%d: %s must be the exec (JSON) form: %v", path, in.Line, in.Cmd, err)
				}
			}
		}
		if i == len(st)-1 {
			user := ""
			for _, in := range s.Instr {
				if in.Cmd == "USER" {
					user = in.Args
				}
			}
			if u := strings.Split(user, ":")[0]; u == "" || u == "root" || u == "0" {
				t.Errorf("%s: final stage runs as %q, want a non-root USER", path, user)
			}
		}
	}
	return st
}

func allArgs(st []stage, cmd string) string {
	var b strings.Builder
	for _, s := range st {
		for _, in := range s.Instr {
			if in.Cmd == cmd {
				b.WriteString(in.Args + "\n")
			}
		}
	}
	return b.String()
}

func TestLinkctlDockerfile(t *testing.T) {
	root := filepath.Join(here(t), "..")
	st := checkDockerfile(t, filepath.Join(here(t), "Dockerfile"), root)
	env := allArgs(st[:len(st)-1], "ENV")
	if !strings.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("build stage must set CGO_ENABLED=0, ENV: %q", env)
	}
	run := allArgs(st, "RUN")
	if !strings.Contains(run, "go build") || !strings.Contains(run, "./cmd/linkctl") {
		t.Errorf("build stage does not go build ./cmd/linkctl")
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "linkctl")); err != nil {
		t.Errorf("./cmd/linkctl: %v", err)
	}
	var cmd []string
	_ = json.Unmarshal([]byte(strings.TrimSpace(allArgs(st[len(st)-1:], "CMD"))), &cmd)
	if len(cmd) < 3 || cmd[0] != "serve" || cmd[1] != "-config" {
		t.Errorf("CMD %v, want serve -config FILE", cmd)
	}
}

func TestAsteriskDockerfile(t *testing.T) {
	ctx := filepath.Join(here(t), "asterisk")
	st := checkDockerfile(t, filepath.Join(ctx, "Dockerfile"), ctx)
	run := allArgs(st, "RUN")
	for _, want := range []string{"--with-pjproject-bundled", "--disable BUILD_NATIVE", "make install DESTDIR="} {
		if !strings.Contains(run, want) {
			t.Errorf("asterisk build lacks %q", want)
		}
	}
	// EXPOSEd RTP range equals rtp.conf.
	lo, _ := strconv.Atoi(confValue(t, "rtp.conf", "general", "rtpstart"))
	hi, _ := strconv.Atoi(confValue(t, "rtp.conf", "general", "rtpend"))
	want := strconv.Itoa(lo) + "-" + strconv.Itoa(hi) + "/udp"
	if !strings.Contains(allArgs(st, "EXPOSE"), want) {
		t.Errorf("EXPOSE %q lacks the RTP range %s", allArgs(st, "EXPOSE"), want)
	}
}
