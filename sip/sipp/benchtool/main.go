// Command benchtool is the helper of sip/sipp/bench.sh:
//
//	benchtool tone-pcap -o tone.pcap -hz 1000 -seconds 10   write the citizens' tone as a pcap for sipp
//	benchtool count -listen 127.0.0.1:27000 -out counts.txt   count the RTP the switch sends the agents until SIGTERM
//
// It is benchmark tooling, loopback only; nothing in linkctl imports it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"linkctl/sip/sipp"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: benchtool tone-pcap|count [flags]")
	}
	switch args[0] {
	case "tone-pcap":
		fs := flag.NewFlagSet("tone-pcap", flag.ContinueOnError)
		out := fs.String("o", "tone.pcap", "output file")
		hz := fs.Float64("hz", 1000, "tone frequency")
		secs := fs.Int("seconds", 10, "length")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		data, err := sipp.TonePcap(*hz, *secs)
		if err != nil {
			return err
		}
		return os.WriteFile(*out, data, 0o644)
	case "count":
		fs := flag.NewFlagSet("count", flag.ContinueOnError)
		listen := fs.String("listen", "127.0.0.1:27000", "UDP address the agents' SDP names")
		out := fs.String("out", "", "file the final counts are written to (default stdout)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		c, err := sipp.NewRTPCounter(ctx, *listen)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "benchtool: counting RTP on %s\n", c.Addr())
		<-c.Done()
		line := c.Counts().String() + "\n"
		if *out == "" {
			_, err = os.Stdout.WriteString(line)
			return err
		}
		return os.WriteFile(*out, []byte(line), 0o644)
	}
	return fmt.Errorf("unknown subcommand %q", args[0])
}
