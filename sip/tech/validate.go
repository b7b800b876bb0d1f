package tech

import (
	"fmt"

	"github.com/emiago/sipgo/sip"
)

// checkRequest is the validation every inbound request passes before its
// method's handler runs (track calls it). It returns nil when the request may
// go on, or why it is malformed; the caller answers 400 (ACK gets no answer).
func checkRequest(req *sip.Request) error {
	cseq := req.CSeq()
	if cseq == nil {
		return nil // each handler decides whether it needs one (vetInvite answers 400)
	}
	// RFC 3261 8.2.2/20.16: the CSeq method must match the request method.
	if cseq.MethodName != req.Method {
		return fmt.Errorf("CSeq method %s does not match request method %s", cseq.MethodName, req.Method)
	}
	return nil
}
