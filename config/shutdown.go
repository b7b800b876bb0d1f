package config

import "fmt"

// ShutdownConfig is what linkctl does with live calls when it is told to stop.
// It matters only to a process that owns the embedded switch (linkctl serve with
// ari.embedded: true, and linkctl switch): there the calls die with the process,
// so SIGTERM drains them and SIGINT ends them. A controller on an external switch
// (Asterisk, or linkctl switch) leaves calls up for a restarted controller to adopt.
type ShutdownConfig struct {
	// DrainTimeout is how long SIGTERM lets live calls go on while no new call is
	// taken; the calls still up then are hung up with cause 16 (normal clearing).
	DrainTimeout Duration `yaml:"drain_timeout"`
	// HangupGrace bounds the wait, after the hang-up, for every BYE/CANCEL to be
	// answered and every call record to be closed before ARI, SIP and the store close.
	HangupGrace Duration `yaml:"hangup_grace"`
	// RetryAfter is the Retry-After sent with the 503 that refuses a new SIP call
	// during the drain (whole seconds).
	RetryAfter Duration `yaml:"retry_after"`
}

func (c *ShutdownConfig) setDefaults() {
	c.DrainTimeout = Duration(30e9)
	c.HangupGrace = Duration(5e9)
	c.RetryAfter = Duration(60e9)
}

func (c *ShutdownConfig) validate(v *validator) {
	if c.DrainTimeout < 0 {
		v.add("shutdown.drain_timeout", "must not be negative (0 ends calls at once on SIGTERM), e.g. 30s")
	}
	if c.DrainTimeout.D().Hours() > 1 {
		v.add("shutdown.drain_timeout", fmt.Sprintf("%s is too long (at most 1h)", c.DrainTimeout.D()))
	}
	if c.HangupGrace <= 0 {
		v.add("shutdown.hangup_grace", "must be positive, e.g. 5s")
	}
	if c.HangupGrace.D().Minutes() > 1 {
		v.add("shutdown.hangup_grace", fmt.Sprintf("%s is too long (at most 1m)", c.HangupGrace.D()))
	}
	if c.RetryAfter.D().Seconds() < 1 {
		v.add("shutdown.retry_after", "must be at least 1s")
	}
}
