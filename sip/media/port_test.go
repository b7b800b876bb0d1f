package media_test

import (
	"linkctl/ari/engine"
	"linkctl/sip/media"
)

// The switch core reads and writes channel audio through engine.MediaPort.
var _ engine.MediaPort = (*media.Session)(nil)

// Frame sizes must agree between the engine and the DSP code.
var _ = [1]struct{}{}[engine.FrameSamples-media.FrameSamples]
