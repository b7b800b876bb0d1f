package main

import (
	"errors"
	"io"
)

// Placeholders replaced as the packages they wire land.
func cmdDemo(args []string, stdout, stderr io.Writer) error { return errors.New("demo: not wired yet") }
func cmdServe(args []string, stdout, stderr io.Writer) error {
	return errors.New("serve: not wired yet")
}
func cmdCalls(args []string, stdout io.Writer) error { return errors.New("calls: not wired yet") }
func cmdBench(args []string, stdout, stderr io.Writer) error {
	return errors.New("bench: not wired yet")
}
