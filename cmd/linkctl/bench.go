package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"linkctl/callflow/scenario"
)

// cmdBench runs N concurrent citizen calls through the embedded switch over ARI,
// each with a one-key transfer, and prints latency, rate and memory per call.
func cmdBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", stderr)
	n := fs.Int("calls", 1000, "concurrent citizen calls")
	rate := fs.Float64("rate", 0, "transfers offered per second (0: all at once)")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if *n < 1 || *n > 20000 {
		return usageError(fmt.Sprintf("-calls %d: want 1 .. 20000", *n))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := scenario.Bench(ctx, *n, *rate, zap.NewNop())
	if err != nil {
		return err
	}
	scenario.PrintBench(stdout, res)
	return nil
}
