package phone

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Segment is a stretch of time during which a phone heard the same thing.
type Segment struct {
	Start, End time.Time
	Freqs      []float64 // watched frequencies present (sorted as watched)
	Silent     bool      // nothing audible at all
}

// Timeline is what a call heard, oldest first. Each verdict covers 100 ms.
type Timeline []Segment

// Heard reports whether freq was heard at any time in the timeline.
func (t Timeline) Heard(freq float64) bool { return t.Duration(freq) > 0 }

// Duration is how long freq was heard in total.
func (t Timeline) Duration(freq float64) time.Duration {
	var d time.Duration
	for _, s := range t {
		if slices.Contains(s.Freqs, freq) {
			d += s.End.Sub(s.Start)
		}
	}
	return d
}

// Between returns the part of the timeline inside [from, to), segments clipped.
func (t Timeline) Between(from, to time.Time) Timeline {
	var out Timeline
	for _, s := range t {
		if !s.End.After(from) || !s.Start.Before(to) {
			continue
		}
		if s.Start.Before(from) {
			s.Start = from
		}
		if s.End.After(to) {
			s.End = to
		}
		out = append(out, s)
	}
	return out
}

// Since returns the part of the timeline from from on.
func (t Timeline) Since(from time.Time) Timeline {
	return t.Between(from, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
}

// LongestSilence is the longest run of silent segments.
func (t Timeline) LongestSilence() time.Duration {
	var longest, run time.Duration
	for i, s := range t {
		if !s.Silent {
			run = 0
			continue
		}
		if i > 0 && t[i-1].Silent && t[i-1].End.Equal(s.Start) {
			run += s.End.Sub(s.Start)
		} else {
			run = s.End.Sub(s.Start)
		}
		longest = max(longest, run)
	}
	return longest
}

// Freqs lists every watched frequency heard at some point, ascending.
func (t Timeline) Freqs() []float64 {
	var all []float64
	for _, s := range t {
		for _, f := range s.Freqs {
			if !slices.Contains(all, f) {
				all = append(all, f)
			}
		}
	}
	slices.Sort(all)
	return all
}

// String renders the timeline compactly, relative to its first segment, e.g.
// "0.0-1.2s [700 900]; 1.2-2.0s silence".
func (t Timeline) String() string {
	if len(t) == 0 {
		return "(nothing heard)"
	}
	var b strings.Builder
	t0 := t[0].Start
	for i, s := range t {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%.1f-%.1fs ", s.Start.Sub(t0).Seconds(), s.End.Sub(t0).Seconds())
		switch {
		case s.Silent:
			b.WriteString("silence")
		case len(s.Freqs) == 0:
			b.WriteString("sound")
		default:
			fmt.Fprint(&b, s.Freqs)
		}
	}
	return b.String()
}

// add appends one verdict, merging it into the last segment when it heard the same.
func (t Timeline) add(start, end time.Time, freqs []float64, silent bool) Timeline {
	if n := len(t); n > 0 {
		last := &t[n-1]
		if last.Silent == silent && slices.Equal(last.Freqs, freqs) && !start.After(last.End.Add(50*time.Millisecond)) {
			last.End = end
			return t
		}
	}
	return append(t, Segment{Start: start, End: end, Freqs: freqs, Silent: silent})
}

// clone deep-copies the timeline for handing out.
func (t Timeline) clone() Timeline {
	out := make(Timeline, len(t))
	for i, s := range t {
		s.Freqs = slices.Clone(s.Freqs)
		out[i] = s
	}
	return out
}
