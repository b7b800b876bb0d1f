package media

// MixInto writes into out[i] the sum of every other party's frame in[j] (j != i)
// that is present (have[j]), clamped to 16 bits: what party i hears in a
// conference is everyone but itself. out, in and have must have the same length;
// every out[i] must be as long as the frames in in. A party with have[j] false
// contributes nothing (it sent no audio this tick) but still receives the mix.
// MixInto does not allocate for frames up to FrameSamples.
func MixInto(out [][]int16, in [][]int16, have []bool) {
	if len(out) == 0 {
		return
	}
	n := len(out[0])
	var stack [FrameSamples]int32
	var sum []int32
	if n <= FrameSamples {
		sum = stack[:n]
	} else {
		sum = make([]int32, n)
	}
	for j, frame := range in {
		if !have[j] {
			continue
		}
		for k := range sum {
			sum[k] += int32(frame[k])
		}
	}
	for i, dst := range out {
		if have[i] {
			own := in[i]
			for k := range dst {
				dst[k] = clamp16(sum[k] - int32(own[k]))
			}
			continue
		}
		for k := range dst {
			dst[k] = clamp16(sum[k])
		}
	}
}
