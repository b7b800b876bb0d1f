// Package tech is the embedded switch's SIP channel technology: it speaks SIP
// (github.com/emiago/sipgo) to agent phones and to trunk peers and drives the
// switch's channels through the engine.Technology / engine.ChannelControl
// contract, so that "PJSIP/a110-2001" dial strings behave as they do on
// Asterisk 22's chan_pjsip (ground truth: ../shared/asterisk/traces beside the clone).
//
// What it does:
//   - UDP and TCP listeners (sip.listen_udp / sip.listen_tcp);
//   - REGISTER with digest authentication (MD5, qop=auth, stateless HMAC
//     nonces) for the configured accounts; one contact per account; an
//     expired registration makes the endpoint offline and undialable;
//   - static trunk peers, identified by source address, dialled as
//     "PJSIP/<number>@<trunk>", answering digest challenges, probed with
//     OPTIONS (any answer = up; PlatformReachable for the controller);
//   - inbound INVITEs: 100 Trying at once, routed by Request-URI user to the
//     engine's InboundRouter with every header (PJSIP_HEADER(read,...)),
//     then 180/183/200 as the engine drives; rejections, CANCEL and BYE carry
//     "Reason: Q.850;cause=N" with the status from package sipcause;
//   - outbound INVITEs with PJSIP_HEADER(add,...) headers in order
//     (User-to-User passes verbatim; ParseUserToUser/FormatUserToUser for the
//     hex form); 1xx -> Ringing, 2xx -> ACK + Answered, 4xx-6xx -> Hangup with
//     the mapped cause, timer B -> 18; CANCEL only after a provisional, as
//     RFC 3261 and chan_pjsip do;
//   - re-INVITE hold (sendonly/inactive/c=0.0.0.0) and unhold; Record-Route
//     route sets; Via with rport;
//   - DTMF from RFC 4733 (through the media session) and SIP INFO
//     (application/dtmf-relay, application/dtmf); ARI DTMF out as RFC 4733 or
//     INFO per endpoint dtmf_mode;
//   - REFER answered 202 and reported as ctl.TransferRequested, with NOTIFY
//     message/sipfrag progress as Asterisk sends it under
//     PJSIP_TRANSFER_HANDLING(ari-only) (trace t14);
//   - shutdown: a switch that is draining rejects new INVITEs with 503 and
//     the engine's Retry-After; Shutdown/Close end every dialog still live
//     with cause 16 (BYE if answered, CANCEL if our INVITE rang, 503 to an
//     INVITE not yet answered) and wait, bounded, for the far ends' answers
//     before the transport closes, so no peer is left in dead air.
//
// Wiring: tech.Attach(ctx, engine, cfg.SIP, log) builds it with real RTP
// (package sip/media), registers it and starts it.
//
// What it must not do: speak ARI, keep channel state the engine owns, or mix
// audio. RTP lives behind the MediaSession interface.
package tech
