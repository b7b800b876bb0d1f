// Package sipdemo runs linkctl's linkage scenarios over real SIP and RTP on
// loopback: the embedded switch with its SIP technology, the controller driving
// it over ARI, and sip/phone test phones registered with digest auth playing the
// citizen and the agents. Each phone sends a tone of its own frequency, so every
// check is about real audio: who hears whom, that a caller in transfer hears the
// announcement and ringback/MOH and never more than 1 s of silence, that after a
// hand-over the citizen hears the 110 agent and no longer the 12345 agent, that in
// a three-way call each party hears the other two and not itself. Softkeys are
// pressed as RFC 4733 DTMF from the agent's phone (or over the controller's
// softkey API, which carries a ticket), the phone's own transfer key is a REFER,
// and the 110 agent's INVITE is checked for the X-Linkage-* and User-to-User
// headers.
//
// `linkctl demo -sip` runs All() and prints each result with scenario.Print; the
// package's tests run the same scenarios. It is test and demo code: it must not
// carry production calls, and it binds only loopback addresses.
package sipdemo
