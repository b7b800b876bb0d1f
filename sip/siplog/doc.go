// Package siplog routes the log/slog output of sipgo (and anything else that logs
// through slog) into zap, so the SIP stack never prints on its own. sipgo logs
// routine transaction chatter at info: it is demoted to debug here.
//
// What sipgo logs can come straight from the network (a malformed datagram is
// logged with its raw bytes), so the bridge bounds it: string, []byte and error
// values longer than Options.MaxValueBytes are cut (the original length goes in a
// KEY_len field), and a warn/error message repeated more than Options.Burst times
// per Options.Window is dropped and reported once, with the count, when the window
// ends. It must not block or allocate per dropped record beyond a map lookup.
package siplog
