package docker

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// confSection is one [section] of an Asterisk .conf file.
type confSection struct {
	Name      string
	Template  bool     // [name](!)
	Inherits  []string // [name](tpl1,tpl2)
	Options   []confOption
	Line      int
	File      string
	Effective map[string][]string // own options plus inherited ones (filled by resolve)
}

type confOption struct {
	Key, Value string
	Arrow      bool // "key => value"
	Line       int
}

type confFile struct {
	Path     string
	Includes []string
	Sections []*confSection
}

// parseConf reads an Asterisk configuration file: ';' comments (unless
// escaped as '\;'), [section](!,template) headers, key = value and
// key => value options, #include / #tryinclude directives.
func parseConf(path string) (*confFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cf := &confFile{Path: path}
	var cur *confSection
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := stripComment(sc.Text())
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		switch {
		case strings.HasPrefix(line, "#include") || strings.HasPrefix(line, "#tryinclude"):
			fields := strings.Fields(line)
			if len(fields) != 2 {
				return nil, fmt.Errorf("%s:%d: malformed %q", path, n, line)
			}
			cf.Includes = append(cf.Includes, strings.Trim(fields[1], `"<>`))
		case strings.HasPrefix(line, "#"):
			return nil, fmt.Errorf("%s:%d: unknown directive %q", path, n, line)
		case strings.HasPrefix(line, "["):
			end := strings.Index(line, "]")
			if end < 2 {
				return nil, fmt.Errorf("%s:%d: malformed section header %q", path, n, line)
			}
			cur = &confSection{Name: line[1:end], Line: n, File: filepath.Base(path)}
			rest := strings.TrimSpace(line[end+1:])
			if rest != "" {
				if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
					return nil, fmt.Errorf("%s:%d: junk after section header: %q", path, n, rest)
				}
				for _, t := range strings.Split(rest[1:len(rest)-1], ",") {
					switch t = strings.TrimSpace(t); t {
					case "!":
						cur.Template = true
					case "+":
						return nil, fmt.Errorf("%s:%d: [%s](+) appends; keep one definition", path, n, cur.Name)
					case "":
						return nil, fmt.Errorf("%s:%d: empty template name", path, n)
					default:
						cur.Inherits = append(cur.Inherits, t)
					}
				}
			}
			cf.Sections = append(cf.Sections, cur)
		default:
			if cur == nil {
				return nil, fmt.Errorf("%s:%d: option outside any section: %q", path, n, line)
			}
			arrow := false
			i := strings.Index(line, "=")
			if i < 0 {
				return nil, fmt.Errorf("%s:%d: not key = value: %q", path, n, line)
			}
			if i+1 < len(line) && line[i+1] == '>' {
				arrow = true
			}
			key := strings.TrimSpace(line[:i])
			val := strings.TrimSpace(strings.TrimPrefix(line[i+1:], ">"))
			if key == "" || strings.ContainsAny(key, " \t") {
				return nil, fmt.Errorf("%s:%d: bad option name %q", path, n, key)
			}
			cur.Options = append(cur.Options, confOption{Key: key, Value: val, Arrow: arrow, Line: n})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return cf, nil
}

func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == ';' && (i == 0 || s[i-1] != '\\') {
			return s[:i]
		}
	}
	return s
}

// resolve fills Effective for every section of the same file: templates
// first, then the section's own options (Asterisk applies them in that order).
func resolve(sections []*confSection) error {
	tpl := map[string]*confSection{}
	for _, s := range sections {
		if s.Template {
			tpl[s.Name] = s
		}
	}
	var eff func(s *confSection, depth int) (map[string][]string, error)
	eff = func(s *confSection, depth int) (map[string][]string, error) {
		if depth > 10 {
			return nil, fmt.Errorf("[%s]: template loop", s.Name)
		}
		out := map[string][]string{}
		for _, name := range s.Inherits {
			t, ok := tpl[name]
			if !ok {
				return nil, fmt.Errorf("%s:%d: [%s] inherits unknown template %q", s.File, s.Line, s.Name, name)
			}
			m, err := eff(t, depth+1)
			if err != nil {
				return nil, err
			}
			for k, v := range m {
				out[k] = append([]string(nil), v...)
			}
		}
		own := map[string][]string{}
		for _, o := range s.Options {
			own[o.Key] = append(own[o.Key], o.Value)
		}
		for k, v := range own {
			out[k] = v
		}
		return out, nil
	}
	for _, s := range sections {
		m, err := eff(s, 0)
		if err != nil {
			return err
		}
		s.Effective = m
	}
	return nil
}

func (s *confSection) get(key string) string {
	if v := s.Effective[key]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}
