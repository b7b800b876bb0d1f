package media

import "time"

const (
	// SampleRate is the sample rate of every frame in this package (narrowband telephony).
	SampleRate = 8000
	// FrameSamples is the number of samples in one 20 ms frame at 8 kHz.
	FrameSamples = 160
	// FrameDuration is the length of one frame.
	FrameDuration = 20 * time.Millisecond
)

// Source produces audio one frame at a time.
type Source interface {
	// Next fills frame (normally FrameSamples long) with the next 20 ms and reports
	// whether the source produced it; false means the source is finished and frame
	// holds silence.
	Next(frame []int16) bool
}

// SourceFunc adapts a function to a Source.
type SourceFunc func(frame []int16) bool

// Next calls f.
func (f SourceFunc) Next(frame []int16) bool { return f(frame) }

// Silence returns a source of d of silence (d <= 0: endless silence).
func Silence(d time.Duration) Source {
	frames := framesIn(d)
	n := 0
	return SourceFunc(func(frame []int16) bool {
		clear(frame)
		if frames > 0 && n >= frames {
			return false
		}
		n++
		return true
	})
}

// Limit stops src after d (rounded up to whole frames).
func Limit(src Source, d time.Duration) Source {
	frames := framesIn(d)
	n := 0
	return SourceFunc(func(frame []int16) bool {
		if n >= frames {
			clear(frame)
			return false
		}
		n++
		return src.Next(frame)
	})
}

// Concat plays the sources one after the other.
func Concat(srcs ...Source) Source {
	i := 0
	return SourceFunc(func(frame []int16) bool {
		for i < len(srcs) {
			if srcs[i].Next(frame) {
				return true
			}
			i++
		}
		clear(frame)
		return false
	})
}

func framesIn(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + FrameDuration - 1) / FrameDuration)
}

func clamp16(v int32) int16 {
	switch {
	case v > 32767:
		return 32767
	case v < -32768:
		return -32768
	}
	return int16(v)
}
