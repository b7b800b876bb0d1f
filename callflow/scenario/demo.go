package scenario

import (
	"context"
	"fmt"
	"io"

	"go.uber.org/zap"
)

// RunDemo is `linkctl demo`: it starts the embedded switch and the controller, runs
// every scenario, prints each call's leg timeline and one PASS/FAIL line per
// scenario, and reports whether all passed (cmd exits non-zero otherwise).
func RunDemo(ctx context.Context, w io.Writer, log *zap.Logger) (bool, error) {
	env, err := Start(ctx, nil, log)
	if err != nil {
		return false, err
	}
	defer env.Close()
	fmt.Fprintf(w, "linkctl demo: embedded switch at %s, controller app %q\n\n", env.Switch.URL, env.Config.ARI.Application)
	var results []Result
	for _, sc := range All() {
		res := Run(ctx, env, sc)
		Print(w, res)
		fmt.Fprintln(w)
		results = append(results, res)
	}
	pass := 0
	for _, r := range results {
		if r.Pass {
			pass++
		}
	}
	fmt.Fprintln(w, "--- summary")
	for _, r := range results {
		verdict := "PASS"
		if !r.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "%-45s %s\n", r.Name, verdict)
	}
	fmt.Fprintf(w, "%d/%d scenarios passed\n", pass, len(results))
	return pass == len(results), nil
}
