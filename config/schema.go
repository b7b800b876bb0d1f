package config

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file checks the YAML tree against the Config struct before decoding,
// so problems are told in the file's terms (keys, true/false, lists) rather
// than in Go's (type names), and fixes yaml.v3's syntax-error lines.

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// checkSchema walks the document against Config and reports unknown keys
// (with the keys that are known there) and booleans written other than
// true/false. yaml.v3 reads yes/no/on/off (quoted or not) into a bool, but a
// quoted "false" not: linkctl accepts exactly true and false, unquoted.
func checkSchema(v *validator, root *yaml.Node) {
	if root == nil || len(root.Content) == 0 {
		return
	}
	walkSchema(v, root.Content[0], reflect.TypeOf(Config{}), "")
}

func walkSchema(v *validator, n *yaml.Node, t reflect.Type, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return // the type checks its own values (e.g. Duration)
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports the wrong shape
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				v.problems = append(v.problems, Problem{File: v.file, Key: joinKey(path, k.Value), Line: k.Line,
					Msg: fmt.Sprintf("unknown key %q (known: %s)", k.Value, knownKeys(fields))})
				continue
			}
			walkSchema(v, val, f, joinKey(path, k.Value))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkSchema(v, n.Content[i+1], t.Elem(), joinKey(path, n.Content[i].Value))
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, e := range n.Content {
			walkSchema(v, e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Bool:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" && isPlainBool(n.Value) {
			return
		}
		msg := fmt.Sprintf("must be true or false, got %q", n.Value)
		if n.Kind == yaml.ScalarNode && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			msg += " (quoted: a string; write true or false without quotes)"
		}
		v.problems = append(v.problems, Problem{File: v.file, Key: path, Line: n.Line, Msg: msg})
	}
}

// isPlainBool: YAML 1.2 also reads True/TRUE as a bool; linkctl's files use
// lower case, but those are unambiguous and accepted.
func isPlainBool(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false":
		return true
	}
	return false
}

// yamlFields maps the YAML keys of struct t to their field types, following
// yaml.v3's rules: the tag's name, else the lower-cased field name; "-" is
// skipped; ",inline" merges the inner struct's keys.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range yamlFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func knownKeys(fields map[string]reflect.Type) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

func joinKey(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// typeErrRe matches yaml.v3's "cannot unmarshal !!str `abc` into int" (the
// value part is absent for collections: "cannot unmarshal !!seq into ...").
var typeErrRe = regexp.MustCompile("cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)")

// humanizeTypeError rewrites a yaml.v3 type error without Go type names:
// `want a whole number, got "abc"`.
func humanizeTypeError(m string) string {
	sm := typeErrRe.FindStringSubmatch(m)
	if sm == nil {
		return m
	}
	got := map[string]string{"seq": "a list", "map": "a mapping", "null": "nothing"}[sm[1]]
	if got == "" {
		got = fmt.Sprintf("%q", sm[2])
	}
	return fmt.Sprintf("want %s, got %s", describeGoType(sm[3]), got)
}

func describeGoType(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "config."):
		return "a mapping of keys"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a text value"
	}
	return "another kind of value"
}

// parserProblems are yaml.v3 parser (not scanner) messages; for these its
// "line N" is zero-based (it reports the context mark without adding one),
// and a problem on the first line carries no line at all.
var parserProblems = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// syntaxProblem turns a yaml.v3 syntax error into the line it is on (1-based,
// within the file) and a message without the "yaml: line N:" prefix.
func syntaxProblem(data []byte, err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := lineFromYAMLError(msg)
	msg = stripLinePrefix(msg)
	for _, p := range parserProblems {
		if strings.HasPrefix(msg, p) {
			line++ // zero-based, or absent (the first line)
			break
		}
	}
	if line == 0 {
		line = 1 // no line given: yaml.v3 omits line 0, the first line
	}
	// A tab in the indentation: yaml.v3 may point at the line before it, or
	// give no line; point at the first indenting tab.
	if l := firstTabIndentLine(data); l > 0 && (strings.Contains(msg, "tab") ||
		(strings.Contains(msg, "cannot start any token") && l == line)) {
		line = l
		msg += " (tabs are not allowed for indentation; use spaces)"
	}
	if n := countLines(data); n > 0 && line > n {
		line = n // end of stream: the last line
	}
	return line, "YAML syntax error: " + msg
}

func firstTabIndentLine(data []byte) int {
	for i, l := range strings.Split(string(data), "\n") {
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if strings.Contains(indent, "\t") {
			return i + 1
		}
	}
	return 0
}

func countLines(data []byte) int {
	s := strings.TrimRight(string(data), "\n")
	if s == "" {
		return 0
	}
	return strings.Count(s, "\n") + 1
}
