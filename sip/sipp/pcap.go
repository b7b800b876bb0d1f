package sipp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
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

// DTMFPcap returns a classic pcap (Ethernet, IPv4, UDP, RTP) of RFC 4733
// telephone-events for digits, as sipp's play_pcap_audio replays it: one event
// per digit, a packet every 20 ms, marker on the first, the end packet sent three
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
	var b bytes.Buffer
	// global header: magic, v2.4, UTC, accuracy 0, snaplen 65535, linktype 1 (Ethernet)
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	b.Write(hdr)
	var (
		seq   uint16 = 1000
		ts    uint32 = 8000
		clock int64  // microseconds since the first packet
	)
	packet := func(ev byte, marker, end bool, dur uint16) {
		rtp := make([]byte, 16)
		rtp[0] = 0x80
		rtp[1] = o.PayloadType
		if marker {
			rtp[1] |= 0x80
		}
		binary.BigEndian.PutUint16(rtp[2:], seq)
		binary.BigEndian.PutUint32(rtp[4:], ts)
		binary.BigEndian.PutUint32(rtp[8:], o.SSRC)
		rtp[12] = ev
		rtp[13] = 10 // volume -10 dBm0
		if end {
			rtp[13] |= 0x80
		}
		binary.BigEndian.PutUint16(rtp[14:], dur)
		seq++
		frame := ethernetIPv4UDP(rtp)
		sec, usec := 1_700_000_000+clock/1_000_000, clock%1_000_000
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[0:], uint32(sec))
		binary.LittleEndian.PutUint32(rec[4:], uint32(usec))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
		b.Write(rec)
		b.Write(frame)
	}
	for i, d := range strings.ToUpper(digits) {
		ev, ok := dtmfEvents[d]
		if !ok {
			return nil, fmt.Errorf("dtmf pcap: %q is not a DTMF digit", d)
		}
		if i > 0 {
			clock += int64(o.GapMs) * 1000
			ts += uint32(o.GapMs * 8)
		}
		steps := o.ToneMs / 20
		for k := 0; k < steps; k++ {
			packet(ev, k == 0, false, uint16(k*160))
			clock += 20_000
		}
		for range 3 {
			packet(ev, false, true, uint16(steps*160))
		}
		ts += uint32(o.ToneMs * 8)
	}
	return b.Bytes(), nil
}

// ethernetIPv4UDP wraps an RTP packet from 127.0.0.1:4000 to 127.0.0.1:4002;
// sipp replaces the addresses with the call's media addresses.
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
