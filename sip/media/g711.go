package media

// G.711 µ-law and A-law (ITU-T G.711), table driven: decoding is one lookup per
// byte, encoding one lookup per sample in a 64 Ki table built once at start-up.

var (
	ulawDecode [256]int16
	alawDecode [256]int16
	ulawEncode [65536]byte
	alawEncode [65536]byte
	ulawToAlaw [256]byte
	alawToUlaw [256]byte
)

func init() {
	for i := range 256 {
		ulawDecode[i] = ulawDecodeSample(byte(i))
		alawDecode[i] = alawDecodeSample(byte(i))
	}
	for i := range 65536 {
		s := int16(uint16(i))
		ulawEncode[i] = ulawEncodeSample(s)
		alawEncode[i] = alawEncodeSample(s)
	}
	for i := range 256 {
		ulawToAlaw[i] = alawEncode[uint16(ulawDecode[i])]
		alawToUlaw[i] = ulawEncode[uint16(alawDecode[i])]
	}
}

// segment ends for the logarithmic search (Sun's reference g711.c layout).
var (
	ulawSegEnd = [8]int{0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF}
	alawSegEnd = [8]int{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF}
)

func segment(v int, ends *[8]int) int {
	for i, e := range ends {
		if v <= e {
			return i
		}
	}
	return 8
}

func ulawEncodeSample(pcm int16) byte {
	const bias, clip = 0x84, 8159
	v := int(pcm) >> 2
	mask := byte(0xFF)
	if v < 0 {
		v, mask = -v, 0x7F
	}
	if v > clip {
		v = clip
	}
	v += bias >> 2
	seg := segment(v, &ulawSegEnd)
	if seg >= 8 {
		return 0x7F ^ mask
	}
	return byte(seg<<4|((v>>(seg+1))&0xF)) ^ mask
}

func ulawDecodeSample(u byte) int16 {
	const bias = 0x84
	u = ^u
	t := (int(u&0x0F) << 3) + bias
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(bias - t)
	}
	return int16(t - bias)
}

func alawEncodeSample(pcm int16) byte {
	v := int(pcm) >> 3
	mask := byte(0xD5)
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	seg := segment(v, &alawSegEnd)
	if seg >= 8 {
		return 0x7F ^ mask
	}
	a := seg << 4
	if seg < 2 {
		a |= (v >> 1) & 0x0F
	} else {
		a |= (v >> seg) & 0x0F
	}
	return byte(a) ^ mask
}

func alawDecodeSample(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0F) << 4
	seg := int(a&0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// ULawEncode appends the µ-law encoding of pcm to dst and returns it.
func ULawEncode(dst []byte, pcm []int16) []byte {
	for _, s := range pcm {
		dst = append(dst, ulawEncode[uint16(s)])
	}
	return dst
}

// ULawDecode appends the linear samples of µ-law payload to dst and returns it.
func ULawDecode(dst []int16, payload []byte) []int16 {
	for _, b := range payload {
		dst = append(dst, ulawDecode[b])
	}
	return dst
}

// ALawEncode appends the A-law encoding of pcm to dst and returns it.
func ALawEncode(dst []byte, pcm []int16) []byte {
	for _, s := range pcm {
		dst = append(dst, alawEncode[uint16(s)])
	}
	return dst
}

// ALawDecode appends the linear samples of A-law payload to dst and returns it.
func ALawDecode(dst []int16, payload []byte) []int16 {
	for _, b := range payload {
		dst = append(dst, alawDecode[b])
	}
	return dst
}

// ULawToALaw transcodes µ-law bytes to A-law in place (through linear, one lookup each).
func ULawToALaw(b []byte) {
	for i, v := range b {
		b[i] = ulawToAlaw[v]
	}
}

// ALawToULaw transcodes A-law bytes to µ-law in place.
func ALawToULaw(b []byte) {
	for i, v := range b {
		b[i] = alawToUlaw[v]
	}
}
