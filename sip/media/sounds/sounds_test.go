package sounds

import (
	"errors"
	"testing"
	"time"

	"linkctl/sip/media"
)

func TestEveryAnnouncementIsSpeech(t *testing.T) {
	if len(Names()) != 5 {
		t.Fatalf("names %v, want 5 announcements", Names())
	}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			clip, err := Open(name)
			if err != nil {
				t.Fatal(err)
			}
			if d := clip.Duration(); d < 2*time.Second || d > 8*time.Second {
				t.Errorf("duration %v, want a short sentence", d)
			}
			if Text(name) == "" {
				t.Error("no text")
			}
			// speech: a good share of loud frames, and some pauses between words
			src := clip.Source()
			frame := make([]int16, media.FrameSamples)
			loud, quiet, n := 0, 0, 0
			for src.Next(frame) {
				n++
				var peak int16
				for _, v := range frame {
					peak = max(peak, v, -v)
				}
				switch {
				case peak > 3000:
					loud++
				case peak < 300:
					quiet++
				}
			}
			if loud < n/3 || quiet == 0 {
				t.Errorf("%d frames: %d loud, %d quiet — does not look like speech", n, loud, quiet)
			}
			again, _ := Open(name)
			if again != clip {
				t.Error("clip decoded twice")
			}
		})
	}
	if _, err := Open("nope"); !errors.Is(err, ErrUnknownSound) {
		t.Errorf("Open(nope): err = %v", err)
	}
}

// Speech must not be mistaken for the steady tones the test phones and the
// call-progress signals use (it would fake "hears the other party").
func TestSpeechIsNotATone(t *testing.T) {
	grid := []float64{350, 440, 450, 480, 620}
	for f := 600.0; f <= 2000; f += 100 {
		grid = append(grid, f)
	}
	for _, name := range Names() {
		clip, err := Open(name)
		if err != nil {
			t.Fatal(err)
		}
		l := media.NewToneListener(grid, media.ListenerOptions{})
		src := clip.Source()
		frame := make([]int16, media.FrameSamples)
		windows, toned := 0, 0
		for src.Next(frame) {
			if h, ok := l.Feed(frame); ok {
				windows++
				if len(h.Present) > 0 {
					toned++
				}
			}
		}
		if toned*20 > windows {
			t.Errorf("%s: %d of %d windows of speech detected as tones", name, toned, windows)
		}
	}
}
