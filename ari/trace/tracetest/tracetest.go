// Package tracetest gives tests the shared folder (Asterisk traces, ARI
// specification, Asterisk configuration) found by package trace, with one
// rule everywhere: when the files are missing a test skips, unless
// LINKCTL_REQUIRE_SHARED=1 (as on CI), where it fails. Each helper logs the
// folder it used, so `go test -v` shows where the ground truth came from.
package tracetest

import (
	"testing"

	"linkctl/ari/trace"
)

// Need returns the folder find locates (trace.Dir, trace.SpecDir, ...),
// skipping tb when it is missing, or failing it when
// LINKCTL_REQUIRE_SHARED=1.
func Need(tb testing.TB, find func() (string, error)) string {
	tb.Helper()
	d, err := find()
	if err != nil {
		if trace.SharedRequired() {
			tb.Fatalf("shared files required (%s=1) but missing: %v", trace.EnvRequireShared, err)
		}
		tb.Skipf("shared files not available: %v", err)
	}
	tb.Logf("shared files from %s", d)
	return d
}

// Traces is the Asterisk traces folder (shared/asterisk/traces).
func Traces(tb testing.TB) string {
	tb.Helper()
	return Need(tb, trace.Dir)
}

// Spec is the ARI specification folder (shared/asterisk/ari-spec).
func Spec(tb testing.TB) string {
	tb.Helper()
	return Need(tb, trace.SpecDir)
}

// Asterisk is the Asterisk ground truth folder (shared/asterisk).
func Asterisk(tb testing.TB) string {
	tb.Helper()
	return Need(tb, trace.AsteriskDir)
}

// Conf is the configuration that loaded on a real Asterisk 22
// (shared/asterisk/conf).
func Conf(tb testing.TB) string {
	tb.Helper()
	return Need(tb, trace.ConfDir)
}
