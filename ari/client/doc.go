// Package client is the ARI adapter of the controller: it implements callflow.PBX
// against Asterisk 22 (or linkctl's embedded switch) over ARI HTTP + WebSocket.
//
// It uses github.com/CyCoreSystems/ari/v5 for what that library does well — its
// request and data types (ari.OriginateRequest, ari.ChannelData, ari.BridgeData)
// and its event decoder (ari.DecodeEvent) — and extends around it where v5.3.1
// falls short for a controller that must not lose a citizen's call:
//
//   - every REST call runs under a context with the ari.request_timeout deadline
//     (the library's native client takes no context and never times out);
//   - ARI error answers become typed errors callflow understands (404 channel gone,
//     409 conflict, 422 not in Stasis, 500 Allocation failed, 500 unreadable header),
//     keeping the PBX's message (the library drops the body);
//   - the event WebSocket is owned here: reconnect with exponential backoff and
//     jitter (not a fixed 1 s), a callflow.Connected event after every (re)connect so
//     the controller reconciles what it missed, logging through zap (never log15);
//   - ChannelTransfer (Asterisk 22.3+, ari-only transfer handling), which v5.3.1 does
//     not decode, is decoded from the raw JSON here.
//
// It must not hold call state: it translates, and the controller decides.
package client
