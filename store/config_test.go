package store

import (
	"errors"
	"strings"
	"testing"

	"linkctl/config"
)

func TestStoreConfigValidation(t *testing.T) {
	t.Setenv("LINKCTL_TEST_SECRET", "from-env")
	tests := []struct {
		name    string
		yaml    string
		wantKey string // "" = valid
		line    int
	}{
		{"defaults", "", "", 0},
		{"postgres by dsn", "store:\n  dsn: postgres://u@127.0.0.1/db\n", "", 0},
		{"unknown driver", "store:\n  driver: mysql\n", "store.driver", 2},
		{"postgres without dsn", "store:\n  driver: postgres\n", "store.dsn", 0},
		{"empty env dsn", "store:\n  dsn: ${LINKCTL_NOPE_DSN}\n", "store.dsn", 2},
		{"secret from env", "store:\n  ticket_systems:\n    - platform: \"12345\"\n      url: http://127.0.0.1:9/t\n      secret: ${LINKCTL_TEST_SECRET}\n", "", 0},
		{"bad platform", "store:\n  ticket_systems:\n    - platform: \"120\"\n      url: http://127.0.0.1:9/t\n      secret: k\n", "store.ticket_systems[0].platform", 3},
		{"bad url", "store:\n  ticket_systems:\n    - platform: \"110\"\n      url: ftp://x\n      secret: k\n", "store.ticket_systems[0].url", 4},
		{"missing secret", "store:\n  ticket_systems:\n    - platform: \"110\"\n      url: http://127.0.0.1:9/t\n", "store.ticket_systems[0].secret", 0},
		{"duplicate name", "store:\n  ticket_systems:\n    - platform: \"110\"\n      url: http://127.0.0.1:9/a\n      secret: k\n    - platform: \"110\"\n      url: http://127.0.0.1:9/b\n      secret: k\n", "store.ticket_systems[1].name", 0},
		{"bad backoff", "store:\n  outbox:\n    backoff_min: 1m\n    backoff_max: 1s\n", "store.outbox.backoff_min", 3},
		{"fields without id", "store:\n  confidentiality:\n    record_fields_12345: [state]\n", "store.confidentiality.record_fields_12345", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("linkctl.yaml", []byte(tc.yaml))
			if tc.wantKey == "" {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				for _, ts := range c.Store.TicketSystems {
					if ts.Name != ts.Platform || ts.Timeout <= 0 || ts.SecretValue() != "from-env" {
						t.Fatalf("ticket system defaults: %+v", ts)
					}
				}
				return
			}
			var ps config.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err %v, want config.Problems", err)
			}
			for _, p := range ps {
				if p.Key == tc.wantKey && (tc.line == 0 || p.Line == tc.line) {
					return
				}
			}
			t.Fatalf("problems %v, want key %s at line %d", err, tc.wantKey, tc.line)
		})
	}
	if d := config.Default().Store; d.EffectiveDriver() != "sqlite" || d.Path != "linkctl.db" ||
		!strings.Contains(strings.Join(d.Confidentiality.RestrictedFlags, ","), "重大敏感") {
		t.Fatalf("defaults: %+v", d)
	}
}
