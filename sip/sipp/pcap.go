package sipp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"linkctl/sip/media"
)

// DTMF events of RFC 4733 section 3.2, by digit.
var dtmfEvents = map[rune]byte{
	'0': 0, '1': 1, '2': 2, '3': 3, '4': 4, '5': 5, '6': 6, '7': 7, '8': 8, '9': 9,
	'*': 10, '#': 11, 'A': 12, 'B': 13, 'C': 14, 'D': 15,
}

// PcapOptions shape the RTP stream DTMFPcap writes.
type PcapOptions struct {
	PayloadType uint8  // telephone-event payload type (101 when 0)
	SSRC        uint32 // 0x4c4b4354 when 0
	ToneMs      int    // each digit's duration (160 ms when 0)
	GapMs       int    // silence between digits (240 ms when 0)
}

// pcapWriter writes a classic pcap (Ethernet, IPv4, UDP, RTP) as sipp's
// play_pcap_audio replays it: sipp keeps the RTP header and the packet times
// and replaces the addresses with the call's media addresses.
type pcapWriter struct {
	b     bytes.Buffer
	seq   uint16
	clock int64 // microseconds since the first packet
}

func newPcapWriter() *pcapWriter {
	w := &pcapWriter{seq: 1000}
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4) // magic, microsecond times
	binary.LittleEndian.PutUint16(hdr[4:], 2)          // version 2.4
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535) // snaplen
	binary.LittleEndian.PutUint32(hdr[20:], 1)     // Ethernet
	w.b.Write(hdr)
	return w
}

// rtp appends one RTP packet at the writer's clock.
func (w *pcapWriter) rtp(pt uint8, marker bool, ts, ssrc uint32, payload []byte) {
	pkt := make([]byte, 12+len(payload))
	pkt[0] = 0x80
	pkt[1] = pt
	if marker {
		pkt[1] |= 0x80
	}
	binary.BigEndian.PutUint16(pkt[2:], w.seq)
	binary.BigEndian.PutUint32(pkt[4:], ts)
	binary.BigEndian.PutUint32(pkt[8:], ssrc)
	copy(pkt[12:], payload)
	w.seq++
	frame := ethernetIPv4UDP(pkt)
	rec := make([]byte, 16)
	binary.LittleEndian.PutUint32(rec[0:], uint32(1_700_000_000+w.clock/1_000_000))
	binary.LittleEndian.PutUint32(rec[4:], uint32(w.clock%1_000_000))
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
	w.b.Write(rec)
	w.b.Write(frame)
}

// DTMFPcap returns a pcap of RFC 4733 telephone-events for digits: one event per
// digit, a packet every 20 ms, marker on the first, the end packet sent three
// times, one SSRC and continuous sequence numbers throughout.
func DTMFPcap(digits string, o PcapOptions) ([]byte, error) {
	if o.PayloadType == 0 {
		o.PayloadType = 101
	}
	if o.SSRC == 0 {
		o.SSRC = 0x4c4b4354
	}
	if o.ToneMs == 0 {
		o.ToneMs = 160
	}
	if o.GapMs == 0 {
		o.GapMs = 240
	}
	if o.PayloadType > 127 || o.ToneMs < 40 || o.GapMs < 0 {
		return nil, fmt.Errorf("dtmf pcap: bad options %+v", o)
	}
	w := newPcapWriter()
	ts := uint32(8000)
	event := func(ev byte, end bool, dur uint16) []byte {
		p := []byte{ev, 10, 0, 0} // volume -10 dBm0
		if end {
			p[1] |= 0x80
		}
		binary.BigEndian.PutUint16(p[2:], dur)
		return p
	}
	for i, d := range strings.ToUpper(digits) {
		ev, ok := dtmfEvents[d]
		if !ok {
			return nil, fmt.Errorf("dtmf pcap: %q is not a DTMF digit", d)
		}
		if i > 0 {
			w.clock += int64(o.GapMs) * 1000
			ts += uint32(o.GapMs * 8)
		}
		steps := o.ToneMs / 20
		for k := 0; k < steps; k++ {
			w.rtp(o.PayloadType, k == 0, ts, o.SSRC, event(ev, false, uint16(k*160)))
			w.clock += 20_000
		}
		for range 3 {
			w.rtp(o.PayloadType, false, ts, o.SSRC, event(ev, true, uint16(steps*160)))
		}
		ts += uint32(o.ToneMs * 8)
	}
	return w.b.Bytes(), nil
}

// TonePcap returns a pcap of a continuous PCMU (payload type 0) sine of hz
// lasting seconds: 50 packets of 160 samples a second, every one audible, so a
// receiver can count how many of them made it through the switch.
func TonePcap(hz float64, seconds int) ([]byte, error) {
	if hz <= 0 || hz >= 4000 || seconds <= 0 || seconds > 600 {
		return nil, fmt.Errorf("tone pcap: %v Hz for %d s is out of range", hz, seconds)
	}
	w := newPcapWriter()
	pcm := make([]int16, media.FrameSamples)
	var payload []byte
	for n := 0; n < seconds*50; n++ {
		for i := range pcm {
			t := float64(n*media.FrameSamples+i) / 8000
			pcm[i] = int16(8000 * math.Sin(2*math.Pi*hz*t))
		}
		payload = media.ULawEncode(payload[:0], pcm)
		w.rtp(0, n == 0, uint32(n*media.FrameSamples), 0x544f4e45, payload)
		w.clock += 20_000
	}
	return w.b.Bytes(), nil
}

// ethernetIPv4UDP wraps an RTP packet from 127.0.0.1:4000 to 127.0.0.1:4002.
func ethernetIPv4UDP(payload []byte) []byte {
	udpLen := 8 + len(payload)
	ipLen := 20 + udpLen
	f := make([]byte, 14+ipLen)
	f[12], f[13] = 0x08, 0x00 // EtherType IPv4
	ip := f[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
	ip[8] = 64 // TTL
	ip[9] = 17 // UDP
	copy(ip[12:16], []byte{127, 0, 0, 1})
	copy(ip[16:20], []byte{127, 0, 0, 1})
	binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
	udp := f[34:42]
	binary.BigEndian.PutUint16(udp[0:], 4000)
	binary.BigEndian.PutUint16(udp[2:], 4002)
	binary.BigEndian.PutUint16(udp[4:], uint16(udpLen))
	copy(f[42:], payload)
	return f
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
