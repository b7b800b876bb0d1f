// Command linkctl is the 12345 <-> 110 call controller. It only wires the
// packages together: see README.md for what each subcommand does.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"

	"linkctl/config"
)

const usage = `linkctl — 12345 政务服务便民热线 与 110 报警服务台 对接联动呼叫控制器

usage:
  linkctl demo   [-sip] [-db FILE]         run the linkage scenarios on the embedded switch and report PASS/FAIL
  linkctl serve  [-config FILE]            run the controller (embedded switch or Asterisk) and the HTTP API
  linkctl switch [-config FILE] [-no-sip]  run the embedded switch alone (ARI + SIP), for serve with ari.embedded: false
  linkctl config check FILE                validate a configuration file (every error with key and line)
  linkctl config default                   print the built-in configuration as YAML (every key, its default)
  linkctl calls  list|show [ID] [-db FILE] review stored call records
  linkctl bench  [-calls N]                concurrent one-key transfers through ARI: latency, rate, memory
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprint(os.Stderr, usage)
			fmt.Fprintln(os.Stderr, "\nlinkctl:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "linkctl:", err)
		os.Exit(1)
	}
}

type usageError string

func (e usageError) Error() string { return string(e) }

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("no subcommand given")
	}
	switch args[0] {
	case "demo":
		return cmdDemo(args[1:], stdout, stderr)
	case "serve":
		return cmdServe(args[1:], stdout, stderr)
	case "switch":
		return cmdSwitch(args[1:], stdout, stderr)
	case "config":
		return cmdConfig(args[1:], stdout)
	case "calls":
		return cmdCalls(args[1:], stdout, stderr)
	case "bench":
		return cmdBench(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError(fmt.Sprintf("unknown subcommand %q", args[0]))
}

// loadConfig reads FILE, or returns the built-in defaults when path is "".
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		c := config.Default()
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("built-in configuration: %w", err)
		}
		return c, nil
	}
	return config.Load(path)
}

func cmdConfig(args []string, stdout io.Writer) error {
	if len(args) == 1 && args[0] == "default" {
		enc := yaml.NewEncoder(stdout)
		enc.SetIndent(2)
		defer enc.Close()
		return enc.Encode(config.Default())
	}
	if len(args) != 2 || args[0] != "check" {
		return usageError("usage: linkctl config check FILE | linkctl config default")
	}
	c, err := config.Load(args[1])
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			return fmt.Errorf("%d problem(s) in %s:\n%w", len(ps), args[1], err)
		}
		return err
	}
	n := c.Matters.Count()
	fmt.Fprintf(stdout, "%s: OK (matters list %s: %d rows 12345->110, %d rows 110->12345)\n",
		args[1], c.Matters.Source, n["12345->110"], n["110->12345"])
	return nil
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
