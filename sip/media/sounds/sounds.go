// Package sounds ships the Chinese (zh-CN) announcements the switch plays to
// callers, as 8 kHz mono 16-bit WAV files embedded in the binary. generate.sh
// regenerates them with espeak-ng and sox; nothing here touches the file system.
package sounds

import (
	"embed"
	"errors"
	"fmt"
	"slices"
	"sync"

	"linkctl/sip/media"
)

//go:embed *.wav
var files embed.FS

// The announcement names (also the ARI media URI "sound:<name>").
const (
	Transfer110      = "transfer-110"
	Transfer12345    = "transfer-12345"
	TransferNoAnswer = "transfer-noanswer"
	ThreeWay         = "threeway"
	Emergency110     = "emergency-110"
)

// texts is what each announcement says.
var texts = map[string]string{
	Transfer110:      "正在为您转接110，请稍候",
	Transfer12345:    "正在为您转接12345，请稍候",
	TransferNoAnswer: "对方暂时无人接听，正在为您接回原坐席",
	ThreeWay:         "正在为您建立三方通话，请稍候",
	Emergency110:     "紧急警情，正在优先转接110",
}

// ErrUnknownSound is returned (wrapped) by Open for a name that is not shipped.
var ErrUnknownSound = errors.New("unknown sound")

var (
	mu    sync.Mutex
	cache = map[string]*media.Clip{}
)

// Names lists the shipped announcements, sorted.
func Names() []string {
	names := make([]string, 0, len(texts))
	for n := range texts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Text is the Chinese sentence an announcement speaks ("" if unknown).
func Text(name string) string { return texts[name] }

// Open returns the decoded announcement. Clips are decoded once and shared
// (a Clip is immutable; each Source() plays independently).
func Open(name string) (*media.Clip, error) {
	mu.Lock()
	defer mu.Unlock()
	if c, ok := cache[name]; ok {
		return c, nil
	}
	if _, ok := texts[name]; !ok {
		return nil, fmt.Errorf("open sound %q: %w", name, ErrUnknownSound)
	}
	data, err := files.ReadFile(name + ".wav")
	if err != nil {
		return nil, fmt.Errorf("open sound %q: %w", name, err)
	}
	c, err := media.ParseWAV(data)
	if err != nil {
		return nil, fmt.Errorf("open sound %q: %w", name, err)
	}
	cache[name] = c
	return c, nil
}
