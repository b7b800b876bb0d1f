// Package phone provides SIP user agents for tests and the demo: a Phone registers
// (digest auth), places and answers calls, sends its own sine tone continuously
// while in a call, sends DTMF (RFC 4733 or SIP INFO), holds, transfers (REFER, with
// the NOTIFY sipfrags recorded), and reports which tones it heard over time.
//
// Phones are built on sipgo (signalling) and sip/media (SDP, RTP, DSP). A phone is a
// test instrument: it keeps a timeline of what it heard so end-to-end tests can
// assert on real audio ("each party hears the other two and not itself", "never
// more than 1 s of silence"). It is not a general-purpose softphone: one UDP
// listener, no TCP/TLS, no re-registration timer, no early-offer-less INVITEs.
package phone
