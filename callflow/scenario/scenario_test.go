package scenario

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"
)

// TestScenarios runs every demo scenario over real ARI against the embedded switch.
func TestScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenarios skipped in -short mode")
	}
	ctx := context.Background()
	env, err := Start(ctx, nil, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	for _, sc := range All() {
		t.Run(sc.Name, func(t *testing.T) {
			res := Run(ctx, env, sc)
			var buf bytes.Buffer
			Print(&buf, res)
			t.Log("\n" + buf.String())
			if !res.Pass {
				t.Errorf("%s failed: %v", sc.Name, res.Failures)
			}
		})
	}
}

func TestRestartDuringTransfer(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenarios skipped in -short mode")
	}
	ctx := context.Background()
	env, err := Start(ctx, nil, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	res := Run(ctx, env, RestartDuringTransfer())
	var buf bytes.Buffer
	Print(&buf, res)
	t.Log("\n" + buf.String())
	if !res.Pass {
		t.Errorf("failed: %v", res.Failures)
	}
}

func TestRunDemoPrintsOneLinePerScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenarios skipped in -short mode")
	}
	var buf bytes.Buffer
	ok, err := RunDemo(context.Background(), &buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, sc := range All() {
		if !strings.Contains(out, sc.Name) {
			t.Errorf("no line for %s", sc.Name)
		}
	}
	if !ok || strings.Count(out, " PASS\n") < 2*len(All()) || strings.Contains(out, "FAIL") {
		t.Errorf("demo did not pass:\n%s", out)
	}
}
