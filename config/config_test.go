package config

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultValidates(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	n := c.Matters.Count()
	if n["12345->110"] != 62 || n["110->12345"] != 68 {
		t.Fatalf("matters rows per direction = %v, want 62 and 68 (the policy's 130 rows)", n)
	}
}

func TestParseNamesKeyAndLine(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []Problem // Key, Line and a substring of Msg
	}{
		{"unknown key", "log:\n  level: info\n  colour: 1\n", []Problem{{Key: "log.colour", Line: 3, Msg: `unknown key "colour" (known: format, level)`}}},
		{"bad duration", "ari:\n  request_timeout: 5x\n", []Problem{{Key: "ari.request_timeout", Line: 2, Msg: "not a duration"}}},
		{"empty app and bad level together", "ari:\n  application: \"\"\nlog:\n  level: loud\n", []Problem{
			{Key: "ari.application", Line: 2, Msg: "must not be empty"},
			{Key: "log.level", Line: 4, Msg: "unknown level"},
		}},
		{"syntax error", "ari: [\n", []Problem{{Key: "(file)", Line: 1, Msg: "YAML syntax error"}}},
		{"wrong type", "ari:\n  embedded: maybe\n", []Problem{{Key: "ari.embedded", Line: 2, Msg: "must be true or false"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tt.yaml))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse error = %v, want Problems", err)
			}
			if len(ps) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(tt.want), ps)
			}
			for i, w := range tt.want {
				g := ps[i]
				if g.Key != w.Key || g.Line != w.Line || !strings.Contains(g.Msg, w.Msg) || g.File != "x.yaml" {
					t.Errorf("problem %d = %+v, want key %q line %d msg containing %q", i, g, w.Key, w.Line, w.Msg)
				}
			}
		})
	}
}

func TestMattersLookup(t *testing.T) {
	m, err := LoadMatters("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir, name, want string
		ok              bool
	}{
		{"12345->110", "社会治安类/盗砸抢骗", "社会治安类/盗砸抢骗", true},
		{"12345->110", "盗砸抢骗", "社会治安类/盗砸抢骗", true},
		{"110->12345", "社会治安类/盗砸抢骗", "", false}, // wrong direction
		{"12345->110", "no such thing", "", false},
	}
	for _, tt := range tests {
		got, err := m.Lookup(tt.dir, tt.name)
		if tt.ok != (err == nil) || (tt.ok && got.Name() != tt.want) {
			t.Errorf("Lookup(%s, %s) = %v, %v; want %q ok=%v", tt.dir, tt.name, got.Name(), err, tt.want, tt.ok)
		}
		if !tt.ok && (!errors.Is(err, ErrUnknownCategory) || !strings.Contains(err.Error(), "valid:")) {
			t.Errorf("Lookup(%s, %s) error %v must wrap ErrUnknownCategory and list the valid names", tt.dir, tt.name, err)
		}
	}
}

func TestParseMattersReportsLine(t *testing.T) {
	data := "direction\tcategory\tsubcategory\tdescription\n12345->110\t社会治安类\t盗砸抢骗\tx\n12345=>110\ta\tb\tc\n110->12345\tonlytwo\n"
	_, err := ParseMatters("m.tsv", []byte(data))
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 2 || ps[0].Line != 3 || ps[1].Line != 4 {
		t.Fatalf("got %v, want problems on lines 3 and 4", err)
	}
}
