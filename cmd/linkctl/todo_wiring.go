package main

import (
	"errors"
	"io"
)

// Placeholders replaced as the packages they wire land.
func cmdCalls(args []string, stdout io.Writer) error         { return errors.New("calls: not wired yet") }
func cmdBench(args []string, stdout, stderr io.Writer) error { return errors.New("bench: not wired yet") }
func demoSIP(stdout, stderr io.Writer, db, level string) error {
	return errors.New("demo -sip: not wired yet")
}
