package main

import (
	"os"
	"testing"
)

// TestMain sets the split examples' ${LINKCTL_ARI_PASSWORD} for the tests that
// load them in this process: the config check refuses a ${NAME} secret whose
// variable is unset (D11). Child processes get it explicitly (newProc).
func TestMain(m *testing.M) {
	if os.Getenv("LINKCTL_ARI_PASSWORD") == "" {
		os.Setenv("LINKCTL_ARI_PASSWORD", testARIPassword)
	}
	os.Exit(m.Run())
}
