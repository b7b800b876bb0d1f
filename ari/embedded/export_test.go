package embedded

// ClockStopped is closed once the switch's media clock (engine.Run) returned.
func (sw *Switch) ClockStopped() <-chan struct{} { return sw.ran }

// ServerStopped is closed once the ARI server returned.
func (sw *Switch) ServerStopped() <-chan struct{} { return sw.done }
