package tech

import (
	"strconv"
	"strings"
)

// defaultINFODuration is what Asterisk reports for INFO digits without a
// duration (trace t09: application/dtmf "#" -> duration_ms 100).
const defaultINFODuration = 100

// parseINFODTMF reads a digit from a SIP INFO body:
// application/dtmf-relay ("Signal=*\r\nDuration=250") or application/dtmf ("#").
func parseINFODTMF(contentType string, body []byte) (digit string, durMs int, ok bool) {
	ct, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(contentType)), ";")
	durMs = defaultINFODuration
	switch strings.TrimSpace(ct) {
	case "application/dtmf-relay":
		for _, line := range strings.Split(string(body), "\n") {
			k, v, found := strings.Cut(line, "=")
			if !found {
				continue
			}
			v = strings.TrimSpace(v)
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "signal":
				digit = v
			case "duration":
				if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 60000 {
					durMs = n
				}
			}
		}
	case "application/dtmf":
		digit = strings.TrimSpace(string(body))
	default:
		return "", 0, false
	}
	digit = normalizeDigit(digit)
	return digit, durMs, digit != ""
}

// normalizeDigit accepts 0-9 * # A-D (and RFC 4733 event numbers 10/11 for * and #).
func normalizeDigit(d string) string {
	switch d {
	case "10":
		return "*"
	case "11":
		return "#"
	}
	if len(d) != 1 {
		return ""
	}
	c := d[0]
	switch {
	case c >= '0' && c <= '9', c == '*', c == '#':
		return d
	case c >= 'A' && c <= 'D':
		return d
	case c >= 'a' && c <= 'd':
		return strings.ToUpper(d)
	}
	return ""
}

// dtmfRelayBody is the INFO body we send to info-mode endpoints (trace t09:
// "Signal=1\r\nDuration=120").
func dtmfRelayBody(digit string, durMs int) []byte {
	return []byte("Signal=" + digit + "\r\nDuration=" + strconv.Itoa(durMs) + "\r\n")
}
