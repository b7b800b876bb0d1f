package tech

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrUserToUser reports a User-to-User header value that cannot be decoded.
var ErrUserToUser = errors.New("invalid User-to-User header")

// maxUUIBytes bounds decoded User-to-User data (RFC 7433 suggests 128 octets
// for ISDN interworking; we accept a generous multiple and no more).
const maxUUIBytes = 1024

// ParseUserToUser decodes a User-to-User header value (RFC 7433), e.g.
// "47442D323032362D303030313233;encoding=hex" -> "GD-2026-000123". A value
// without an encoding parameter is taken as hex too (the RFC default).
// Other encodings are returned verbatim.
func ParseUserToUser(v string) ([]byte, error) {
	data, params, _ := strings.Cut(strings.TrimSpace(v), ";")
	data = strings.TrimSpace(data)
	encoding := "hex"
	for _, p := range strings.Split(params, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "encoding") {
			encoding = strings.ToLower(strings.Trim(strings.TrimSpace(val), `"`))
		}
	}
	if data == "" {
		return nil, fmt.Errorf("%w: no data", ErrUserToUser)
	}
	if encoding != "hex" {
		if len(data) > maxUUIBytes {
			return nil, fmt.Errorf("%w: %d bytes is too long", ErrUserToUser, len(data))
		}
		return []byte(data), nil
	}
	if len(data) > 2*maxUUIBytes {
		return nil, fmt.Errorf("%w: %d hex digits is too long", ErrUserToUser, len(data))
	}
	out, err := hex.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUserToUser, err)
	}
	return out, nil
}

// FormatUserToUser encodes data as a User-to-User header value the way the
// traces show it: upper-case hex and ";encoding=hex".
func FormatUserToUser(data []byte) string {
	return strings.ToUpper(hex.EncodeToString(data)) + ";encoding=hex"
}
