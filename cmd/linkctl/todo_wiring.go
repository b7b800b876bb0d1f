package main

import (
	"errors"
	"io"
)

// demoSIP is replaced when the SIP scenarios land.
func demoSIP(stdout, stderr io.Writer, db, level string) error {
	return errors.New("demo -sip: not wired yet")
}
