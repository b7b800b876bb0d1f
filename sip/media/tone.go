package media

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
)

// DefaultZone is the tone zone used when none is given, as in the stock
// indications.conf ([general] country=us) of the reference Asterisk.
const DefaultZone = "us"

// ErrUnknownTone is returned (wrapped) for a tone name or zone that is not defined
// and does not parse as a tone list.
var ErrUnknownTone = errors.New("unknown tone")

// zones holds the indications.conf tone lists we ship, by zone then name.
// "beep" is ours (Asterisk has no such indication): one short 1 kHz beep.
var zones = map[string]map[string]string{
	"cn": {
		"dial":        "450",
		"busy":        "450/350,0/350",
		"ring":        "450/1000,0/4000",
		"congestion":  "450/700,0/700",
		"callwaiting": "450/400,0/4000",
		"dialrecall":  "450",
		"record":      "950/400,0/10000",
		"info":        "450/100,0/100,450/100,0/100,450/100,0/100,450/400,0/400",
		"stutter":     "450+425",
		"beep":        "!1000/250",
	},
	"us": {
		"dial":        "350+440",
		"busy":        "480+620/500,0/500",
		"ring":        "440+480/2000,0/4000",
		"congestion":  "480+620/250,0/250",
		"callwaiting": "440/300,0/10000",
		"dialrecall":  "!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,350+440",
		"record":      "1400/500,0/15000",
		"info":        "!950/330,!1400/330,!1800/330,0",
		"stutter":     "!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,350+440",
		"beep":        "!1000/250",
	},
	"uk": {
		"dial":       "350+440",
		"busy":       "400/375,0/375",
		"ring":       "400+450/400,0/200,400+450/400,0/2000",
		"congestion": "400/400,0/350,400/225,0/525",
		"beep":       "!1000/250",
	},
	"de": {
		"dial":       "425",
		"busy":       "425/480,0/480",
		"ring":       "425/1000,0/4000",
		"congestion": "425/240,0/240",
		"beep":       "!1000/250",
	},
}

// toneAmplitude is the peak of one tone component (about -16 dBm0, like Asterisk's
// playtones default); two-frequency tones sum two such components.
const toneAmplitude = 5000

// ToneElement is one element of an indications.conf tone list:
// [!]freq[+|*freq2][/duration].
type ToneElement struct {
	Freq1, Freq2 float64
	// Modulate: Freq1 amplitude-modulated by Freq2 at 90 % depth (the "*" form)
	// instead of the sum of both ("+").
	Modulate bool
	// DurationMs is the element length; 0 means it lasts forever.
	DurationMs int
	// Once marks an element that is played only on the first pass ("!").
	Once bool
}

// ToneNames lists the tone names defined for zone (nil for an unknown zone).
func ToneNames(zone string) []string {
	z, ok := zones[zoneOrDefault(zone)]
	if !ok {
		return nil
	}
	names := make([]string, 0, len(z))
	for n := range z {
		names = append(names, n)
	}
	return names
}

// Tone returns a source playing the named indication of a tone zone ("cn", "us";
// "" = DefaultZone), e.g. Tone("ring", "cn"). A name that is not an indication is
// tried as a literal tone list ("425/50,0/50"). Repeating tones never finish; a tone
// list made only of "!" elements finishes after one pass.
func Tone(name, zone string) (Source, error) {
	z, ok := zones[zoneOrDefault(zone)]
	if !ok {
		return nil, fmt.Errorf("tone %q: zone %q: %w", name, zone, ErrUnknownTone)
	}
	list, ok := z[name]
	if !ok {
		list = name
	}
	elems, err := ParseToneList(list)
	if err != nil {
		return nil, fmt.Errorf("tone %q in zone %q: %w", name, zoneOrDefault(zone), err)
	}
	return NewToneSource(elems), nil
}

// ToneFromURI is ParseToneURI followed by Tone.
func ToneFromURI(uri string) (Source, error) {
	name, zone, err := ParseToneURI(uri)
	if err != nil {
		return nil, err
	}
	return Tone(name, zone)
}

// ParseToneURI splits an ARI media URI such as "tone:ring;tonezone=cn" into the
// tone name (or literal tone list) and zone ("" when not given). The URI may be
// still query-escaped ("tone:ring%3Btonezone%3Dcn").
func ParseToneURI(uri string) (name, zone string, err error) {
	if strings.Contains(uri, "%") {
		if u, uerr := url.QueryUnescape(uri); uerr == nil {
			uri = u
		}
	}
	rest, ok := strings.CutPrefix(uri, "tone:")
	if !ok {
		return "", "", fmt.Errorf("media uri %q: not a tone: uri: %w", uri, ErrUnknownTone)
	}
	parts := strings.Split(rest, ";")
	name = strings.TrimSpace(parts[0])
	if name == "" {
		return "", "", fmt.Errorf("media uri %q: empty tone: %w", uri, ErrUnknownTone)
	}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "tonezone") {
			zone = strings.ToLower(strings.TrimSpace(v))
		}
	}
	return name, zone, nil
}

// ParseToneList parses an indications.conf tone list ("440+480/2000,0/4000").
func ParseToneList(list string) ([]ToneElement, error) {
	var elems []ToneElement
	for raw := range strings.SplitSeq(list, ",") {
		s := strings.TrimSpace(raw)
		if s == "" {
			continue
		}
		var e ToneElement
		if rest, ok := strings.CutPrefix(s, "!"); ok {
			e.Once, s = true, rest
		}
		if f, d, ok := strings.Cut(s, "/"); ok {
			ms, err := strconv.Atoi(d)
			if err != nil || ms < 0 || ms > 3_600_000 {
				return nil, fmt.Errorf("tone element %q: bad duration: %w", raw, ErrUnknownTone)
			}
			e.DurationMs, s = ms, f
		}
		sep := strings.IndexAny(s, "+*")
		f1s, f2s := s, ""
		if sep >= 0 {
			f1s, f2s = s[:sep], s[sep+1:]
			e.Modulate = s[sep] == '*'
		}
		var err error
		if e.Freq1, err = parseFreq(f1s); err != nil {
			return nil, fmt.Errorf("tone element %q: %w", raw, err)
		}
		if sep >= 0 {
			if e.Freq2, err = parseFreq(f2s); err != nil {
				return nil, fmt.Errorf("tone element %q: %w", raw, err)
			}
		}
		elems = append(elems, e)
	}
	if len(elems) == 0 {
		return nil, fmt.Errorf("empty tone list %q: %w", list, ErrUnknownTone)
	}
	return elems, nil
}

func parseFreq(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || f >= SampleRate/2 || math.IsNaN(f) {
		return 0, fmt.Errorf("bad frequency %q: %w", s, ErrUnknownTone)
	}
	return f, nil
}

func zoneOrDefault(zone string) string {
	if zone == "" {
		return DefaultZone
	}
	return strings.ToLower(zone)
}

// toneSource plays a tone list. Phases are kept across elements and frames so the
// waveform never clicks.
type toneSource struct {
	elems      []ToneElement
	idx        int // current element
	pos        int // samples played of the current element
	firstPass  bool
	ph1, ph2   uint32 // phase accumulators: 2^32 is one full turn
	finished   bool
	repeatFrom int // first element not marked "!" (-1: none, the list ends)
}

// NewToneSource plays parsed tone elements, Asterisk-style: the list repeats from
// its first non-"!" element; a list of only "!" elements plays once.
func NewToneSource(elems []ToneElement) Source {
	t := &toneSource{elems: elems, firstPass: true, repeatFrom: -1}
	for i, e := range elems {
		if !e.Once {
			t.repeatFrom = i
			break
		}
	}
	return t
}

func (t *toneSource) Next(frame []int16) bool {
	if t.finished {
		clear(frame)
		return false
	}
	for i := range frame {
		if t.finished {
			frame[i] = 0
			continue
		}
		e := &t.elems[t.idx]
		frame[i] = t.sample(e)
		t.pos++
		if e.DurationMs > 0 && t.pos >= e.DurationMs*SampleRate/1000 {
			t.advance()
		}
	}
	return true
}

func (t *toneSource) advance() {
	t.pos = 0
	for {
		t.idx++
		if t.idx >= len(t.elems) {
			if t.repeatFrom < 0 {
				t.finished = true
				return
			}
			t.firstPass = false
			t.idx = 0
		}
		if !t.firstPass && t.elems[t.idx].Once {
			continue
		}
		return
	}
}

func (t *toneSource) sample(e *ToneElement) int16 {
	var v float64
	if e.Freq1 > 0 {
		s1 := sineAt(t.ph1)
		switch {
		case e.Freq2 > 0 && e.Modulate:
			v = toneAmplitude * s1 * (1 + 0.9*sineAt(t.ph2)) / 1.9 * 1.4
		case e.Freq2 > 0:
			v = toneAmplitude * (s1 + sineAt(t.ph2))
		default:
			v = toneAmplitude * s1
		}
	}
	t.ph1 += phaseStep(e.Freq1)
	t.ph2 += phaseStep(e.Freq2)
	return int16(v)
}

// A 4096-entry sine table indexed by the top bits of a 32-bit phase: about 70 dB
// of spurious-free range, far beyond G.711, at a fraction of math.Sin's cost.
const sineBits = 12

var sineTable = func() (t [1 << sineBits]float64) {
	for i := range t {
		t[i] = math.Sin(2 * math.Pi * float64(i) / float64(len(t)))
	}
	return t
}()

func sineAt(phase uint32) float64 { return sineTable[phase>>(32-sineBits)] }

func phaseStep(freq float64) uint32 { return uint32(freq / SampleRate * (1 << 32)) }

// SineSource returns an endless sine of freq Hz with the given peak amplitude
// (the test phones' own voice).
func SineSource(freq float64, amplitude int16) Source {
	var ph uint32
	step, amp := phaseStep(freq), float64(amplitude)
	return SourceFunc(func(frame []int16) bool {
		for i := range frame {
			frame[i] = int16(amp * sineAt(ph))
			ph += step
		}
		return true
	})
}
