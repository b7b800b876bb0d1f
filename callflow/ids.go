package callflow

import (
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// Ids. Every id the controller makes (call, agent channel, transfer, playback) is
// the controller's run prefix, a kind letter and a counter: "lk01jeb2m3q8x4m2p9ra-c1".
// The counter starts again at 1 on every start, so the prefix alone must never
// repeat across restarts: it is the start time in milliseconds (10 characters, so
// ids sort by start) and 40 random bits (8 characters), in lowercase Crockford
// base32. Two runs collide only if they start in the same millisecond and draw the
// same 40 bits; a call id taken again would make the store keep the older call's
// higher version and a channel id taken again would be refused by the switch.

// idEncoding is lowercase Crockford base32: no i, l, o, u; sorts like the bytes.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// idRandomBytes is the randomness of a run prefix.
const idRandomBytes = 5

// newIDPrefix makes a run prefix from the start time and rnd.
func newIDPrefix(start time.Time, rnd io.Reader) (string, error) {
	var b [8 + idRandomBytes]byte
	binary.BigEndian.PutUint64(b[:8], uint64(start.UnixMilli())<<16) // the 48 low bits of the time, first
	if _, err := io.ReadFull(rnd, b[6:6+idRandomBytes]); err != nil {
		return "", fmt.Errorf("id prefix: read random: %w", err)
	}
	return "lk" + idEncoding.EncodeToString(b[:6]) + idEncoding.EncodeToString(b[6:6+idRandomBytes]), nil
}

// newID is the next id of a kind ("c" call, "a" agent channel, "t" transfer, "p" playback).
func (c *Controller) newID(kind string) string {
	return fmt.Sprintf("%s-%s%d", c.prefix, kind, c.seq.Add(1))
}
