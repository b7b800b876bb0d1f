package config

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// builtinMatters is the policy's transfer matters list (../shared/matters/matters.tsv),
// shipped so that a fresh machine runs with no extra files.
//
//go:embed matters.tsv
var builtinMatters []byte

// Matter is one row of the transfer matters list: a kind of matter and the
// direction in which it is handed over.
type Matter struct {
	Direction   string // "12345->110" or "110->12345"
	Category    string // 大类, e.g. 社会治安类
	Subcategory string // 小类, e.g. 盗砸抢骗
	Description string
	Line        int
}

// Name is the category as used in requests and headers: "大类/小类".
func (m Matter) Name() string { return m.Category + "/" + m.Subcategory }

// Matters is the loaded list, indexed by direction.
type Matters struct {
	Source string
	Rows   []Matter
	byDir  map[string]map[string]Matter
}

// Directions accepted in the matters list.
var matterDirections = []string{"12345->110", "110->12345"}

// LoadMatters reads a matters TSV file; "" loads the built-in list.
func LoadMatters(path string) (*Matters, error) {
	if path == "" {
		return ParseMatters("builtin:matters.tsv", builtinMatters)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read matters list: %w", err)
	}
	return ParseMatters(path, data)
}

// ParseMatters parses the TSV (header line: direction, category, subcategory,
// description). Every bad row is reported with its line.
func ParseMatters(source string, data []byte) (*Matters, error) {
	m := &Matters{Source: source, byDir: map[string]map[string]Matter{}}
	var ps Problems
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	header := true
	for i, raw := range lines {
		ln := i + 1
		if strings.TrimSpace(raw) == "" || strings.HasPrefix(raw, "#") {
			continue
		}
		f := strings.Split(raw, "\t")
		if header {
			header = false
			if len(f) >= 2 && strings.TrimSpace(f[0]) == "direction" {
				continue
			}
		}
		if len(f) < 3 {
			ps = append(ps, Problem{File: source, Line: ln, Key: "row", Msg: fmt.Sprintf("want 4 tab-separated fields (direction, category, subcategory, description), got %d", len(f))})
			continue
		}
		row := Matter{Direction: strings.TrimSpace(f[0]), Category: strings.TrimSpace(f[1]), Subcategory: strings.TrimSpace(f[2]), Line: ln}
		if len(f) > 3 {
			row.Description = strings.TrimSpace(f[3])
		}
		if row.Direction != matterDirections[0] && row.Direction != matterDirections[1] {
			ps = append(ps, Problem{File: source, Line: ln, Key: "direction", Msg: fmt.Sprintf("%q is not a direction (want %s)", row.Direction, strings.Join(matterDirections, " or "))})
			continue
		}
		if row.Category == "" || row.Subcategory == "" {
			ps = append(ps, Problem{File: source, Line: ln, Key: "category", Msg: "category and subcategory must not be empty"})
			continue
		}
		d := m.byDir[row.Direction]
		if d == nil {
			d = map[string]Matter{}
			m.byDir[row.Direction] = d
		}
		// The policy lists some names twice with different descriptions (其他/其他):
		// both rows stay; only an exact repeat is a mistake.
		if prev, dup := d[row.Name()]; dup && prev.Description == row.Description {
			ps = append(ps, Problem{File: source, Line: ln, Key: "category", Msg: fmt.Sprintf("%s %s repeats line %d", row.Direction, row.Name(), prev.Line)})
			continue
		} else if !dup {
			d[row.Name()] = row
		}
		m.Rows = append(m.Rows, row)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	if len(m.Rows) == 0 {
		return nil, Problems{{File: source, Key: "rows", Msg: "matters list is empty"}}
	}
	return m, nil
}

// ErrUnknownCategory is returned (wrapped) when a category is not valid for a direction.
var ErrUnknownCategory = errors.New("category not in the matters list for this direction")

// Lookup finds a category for a direction. name may be "大类/小类" or just "小类"
// (when unambiguous) or just "大类" (which then matches the first row of that 大类).
func (m *Matters) Lookup(direction, name string) (Matter, error) {
	d := m.byDir[direction]
	if row, ok := d[name]; ok {
		return row, nil
	}
	var hits []Matter
	for _, row := range m.Rows {
		if row.Direction == direction && (row.Subcategory == name || row.Category == name) {
			hits = append(hits, row)
		}
	}
	if len(hits) == 1 || (len(hits) > 1 && hits[0].Category == name) {
		return hits[0], nil
	}
	return Matter{}, fmt.Errorf("%w: %q is not a %s matter; valid: %s", ErrUnknownCategory, name, direction, strings.Join(m.Names(direction), ", "))
}

// Names lists the "大类/小类" names valid for a direction, in file order.
func (m *Matters) Names(direction string) []string {
	var out []string
	seen := map[string]bool{}
	for _, row := range m.Rows {
		if row.Direction == direction && !seen[row.Name()] {
			seen[row.Name()] = true
			out = append(out, row.Name())
		}
	}
	return out
}

// Count returns the number of rows per direction.
func (m *Matters) Count() map[string]int {
	out := map[string]int{}
	for _, row := range m.Rows {
		out[row.Direction]++
	}
	return out
}

// Categories returns the distinct 大类 of a direction, sorted.
func (m *Matters) Categories(direction string) []string {
	seen := map[string]bool{}
	var out []string
	for _, row := range m.Rows {
		if row.Direction == direction && !seen[row.Category] {
			seen[row.Category] = true
			out = append(out, row.Category)
		}
	}
	sort.Strings(out)
	return out
}

func asProblems(err error, ps *Problems) bool { return errors.As(err, ps) }
