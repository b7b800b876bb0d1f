// Package tech is the embedded switch's SIP channel technology: it speaks SIP
// (github.com/emiago/sipgo) to agent phones and to trunk peers and drives the
// switch's channels through the engine.Technology / engine.ChannelControl
// contract, so that "PJSIP/a110-2001" dial strings behave as they do on
// Asterisk 22's chan_pjsip (ground truth: /work/shared/asterisk/traces).
//
// What it does: UDP and TCP listeners; REGISTER with digest authentication for
// the configured accounts (an expired registration makes the endpoint
// offline); static trunk peers identified by source address and probed with
// OPTIONS; inbound INVITEs handed to the engine's InboundRouter with every
// header (PJSIP_HEADER(read,...)); outbound INVITEs with PJSIP_HEADER(add,...)
// headers; 100/180/183/200, CANCEL and BYE with "Reason: Q.850;cause=N";
// re-INVITE hold/unhold; DTMF from RFC 4733 (via the media session) and SIP
// INFO; REFER answered 202 and reported as a transfer request, with NOTIFY
// message/sipfrag progress sent back as Asterisk does under
// PJSIP_TRANSFER_HANDLING(ari-only).
//
// What it must not do: speak ARI, keep channel state the engine owns, or mix
// audio. RTP lives behind the MediaSession interface (package sip/media).
package tech
