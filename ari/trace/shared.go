package trace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Environment variables that locate the shared folder (the Asterisk ground
// truth, policy, matters list) and say whether tests may skip without it.
const (
	// EnvShared names the shared folder; CI exports it (.ci/run).
	EnvShared = "LINKCTL_SHARED"
	// EnvRequireShared=1 makes tests that need shared files fail instead of
	// skipping when they are missing (CI sets it).
	EnvRequireShared = "LINKCTL_REQUIRE_SHARED"
)

// ErrNoShared is returned (wrapped) when a shared file or folder cannot be found.
var ErrNoShared = errors.New("trace: shared folder not found (set " + EnvShared + ")")

// Shared finds elem (a path inside the shared folder, e.g. "asterisk",
// "traces") in $LINKCTL_SHARED when set, otherwise in shared/ beside the
// repository holding the current directory (../shared relative to the
// folder with go.mod, looking up from the working directory, so it works in
// any clone whatever its absolute path). With no elem it returns the shared
// folder itself.
func Shared(elem ...string) (string, error) {
	rel := filepath.Join(elem...)
	if s := os.Getenv(EnvShared); s != "" {
		p := filepath.Join(s, rel)
		if exists(p) {
			return p, nil
		}
		return "", fmt.Errorf("%s=%s has no %s: %w", EnvShared, s, rel, ErrNoShared)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("shared %s: %w", rel, err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if exists(filepath.Join(d, "go.mod")) {
			p := filepath.Join(filepath.Dir(d), "shared", rel)
			if exists(p) {
				return p, nil
			}
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", fmt.Errorf("shared %s beside the repository of %s: %w", rel, wd, ErrNoShared)
}

// AsteriskDir finds the Asterisk 22 ground truth (shared/asterisk).
func AsteriskDir() (string, error) { return Shared("asterisk") }

// Dir finds the traces folder (shared/asterisk/traces); see Shared. Its
// error wraps ErrNoShared (alias ErrNoTraces).
func Dir() (string, error) {
	d, err := Shared("asterisk", "traces")
	if err != nil {
		return "", fmt.Errorf("asterisk traces: %w", err)
	}
	return d, nil
}

// SpecDir finds the ARI specification Asterisk 22 served
// (shared/asterisk/ari-spec/*.json); see Shared.
func SpecDir() (string, error) { return Shared("asterisk", "ari-spec") }

// ConfDir finds the configuration that loaded on a real Asterisk 22
// (shared/asterisk/conf); see Shared.
func ConfDir() (string, error) { return Shared("asterisk", "conf") }

// SharedRequired reports whether LINKCTL_REQUIRE_SHARED=1: a test that needs
// shared files must then fail, not skip, when they are missing.
func SharedRequired() bool { return os.Getenv(EnvRequireShared) == "1" }

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
