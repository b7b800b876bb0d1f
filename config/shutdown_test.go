package config

import (
	"errors"
	"testing"
	"time"
)

func TestShutdownConfig(t *testing.T) {
	tests := []struct {
		name      string
		yml       string
		wantDrain time.Duration
		wantKey   string // "" = valid
		wantLine  int
	}{
		{"defaults", "log:\n  level: info\n", 30 * time.Second, "", 0},
		{"drain zero ends calls at once", "shutdown:\n  drain_timeout: 0s\n", 0, "", 0},
		{"custom", "shutdown:\n  drain_timeout: 2m\n  hangup_grace: 3s\n  retry_after: 10s\n", 2 * time.Minute, "", 0},
		{"negative drain", "shutdown:\n  drain_timeout: -1s\n", 0, "shutdown.drain_timeout", 2},
		{"drain too long", "shutdown:\n  drain_timeout: 2h\n", 0, "shutdown.drain_timeout", 2},
		{"grace zero", "shutdown:\n  hangup_grace: 0s\n", 0, "shutdown.hangup_grace", 2},
		{"retry after below a second", "shutdown:\n  retry_after: 500ms\n", 0, "shutdown.retry_after", 2},
		{"unknown key", "shutdown:\n  drain: 1s\n", 0, "shutdown.drain", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("x.yaml", []byte(tc.yml))
			if tc.wantKey == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if got := c.Shutdown.DrainTimeout.D(); got != tc.wantDrain {
					t.Fatalf("drain_timeout = %s, want %s", got, tc.wantDrain)
				}
				return
			}
			var ps Problems
			if !errors.As(err, &ps) || len(ps) != 1 {
				t.Fatalf("want one problem at %s, got %v", tc.wantKey, err)
			}
			if ps[0].Key != tc.wantKey || ps[0].Line != tc.wantLine {
				t.Fatalf("problem = %+v, want key %s line %d", ps[0], tc.wantKey, tc.wantLine)
			}
		})
	}
}
