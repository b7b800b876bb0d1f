package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ErrUnsupportedWAV is returned (wrapped, with what is wrong) for a file that is not
// a RIFF WAVE of 8 kHz mono 16-bit PCM, µ-law or A-law.
var ErrUnsupportedWAV = errors.New("unsupported WAV")

// maxWAVBytes bounds what LoadWAV reads: one hour of 8 kHz 16-bit audio.
const maxWAVBytes = 3600 * SampleRate * 2

// WAV format tags.
const (
	wavFormatPCM        = 1
	wavFormatALaw       = 6
	wavFormatULaw       = 7
	wavFormatExtensible = 0xFFFE
)

// Clip is decoded audio held in memory, 8 kHz linear PCM. A Clip is immutable and
// may be played by any number of sources at once.
type Clip struct {
	samples []int16
}

// NewClip wraps samples (8 kHz linear PCM) as a clip; samples must not be modified afterwards.
func NewClip(samples []int16) *Clip { return &Clip{samples: samples} }

// Duration is the clip's length.
func (c *Clip) Duration() time.Duration {
	return time.Duration(len(c.samples)) * time.Second / SampleRate
}

// Samples returns the clip's audio (read only).
func (c *Clip) Samples() []int16 { return c.samples }

// Source plays the clip once; the last frame is padded with silence.
func (c *Clip) Source() Source { return &clipSource{clip: c} }

// Loop plays the clip over and over.
func (c *Clip) Loop() Source { return &clipSource{clip: c, loop: true} }

type clipSource struct {
	clip *Clip
	pos  int
	loop bool
}

func (s *clipSource) Next(frame []int16) bool {
	all := s.clip.samples
	if len(all) == 0 || (!s.loop && s.pos >= len(all)) {
		clear(frame)
		return false
	}
	n := 0
	for n < len(frame) {
		if s.pos >= len(all) {
			if !s.loop {
				clear(frame[n:])
				break
			}
			s.pos = 0
		}
		c := copy(frame[n:], all[s.pos:])
		n += c
		s.pos += c
	}
	return true
}

// LoadWAV reads a WAV file (8 kHz mono: 16-bit PCM, µ-law or A-law).
func LoadWAV(path string) (*Clip, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load wav: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxWAVBytes+1024))
	if err != nil {
		return nil, fmt.Errorf("load wav %s: %w", path, err)
	}
	clip, err := ParseWAV(data)
	if err != nil {
		return nil, fmt.Errorf("load wav %s: %w", path, err)
	}
	return clip, nil
}

// ParseWAV decodes a WAV held in memory (see LoadWAV).
func ParseWAV(data []byte) (*Clip, error) {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return nil, fmt.Errorf("not a RIFF WAVE file: %w", ErrUnsupportedWAV)
	}
	var (
		format      uint16
		channels    uint16
		rate        uint32
		bits        uint16
		haveFmt     bool
		payload     []byte
		havePayload bool
		rest        = data[12:]
	)
	for len(rest) >= 8 {
		id := string(rest[0:4])
		size := binary.LittleEndian.Uint32(rest[4:8])
		rest = rest[8:]
		if uint64(size) > uint64(len(rest)) {
			if id != "data" {
				return nil, fmt.Errorf("chunk %q truncated: %w", id, ErrUnsupportedWAV)
			}
			size = uint32(len(rest)) // tolerate a streaming writer's bogus data size
		}
		body := rest[:size]
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return nil, fmt.Errorf("fmt chunk too short: %w", ErrUnsupportedWAV)
			}
			format = binary.LittleEndian.Uint16(body[0:2])
			channels = binary.LittleEndian.Uint16(body[2:4])
			rate = binary.LittleEndian.Uint32(body[4:8])
			bits = binary.LittleEndian.Uint16(body[14:16])
			if format == wavFormatExtensible && len(body) >= 26 {
				format = binary.LittleEndian.Uint16(body[24:26])
			}
			haveFmt = true
		case "data":
			payload, havePayload = body, true
		}
		adv := int(size)
		if size%2 == 1 && adv < len(rest) {
			adv++ // chunks are word aligned
		}
		rest = rest[adv:]
		if haveFmt && havePayload {
			break
		}
	}
	if !haveFmt || !havePayload {
		return nil, fmt.Errorf("missing fmt or data chunk: %w", ErrUnsupportedWAV)
	}
	if channels != 1 || rate != SampleRate {
		return nil, fmt.Errorf("%d Hz %d channel(s), want 8000 Hz mono: %w", rate, channels, ErrUnsupportedWAV)
	}
	if len(payload) > maxWAVBytes {
		return nil, fmt.Errorf("%d bytes of audio is too long: %w", len(payload), ErrUnsupportedWAV)
	}
	switch {
	case format == wavFormatPCM && bits == 16:
		samples := make([]int16, len(payload)/2)
		for i := range samples {
			samples[i] = int16(binary.LittleEndian.Uint16(payload[2*i:]))
		}
		return NewClip(samples), nil
	case format == wavFormatULaw && bits == 8:
		return NewClip(ULawDecode(make([]int16, 0, len(payload)), payload)), nil
	case format == wavFormatALaw && bits == 8:
		return NewClip(ALawDecode(make([]int16, 0, len(payload)), payload)), nil
	}
	return nil, fmt.Errorf("format tag %d with %d bits per sample, want PCM16, µ-law or A-law: %w", format, bits, ErrUnsupportedWAV)
}

// EncodeWAV returns samples as an 8 kHz mono 16-bit PCM WAV file.
func EncodeWAV(samples []int16) []byte {
	var b bytes.Buffer
	dataLen := uint32(2 * len(samples))
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, 36+dataLen)
	b.WriteString("WAVEfmt ")
	_ = binary.Write(&b, binary.LittleEndian, struct {
		Size          uint32
		Format        uint16
		Channels      uint16
		Rate          uint32
		ByteRate      uint32
		BlockAlign    uint16
		BitsPerSample uint16
	}{16, wavFormatPCM, 1, SampleRate, SampleRate * 2, 2, 16})
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, dataLen)
	_ = binary.Write(&b, binary.LittleEndian, samples)
	return b.Bytes()
}
