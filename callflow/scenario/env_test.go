package scenario

import (
	"context"
	"testing"

	"go.uber.org/zap/zaptest"

	"linkctl/config"
)

// startEnv starts the embedded switch, the ARI adapter and the controller for an
// end-to-end test (cfg nil: Config()), skipped in -short mode and closed at cleanup.
func startEnv(t *testing.T, cfg *config.Config) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end scenarios skipped in -short mode")
	}
	env, err := Start(context.Background(), cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	return env
}
