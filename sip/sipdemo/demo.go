package sipdemo

import (
	"context"
	"fmt"
	"io"

	"linkctl/callflow/scenario"
)

// RunAll runs every scenario on env in order, printing each one's call
// timelines, notes and PASS/FAIL line (scenario.Print) as it finishes.
func RunAll(ctx context.Context, env *Env, w io.Writer) []scenario.Result {
	fmt.Fprintf(w, "linkctl demo -sip: embedded switch at %s, SIP on udp %s, phones: citizen %v Hz, %s %v Hz, %s %v Hz, %s %v Hz\n\n",
		env.Switch.URL, env.SIP.UDPAddr(), ToneCitizen, Agent12345, Tone12345, Agent110, Tone110, Emergency, ToneEmergency)
	results := make([]scenario.Result, 0, len(All()))
	for _, sc := range All() {
		if ctx.Err() != nil {
			break
		}
		res := Run(ctx, env, sc)
		scenario.Print(w, res)
		fmt.Fprintln(w)
		results = append(results, res)
	}
	return results
}
