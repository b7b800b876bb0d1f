// Package media is the audio toolbox of the embedded switch and of the test phones:
// 20 ms frames of 8 kHz signed 16-bit linear PCM (FrameSamples samples), sources that
// produce them (call-progress tones as in Asterisk's indications.conf, WAV clips,
// generated music on hold), the conference mixer, Goertzel tone detection, G.711
// µ-law/A-law coding, SDP offer/answer (pion/sdp) and RTP sessions with RFC 4733
// DTMF (pion/rtp).
//
// The package knows nothing about SIP dialogs, ARI or channels: callers own the
// media clock and decide what to play where. It never reads files other than the
// WAV a caller names, and it never blocks except in a Session's socket reader.
package media
