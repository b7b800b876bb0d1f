package media

import (
	"math"
	"sync"
)

// MOH returns a source of music on hold: a gentle, generated melody (pentatonic
// bell voice over a soft bass, 16 s) that loops forever. The loop is synthesised once
// per process and shared read-only by every caller.
func MOH() Source { return mohClip().Loop() }

var mohClip = sync.OnceValue(func() *Clip { return NewClip(synthMOH()) })

// note is a MIDI note number held for beats beats.
type note struct {
	midi  int
	beats float64
}

var (
	mohMelody = []note{
		{76, 1}, {79, 1}, {81, 1}, {79, 1},
		{76, 1}, {74, 1}, {72, 2},
		{74, 1}, {76, 1}, {79, 1}, {76, 1},
		{74, 2}, {67, 2},
		{76, 1}, {79, 1}, {81, 1}, {84, 1},
		{81, 1}, {79, 1}, {76, 2},
		{74, 1}, {76, 1}, {74, 1}, {72, 1},
		{72, 4},
	}
	// one bass note per bar: C Am G G C Am G C
	mohBass = []note{
		{48, 4}, {45, 4}, {53, 4}, {43, 4},
		{48, 4}, {45, 4}, {43, 4}, {48, 4},
	}
)

const mohBeatSamples = SampleRate / 2 // 120 beats per minute

func synthMOH() []int16 {
	total := 0
	for _, n := range mohMelody {
		total += int(n.beats * mohBeatSamples)
	}
	acc := make([]float64, total)
	voice(acc, mohMelody, 1.0, 3.0, []float64{1, 0.35, 0.12})
	voice(acc, mohBass, 0.45, 1.2, []float64{1, 0.6, 0.25})
	peak := 0.0
	for _, v := range acc {
		peak = math.Max(peak, math.Abs(v))
	}
	out := make([]int16, total)
	gain := 7000 / peak
	for i, v := range acc {
		out[i] = int16(v * gain)
	}
	return out
}

// voice adds a sequence of notes to acc: each note is a sum of harmonics with a
// 10 ms attack and an exponential decay (decay per second), so note joins are soft.
func voice(acc []float64, notes []note, level, decay float64, harmonics []float64) {
	pos := 0
	for _, n := range notes {
		length := int(n.beats * mohBeatSamples)
		f := 440 * math.Pow(2, float64(n.midi-69)/12)
		attack := SampleRate / 100
		release := SampleRate / 50
		for i := 0; i < length && pos+i < len(acc); i++ {
			t := float64(i) / SampleRate
			env := math.Exp(-decay * t)
			if i < attack {
				env *= float64(i) / float64(attack)
			}
			if r := length - i; r < release {
				env *= float64(r) / float64(release)
			}
			var s float64
			for h, amp := range harmonics {
				fh := f * float64(h+1)
				if fh >= SampleRate/2 {
					break
				}
				s += amp * math.Sin(2*math.Pi*fh*t)
			}
			acc[pos+i] += level * env * s
		}
		pos += length
	}
}
