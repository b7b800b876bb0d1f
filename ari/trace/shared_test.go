package trace

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// mkdirs creates every folder under root.
func mkdirs(t *testing.T, root string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSharedBesideAnyClone: without LINKCTL_SHARED the shared folder is
// found as ../shared beside the clone, from any folder inside the clone,
// wherever the clone lives; with it, only there.
func TestSharedBesideAnyClone(t *testing.T) {
	root := t.TempDir()
	mkdirs(t, root, "linkctl/ari/server", "shared/asterisk/traces", "shared/asterisk/ari-spec", "elsewhere/asterisk/traces")
	if err := os.WriteFile(filepath.Join(root, "linkctl", "go.mod"), []byte("module linkctl\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env, wd string
		find          func() (string, error)
		want          string // "" means an error wrapping ErrNoShared
	}{
		{"traces from a package dir", "", "linkctl/ari/server", Dir, "shared/asterisk/traces"},
		{"spec from the repo root", "", "linkctl", SpecDir, "shared/asterisk/ari-spec"},
		{"conf missing", "", "linkctl", ConfDir, ""},
		{"env wins", "elsewhere", "linkctl", Dir, "elsewhere/asterisk/traces"},
		{"env without spec", "elsewhere", "linkctl", SpecDir, ""},
		{"outside any module", "", "", Dir, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := ""
			if tc.env != "" {
				env = filepath.Join(root, tc.env)
			}
			t.Setenv(EnvShared, env)
			t.Chdir(filepath.Join(root, tc.wd))
			got, err := tc.find()
			if tc.want == "" {
				if err == nil || !errors.Is(err, ErrNoShared) {
					t.Fatalf("got %q, %v; want an error wrapping ErrNoShared", got, err)
				}
				return
			}
			if want := filepath.Join(root, tc.want); err != nil || got != want {
				t.Fatalf("got %q, %v; want %q", got, err, want)
			}
		})
	}
}

// TestDirErrorIsNoTraces: callers matching the older sentinel still do.
func TestDirErrorIsNoTraces(t *testing.T) {
	t.Setenv(EnvShared, t.TempDir())
	if _, err := Dir(); !errors.Is(err, ErrNoTraces) || !errors.Is(err, ErrNoShared) {
		t.Fatalf("Dir() error %v does not wrap ErrNoTraces and ErrNoShared", err)
	}
}

func TestSharedRequired(t *testing.T) {
	for env, want := range map[string]bool{"": false, "0": false, "1": true, "yes": false} {
		t.Setenv(EnvRequireShared, env)
		if got := SharedRequired(); got != want {
			t.Errorf("%s=%q: SharedRequired() = %v, want %v", EnvRequireShared, env, got, want)
		}
	}
}
