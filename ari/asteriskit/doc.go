// Package asteriskit is linkctl's integration suite against a real Asterisk 22.
//
// It only has tests, and they run only when LINKCTL_ASTERISK_ARI_URL names an
// ARI server (e.g. http://127.0.0.1:8088/ari; see docker/ for one); otherwise
// every test skips with a message saying what to set. The tests make the ARI
// calls linkctl's controller makes (originate and bridges with ids chosen by
// the client, hangups with reasons, PJSIP_HEADER, error answers, websocket
// reconnects) and check that Asterisk answers them the way the recorded
// traces in ../shared/asterisk/traces say, so a new Asterisk release, or a
// site's configuration, that breaks linkctl's assumptions is caught before
// production.
//
// Environment:
//
//	LINKCTL_ASTERISK_ARI_URL          ARI base URL (required to run)
//	LINKCTL_ASTERISK_ARI_USER         ARI user (default linkctl)
//	LINKCTL_ASTERISK_ARI_PASSWORD     ARI password (required to run)
//	LINKCTL_ASTERISK_ARI_APP          Stasis app the tests register (default linkctl-it;
//	                                  never the production app name, or live calls would be taken)
//	LINKCTL_ASTERISK_ANSWER_ENDPOINT  an endpoint that answers at once
//	                                  (default Local/600@from-agents, the echo test of docker/)
//	LINKCTL_ASTERISK_SIP_ENDPOINT     optional PJSIP endpoint that auto-answers (e.g. a softphone or
//	                                  sipp UAS as PJSIP/a12345-1001): enables the PJSIP-only checks
//
// The SIP scenario (TestOneKeyTransferOverSIP) also needs
// LINKCTL_ASTERISK_SCENARIOS=1 and phone accounts; see scenario_test.go.
//
// LINKCTL_ASTERISKIT_EMBEDDED=1 (without LINKCTL_ASTERISK_ARI_URL) runs the
// whole suite against linkctl's embedded switch and its SIP technology
// instead: a check of the suite itself and a conformance run of the switch.
//
// The tests create only channels and bridges whose ids start with "lkit-" and
// remove them when they end.
package asteriskit
