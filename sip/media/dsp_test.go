package media

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestG711KnownValues(t *testing.T) {
	tests := []struct {
		name   string
		pcm    int16
		ulaw   byte
		alaw   byte
		ulawDe int16
		alawDe int16
	}{
		{"zero", 0, 0xFF, 0xD5, 0, 8},
		{"max", 32767, 0x80, 0xAA, 32124, 32256},
		{"min", -32768, 0x00, 0x2A, -32124, -32256},
		{"small positive", 100, 0xF2, 0xD3, 104, 104},
		{"small negative", -100, 0x72, 0x53, -104, -104},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ULawEncode(nil, []int16{tt.pcm})[0]; got != tt.ulaw {
				t.Errorf("ulaw(%d) = %#x, want %#x", tt.pcm, got, tt.ulaw)
			}
			if got := ALawEncode(nil, []int16{tt.pcm})[0]; got != tt.alaw {
				t.Errorf("alaw(%d) = %#x, want %#x", tt.pcm, got, tt.alaw)
			}
			if got := ULawDecode(nil, []byte{tt.ulaw})[0]; got != tt.ulawDe {
				t.Errorf("ulaw decode %#x = %d, want %d", tt.ulaw, got, tt.ulawDe)
			}
			if got := ALawDecode(nil, []byte{tt.alaw})[0]; got != tt.alawDe {
				t.Errorf("alaw decode %#x = %d, want %d", tt.alaw, got, tt.alawDe)
			}
		})
	}
}

func TestG711RoundTrip(t *testing.T) {
	// Every code decodes to a value that encodes back to the same code (except
	// µ-law's negative zero 0x7F, which encodes as positive zero 0xFF).
	for i := range 256 {
		b := byte(i)
		if got := ULawEncode(nil, ULawDecode(nil, []byte{b}))[0]; got != b && b != 0x7F {
			t.Errorf("ulaw %#x -> %d -> %#x", b, ulawDecode[b], got)
		}
		if got := ALawEncode(nil, ALawDecode(nil, []byte{b}))[0]; got != b {
			t.Errorf("alaw %#x -> %d -> %#x", b, alawDecode[b], got)
		}
	}
	// Quantisation error stays within G.711's relative bound (about 1/16 of the value, plus the smallest step).
	for v := -32768; v <= 32767; v += 7 {
		s := int16(v)
		for _, c := range []Codec{PCMU, PCMA} {
			enc, _ := c.Encode(nil, []int16{s})
			dec, _ := c.Decode(nil, enc)
			if diff := math.Abs(float64(dec[0]) - float64(s)); diff > math.Abs(float64(s))/16+33 {
				t.Fatalf("%s: %d -> %d, error %v too large", c.Name, s, dec[0], diff)
			}
		}
	}
}

func TestTranscode(t *testing.T) {
	pcm := make([]int16, FrameSamples)
	SineSource(1000, 8000).Next(pcm)
	u := ULawEncode(nil, pcm)
	if err := Transcode(u, PCMU, PCMA); err != nil {
		t.Fatal(err)
	}
	back := ALawDecode(nil, u)
	for i := range pcm {
		if d := math.Abs(float64(back[i] - pcm[i])); d > math.Abs(float64(pcm[i]))/8+40 {
			t.Fatalf("sample %d: %d -> %d after PCMU->PCMA", i, pcm[i], back[i])
		}
	}
	err := Transcode(u, PCMU, Codec{Name: "opus", PT: 111, Rate: 48000})
	if !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatalf("transcode to opus: err = %v, want ErrUnsupportedCodec", err)
	}
}

func TestMixIntoExcludesOwnVoice(t *testing.T) {
	a, b, c := frameOf(1000), frameOf(200), frameOf(30)
	out := [][]int16{make([]int16, FrameSamples), make([]int16, FrameSamples), make([]int16, FrameSamples)}
	tests := []struct {
		name string
		have []bool
		want []int16
	}{
		{"all three", []bool{true, true, true}, []int16{230, 1030, 1200}},
		{"c silent", []bool{true, true, false}, []int16{200, 1000, 1200}},
		{"only a", []bool{true, false, false}, []int16{0, 1000, 1000}},
		{"nobody", []bool{false, false, false}, []int16{0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			MixInto(out, [][]int16{a, b, c}, tt.have)
			for i, want := range tt.want {
				if out[i][0] != want || out[i][FrameSamples-1] != want {
					t.Errorf("party %d hears %d, want %d", i, out[i][0], want)
				}
			}
		})
	}
}

func TestMixIntoClamps(t *testing.T) {
	out := [][]int16{make([]int16, FrameSamples), make([]int16, FrameSamples), make([]int16, FrameSamples)}
	MixInto(out, [][]int16{frameOf(30000), frameOf(30000), frameOf(-30000)}, []bool{true, true, true})
	if out[2][5] != 32767 {
		t.Errorf("positive overflow: got %d, want 32767", out[2][5])
	}
	MixInto(out, [][]int16{frameOf(-30000), frameOf(-30000), frameOf(0)}, []bool{true, true, true})
	if out[2][5] != -32768 {
		t.Errorf("negative overflow: got %d, want -32768", out[2][5])
	}
}

func frameOf(v int16) []int16 {
	f := make([]int16, FrameSamples)
	for i := range f {
		f[i] = v
	}
	return f
}

// onOff plays src for d and returns, per 100 ms window, whether freq was heard.
func onOff(t *testing.T, src Source, freq float64, d time.Duration) []bool {
	t.Helper()
	l := NewToneListener([]float64{freq}, ListenerOptions{})
	frame := make([]int16, FrameSamples)
	var got []bool
	for range framesIn(d) {
		src.Next(frame)
		if h, ok := l.Feed(frame); ok {
			got = append(got, slices.Contains(h.Present, freq))
		}
	}
	return got
}

func TestToneCadence(t *testing.T) {
	tests := []struct {
		name, zone string
		freq       float64
		onMs, offM int
	}{
		{"ring", "cn", 450, 1000, 4000},
		{"busy", "cn", 450, 350, 350},
		{"ring", "us", 440, 2000, 4000},
		{"ring", "", 480, 2000, 4000},
		{"busy", "us", 620, 500, 500},
		{"congestion", "us", 480, 250, 250},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.zone, func(t *testing.T) {
			src, err := Tone(tt.name, tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			period := tt.onMs + tt.offM
			got := onOff(t, src, tt.freq, 2*time.Duration(period)*time.Millisecond)
			for w, heard := range got {
				// window w covers [100w, 100w+100) ms; skip windows straddling an edge
				start := (w * 100) % period
				end := start + 100
				switch {
				case end <= tt.onMs && heard == false:
					t.Errorf("window %d (%d ms into period): tone missing", w, start)
				case start >= tt.onMs && end <= period && heard:
					t.Errorf("window %d (%d ms into period): tone heard during pause", w, start)
				}
			}
		})
	}
}

func TestToneUnknownAndLiteral(t *testing.T) {
	if _, err := Tone("ring", "xx"); !errors.Is(err, ErrUnknownTone) {
		t.Errorf("zone xx: err = %v, want ErrUnknownTone", err)
	}
	if _, err := Tone("nosuchtone", "cn"); !errors.Is(err, ErrUnknownTone) {
		t.Errorf("unknown name: err = %v, want ErrUnknownTone", err)
	}
	src, err := Tone("!1000/100", "")
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, FrameSamples)
	n := 0
	for src.Next(frame) {
		n++
		if n > 100 {
			t.Fatal("one-shot tone never finished")
		}
	}
	if n != 5 {
		t.Errorf("one-shot 100 ms tone gave %d frames, want 5", n)
	}
	beep, _ := Tone("beep", "cn")
	if got := onOff(t, beep, 1000, 400*time.Millisecond); !got[0] || got[3] {
		t.Errorf("beep windows = %v, want tone first then silence", got)
	}
}

func TestParseToneURI(t *testing.T) {
	tests := []struct {
		uri, name, zone string
		wantErr         bool
	}{
		{"tone:ring;tonezone=cn", "ring", "cn", false},
		{"tone:ring%3Btonezone%3Dcn", "ring", "cn", false},
		{"tone:busy", "busy", "", false},
		{"tone:425/50,0/50;tonezone=US", "425/50,0/50", "us", false},
		{"sound:beep", "", "", true},
		{"tone:", "", "", true},
	}
	for _, tt := range tests {
		name, zone, err := ParseToneURI(tt.uri)
		if (err != nil) != tt.wantErr || name != tt.name || zone != tt.zone {
			t.Errorf("ParseToneURI(%q) = %q, %q, %v; want %q, %q, err %v", tt.uri, name, zone, err, tt.name, tt.zone, tt.wantErr)
		}
	}
}

func TestParseToneListRejects(t *testing.T) {
	for _, list := range []string{"", "abc", "440/x", "5000", "440+", "-3", "440/-1"} {
		if _, err := ParseToneList(list); !errors.Is(err, ErrUnknownTone) {
			t.Errorf("ParseToneList(%q): err = %v, want ErrUnknownTone", list, err)
		}
	}
}

func TestWAVRoundTripAndFormats(t *testing.T) {
	dir := t.TempDir()
	samples := make([]int16, 4000) // 0.5 s
	SineSource(700, 6000).Next(samples)
	pcmPath := filepath.Join(dir, "pcm.wav")
	if err := os.WriteFile(pcmPath, EncodeWAV(samples), 0o644); err != nil {
		t.Fatal(err)
	}
	clip, err := LoadWAV(pcmPath)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(clip.Samples(), samples) {
		t.Fatal("PCM16 WAV did not round trip")
	}
	if clip.Duration() != 500*time.Millisecond {
		t.Errorf("duration %v, want 500ms", clip.Duration())
	}
	// µ-law WAV of the same audio decodes close to the original
	ulaw := wavHeader(wavFormatULaw, 8, 8000, 1, ULawEncode(nil, samples))
	uc, err := ParseWAV(ulaw)
	if err != nil {
		t.Fatal(err)
	}
	if l := Detect(uc.Samples()[:800], []float64{700})[0]; l < 5000 {
		t.Errorf("µ-law WAV: 700 Hz level %v, want about 6000", l)
	}
	alaw := wavHeader(wavFormatALaw, 8, 8000, 1, ALawEncode(nil, samples))
	if _, err := ParseWAV(alaw); err != nil {
		t.Errorf("A-law WAV: %v", err)
	}

	bad := map[string][]byte{
		"not riff":    []byte("hello world, this is not a wav"),
		"16 kHz":      wavHeader(wavFormatPCM, 16, 16000, 1, make([]byte, 100)),
		"stereo":      wavHeader(wavFormatPCM, 16, 8000, 2, make([]byte, 100)),
		"8-bit pcm":   wavHeader(wavFormatPCM, 8, 8000, 1, make([]byte, 100)),
		"float":       wavHeader(3, 32, 8000, 1, make([]byte, 100)),
		"no data":     EncodeWAV(nil)[:36],
		"short fmt":   []byte("RIFF\x10\x00\x00\x00WAVEfmt \x04\x00\x00\x00\x01\x00\x01\x00"),
		"empty":       nil,
		"huge fmt sz": []byte("RIFF\x10\x00\x00\x00WAVEfmt \xff\xff\xff\xff\x01\x00"),
	}
	for name, data := range bad {
		if _, err := ParseWAV(data); !errors.Is(err, ErrUnsupportedWAV) {
			t.Errorf("%s: err = %v, want ErrUnsupportedWAV", name, err)
		}
	}
	if _, err := LoadWAV(filepath.Join(dir, "missing.wav")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

func wavHeader(format, bits uint16, rate uint32, channels uint16, data []byte) []byte {
	b := EncodeWAV(nil)[:12]
	fmtChunk := []byte("fmt \x10\x00\x00\x00")
	le16 := func(v uint16) []byte { return []byte{byte(v), byte(v >> 8)} }
	le32 := func(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
	fmtChunk = append(fmtChunk, le16(format)...)
	fmtChunk = append(fmtChunk, le16(channels)...)
	fmtChunk = append(fmtChunk, le32(rate)...)
	fmtChunk = append(fmtChunk, le32(rate*uint32(bits/8)*uint32(channels))...)
	fmtChunk = append(fmtChunk, le16(bits/8*channels)...)
	fmtChunk = append(fmtChunk, le16(bits)...)
	b = append(b, fmtChunk...)
	b = append(b, "data"...)
	b = append(b, le32(uint32(len(data)))...)
	return append(b, data...)
}

func TestClipSourcePadsAndEnds(t *testing.T) {
	clip := NewClip(frameOf(5)[:100]) // 100 samples: less than a frame
	src := clip.Source()
	frame := frameOf(-1)
	if !src.Next(frame) {
		t.Fatal("first frame missing")
	}
	if frame[99] != 5 || frame[100] != 0 {
		t.Errorf("frame[99]=%d frame[100]=%d, want 5 then zero padding", frame[99], frame[100])
	}
	if src.Next(frame) {
		t.Error("clip source did not finish")
	}
	loop := clip.Loop()
	for range 3 {
		if !loop.Next(frame) || frame[150] != 5 {
			t.Fatal("looping clip should fill every frame")
		}
	}
}

func TestMOHIsMusicAndLoops(t *testing.T) {
	src := MOH()
	frame := make([]int16, FrameSamples)
	quiet, frames := 0, 0
	var peak int16
	for range 20 * 50 { // 20 s: longer than one loop
		if !src.Next(frame) {
			t.Fatal("MOH ended")
		}
		frames++
		if rms(frame) < 100 {
			quiet++
		}
		for _, v := range frame {
			peak = max(peak, v)
		}
	}
	if quiet > frames/10 {
		t.Errorf("%d of %d MOH frames are silent", quiet, frames)
	}
	if peak < 3000 || peak > 12000 {
		t.Errorf("MOH peak %d, want a moderate level", peak)
	}
	if mohClip().Duration() != 16*time.Second {
		t.Errorf("MOH loop %v, want 16s", mohClip().Duration())
	}
}

func TestToneListenerSeparatesMixedTones(t *testing.T) {
	freqs := []float64{600, 800, 1000, 1200}
	a, b := SineSource(600, 4000), SineSource(1000, 4000)
	l := NewToneListener(freqs, ListenerOptions{})
	fa, fb := make([]int16, FrameSamples), make([]int16, FrameSamples)
	out := [][]int16{make([]int16, FrameSamples)}
	var last Hearing
	for range 10 {
		a.Next(fa)
		b.Next(fb)
		// the listener hears a and b mixed
		MixInto([][]int16{out[0], make([]int16, FrameSamples), make([]int16, FrameSamples)},
			[][]int16{nil, fa, fb}, []bool{false, true, true})
		if h, ok := l.Feed(out[0]); ok {
			last = h
		}
	}
	if !slices.Equal(last.Present, []float64{600, 1000}) {
		t.Errorf("present = %v, want [600 1000]", last.Present)
	}
	silent, ok := Hearing{}, false
	for range 5 {
		silent, ok = l.Feed(make([]int16, FrameSamples))
	}
	if !ok || !silent.Silent || len(silent.Present) != 0 {
		t.Errorf("silence judged %+v", silent)
	}
}

// BenchmarkToneListenerFrame is a test phone's listening cost per 20 ms frame
// (20 watched frequencies, the phone default).
func BenchmarkToneListenerFrame(b *testing.B) {
	freqs := []float64{350, 440, 450, 480, 620}
	for f := 600.0; f <= 2000; f += 100 {
		freqs = append(freqs, f)
	}
	l := NewToneListener(freqs, ListenerOptions{})
	frame := make([]int16, FrameSamples)
	src := SineSource(700, 4000)
	b.ReportAllocs()
	for b.Loop() {
		src.Next(frame)
		l.Feed(frame)
	}
}

// BenchmarkToneSourceFrame is the cost of generating one frame of a dual-frequency tone.
func BenchmarkToneSourceFrame(b *testing.B) {
	src, _ := Tone("ring", "us")
	frame := make([]int16, FrameSamples)
	b.ReportAllocs()
	for b.Loop() {
		src.Next(frame)
	}
}
