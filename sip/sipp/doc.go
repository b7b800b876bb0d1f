// Package sipp proves interoperability with a SIP stack linkctl did not write:
// sipp (Debian package sip-tester) plays the citizen (UAC calling 12345) and the
// agents (UAS registered with digest auth) against the embedded switch, the
// 12345 agent pressing the *1 softkey as RFC 2833 telephone-events replayed
// from a pcap, the 110 agent checking the X-Linkage-* headers of its INVITE.
// The scenario XML and the DTMF pcaps live in testdata/; DTMFPcap generates the
// pcaps. bench.sh drives `linkctl serve` with the same scenarios under load.
//
// Tests skip with a message when sipp is absent, unless LINKCTL_REQUIRE_SIPP is
// set (CI sets it). sipp only ever binds 127.0.0.1 and is killed at test end.
package sipp
