package api

import (
	"context"
	"fmt"
)

// ConnectedCheck is ready while connected reports true, e.g. the ARI client's
// Connected (its event websocket is up).
func ConnectedCheck(name string, connected func() bool) ReadyCheck {
	return ReadyCheck{Name: name, Check: func(context.Context) error {
		if !connected() {
			return fmt.Errorf("%s not connected: %w", name, ErrUnavailable)
		}
		return nil
	}}
}

// AnyUpCheck is ready when at least one of the counted things is up, e.g. SIP
// trunks (up, total from the SIP technology's trunk health). With none
// configured (total 0, the embedded Sim-only setup) there is nothing to wait for.
func AnyUpCheck(name string, count func() (up, total int)) ReadyCheck {
	return ReadyCheck{Name: name, Check: func(context.Context) error {
		up, total := count()
		if total > 0 && up == 0 {
			return fmt.Errorf("%s: none of %d up: %w", name, total, ErrUnavailable)
		}
		return nil
	}}
}
