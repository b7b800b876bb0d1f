// Package sipcause is the one map between SIP final status codes, Q.850 hangup
// causes and the cause_txt strings ARI shows in ChannelDestroyed, shaped after
// what Asterisk 22's chan_pjsip does on the wire (see the t05, t13 and t15
// traces under ../shared/asterisk beside the clone).
//
// It only translates numbers and Reason headers; it must not know about
// dialogs, channels or transports.
package sipcause
