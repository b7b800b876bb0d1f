package media

import (
	"math"
	"slices"
)

// Detect measures, with the Goertzel algorithm, how strongly each of freqs is
// present in frame. levels[i] is the estimated peak amplitude (in sample units) of a
// sine at freqs[i]: a pure tone of amplitude A gives about A at its own frequency and
// little elsewhere, provided the frame spans many periods (a 20 ms frame resolves
// about 50 Hz; use a longer block for closer frequencies).
func Detect(frame []int16, freqs []float64) (levels []float64) {
	levels = make([]float64, len(freqs))
	detectInto(levels, frame, freqs)
	return levels
}

func detectInto(levels []float64, block []int16, freqs []float64) {
	n := float64(len(block))
	if n == 0 {
		clear(levels)
		return
	}
	for i, f := range freqs {
		coeff := 2 * math.Cos(2*math.Pi*f/SampleRate)
		var s1, s2 float64
		for _, x := range block {
			s0 := float64(x) + coeff*s1 - s2
			s2, s1 = s1, s0
		}
		power := s1*s1 + s2*s2 - coeff*s1*s2
		if power < 0 {
			power = 0
		}
		levels[i] = 2 * math.Sqrt(power) / n
	}
}

// rms is the root mean square of block.
func rms(block []int16) float64 {
	if len(block) == 0 {
		return 0
	}
	var sum float64
	for _, x := range block {
		sum += float64(x) * float64(x)
	}
	return math.Sqrt(sum / float64(len(block)))
}

// ListenerOptions tune a ToneListener; zero values take the defaults.
type ListenerOptions struct {
	// WindowFrames is how many 20 ms frames make one decision (default 5 = 100 ms,
	// resolving tones about 20 Hz apart).
	WindowFrames int
	// MinLevel is the smallest amplitude that counts as a tone (default 300, about -41 dBFS).
	MinLevel float64
	// MinShare is the smallest fraction of the window's total amplitude (RMS·√2) a tone
	// must have to count (default 0.2), so that a tone is not "heard" in loud speech or noise.
	MinShare float64
	// SilenceRMS is the RMS below which a window is silence (default 100, about -50 dBFS).
	SilenceRMS float64
	// MinSteadiness is the smallest ratio between a tone's weakest and strongest
	// 20 ms frame in the window (default 0.5). Tones are steady; the harmonics of
	// speech and music glide from frame to frame and fail this test.
	MinSteadiness float64
}

// Hearing is one window's verdict.
type Hearing struct {
	Present []float64 // the watched frequencies present, in the order given
	RMS     float64   // the window's RMS level
	Silent  bool      // RMS below the silence threshold
}

// ToneListener watches a stream of frames for a set of frequencies and decides,
// once per window, which are present. Not safe for concurrent use.
type ToneListener struct {
	freqs  []float64
	opts   ListenerOptions
	block  []int16
	levels []float64
	frame  []float64 // per-frame levels of one frequency
}

// NewToneListener watches for freqs (Hz).
func NewToneListener(freqs []float64, opts ListenerOptions) *ToneListener {
	if opts.WindowFrames <= 0 {
		opts.WindowFrames = 5
	}
	if opts.MinLevel <= 0 {
		opts.MinLevel = 300
	}
	if opts.MinShare <= 0 {
		opts.MinShare = 0.2
	}
	if opts.SilenceRMS <= 0 {
		opts.SilenceRMS = 100
	}
	if opts.MinSteadiness <= 0 {
		opts.MinSteadiness = 0.5
	}
	return &ToneListener{
		freqs:  slices.Clone(freqs),
		opts:   opts,
		block:  make([]int16, 0, opts.WindowFrames*FrameSamples),
		levels: make([]float64, len(freqs)),
		frame:  make([]float64, 1),
	}
}

// Freqs are the frequencies watched.
func (l *ToneListener) Freqs() []float64 { return slices.Clone(l.freqs) }

// Feed adds one frame (pass a silent frame when nothing was received, to keep
// time). When a window completes it returns that window's verdict and true.
func (l *ToneListener) Feed(frame []int16) (Hearing, bool) {
	l.block = append(l.block, frame...)
	if len(l.block) < l.opts.WindowFrames*FrameSamples {
		return Hearing{}, false
	}
	h := l.judge(l.block)
	l.block = l.block[:0]
	return h, true
}

func (l *ToneListener) judge(block []int16) Hearing {
	h := Hearing{RMS: rms(block)}
	h.Silent = h.RMS < l.opts.SilenceRMS
	if h.Silent {
		return h
	}
	detectInto(l.levels, block, l.freqs)
	total := h.RMS * math.Sqrt2
	for i, lv := range l.levels {
		if lv >= l.opts.MinLevel && lv >= l.opts.MinShare*total && l.steady(block, l.freqs[i]) {
			h.Present = append(h.Present, l.freqs[i])
		}
	}
	return h
}

// steady reports whether freq keeps about the same level in every frame of block.
func (l *ToneListener) steady(block []int16, freq float64) bool {
	lo, hi := math.Inf(1), 0.0
	f := []float64{freq}
	for start := 0; start+FrameSamples <= len(block); start += FrameSamples {
		detectInto(l.frame, block[start:start+FrameSamples], f)
		lo, hi = min(lo, l.frame[0]), max(hi, l.frame[0])
	}
	return hi > 0 && lo/hi >= l.opts.MinSteadiness
}
