package asteriskit

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/zap"

	"linkctl/ari/embedded"
	"linkctl/config"
	"linkctl/sip/tech"
)

// envEmbedded runs the whole suite against linkctl's embedded switch (with
// its PJSIP-compatible SIP technology) instead of a real Asterisk: a check
// of the suite itself, and a conformance run of the switch.
const envEmbedded = "LINKCTL_ASTERISKIT_EMBEDDED"

// TestMain starts the embedded switch when LINKCTL_ASTERISKIT_EMBEDDED=1 and
// no real Asterisk is configured, and points the suite at it.
func TestMain(m *testing.M) {
	if os.Getenv(envEmbedded) == "1" && os.Getenv(envURL) == "" {
		cfg := config.Default()
		cfg.Switch.Listen = "127.0.0.1:0"
		cfg.SIP.ListenUDP = "127.0.0.1:0"
		cfg.SIP.ListenTCP = ""
		for _, a := range []string{"a12345-1002", "a12345-1001", "a110-2001"} {
			p := "12345"
			if a == "a110-2001" {
				p = "110"
			}
			cfg.SIP.Accounts = append(cfg.SIP.Accounts, config.SIPAccount{Username: a, Password: "pw-" + a, Platform: p, AgentID: a})
		}
		ctx := context.Background()
		log := zap.NewNop()
		if os.Getenv("LINKCTL_ASTERISKIT_LOG") == "1" {
			log, _ = zap.NewDevelopment()
		}
		sw, err := embedded.Start(ctx, cfg, log)
		if err != nil {
			fmt.Fprintln(os.Stderr, "embedded switch:", err)
			os.Exit(2)
		}
		tc, err := tech.Attach(ctx, sw.Engine, cfg.SIP, log)
		if err != nil {
			fmt.Fprintln(os.Stderr, "embedded SIP:", err)
			os.Exit(2)
		}
		os.Setenv(envURL, sw.URL)
		os.Setenv(envPass, sw.Password)
		os.Setenv(envUser, sw.Username)
		os.Setenv(envAnswer, "Sim/citizen-1")
		os.Setenv(envScenarios, "1")
		os.Setenv(envRegistrar, tc.UDPAddr().String())
		os.Setenv(envCitizen, "a12345-1002:pw-a12345-1002")
		os.Setenv(envAgent1, "a12345-1001:pw-a12345-1001")
		os.Setenv(envAgent2, "a110-2001:pw-a110-2001")
		code := m.Run()
		tc.Close()
		sw.Close()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
