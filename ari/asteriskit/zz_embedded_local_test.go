package asteriskit

import (
	"context"
	"os"
	"testing"

	"linkctl/ari/embedded"
	"linkctl/config"
)

func TestMain(m *testing.M) {
	if os.Getenv("LKIT_EMBEDDED") == "1" {
		cfg := config.Default()
		cfg.Switch.Listen = "127.0.0.1:0"
		sw, err := embedded.Start(context.Background(), cfg, nil)
		if err != nil {
			panic(err)
		}
		os.Setenv(envURL, sw.URL)
		os.Setenv(envPass, sw.Password)
		os.Setenv(envUser, sw.Username)
		os.Setenv(envAnswer, "Sim/citizen-1")
		code := m.Run()
		sw.Close()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
