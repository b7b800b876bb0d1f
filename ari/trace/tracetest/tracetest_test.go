package tracetest

import (
	"fmt"
	"testing"

	"linkctl/ari/trace"
)

// recorder is a testing.TB that records how Need ended.
type recorder struct {
	testing.TB
	ended string // "fatal", "skip" or ""
	logs  []string
}

type stop struct{}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, a ...any) {
	r.ended = "fatal"
	panic(stop{})
}
func (r *recorder) Skipf(format string, a ...any) {
	r.ended = "skip"
	panic(stop{})
}
func (r *recorder) Logf(format string, a ...any) { r.logs = append(r.logs, fmt.Sprintf(format, a...)) }

func run(tb testing.TB, find func() (string, error)) (r *recorder, dir string) {
	r = &recorder{TB: tb}
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(stop); !ok {
				panic(p)
			}
		}
	}()
	return r, Need(r, find)
}

func TestNeed(t *testing.T) {
	missing := func() (string, error) { return "", fmt.Errorf("no traces: %w", trace.ErrNoShared) }
	found := func() (string, error) { return "/x/shared/asterisk/traces", nil }
	tests := []struct {
		name, require string
		find          func() (string, error)
		wantEnd       string
		wantDir       string
	}{
		{"missing, not required: skip", "", missing, "skip", ""},
		{"missing, required: fail", "1", missing, "fatal", ""},
		{"found, required", "1", found, "", "/x/shared/asterisk/traces"},
		{"found", "", found, "", "/x/shared/asterisk/traces"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(trace.EnvRequireShared, tc.require)
			r, dir := run(t, tc.find)
			if r.ended != tc.wantEnd || dir != tc.wantDir {
				t.Fatalf("ended %q dir %q; want %q %q", r.ended, dir, tc.wantEnd, tc.wantDir)
			}
			if tc.wantDir != "" && (len(r.logs) != 1 || r.logs[0] != "shared files from "+tc.wantDir) {
				t.Errorf("logs %q do not name the folder used", r.logs)
			}
		})
	}
}
