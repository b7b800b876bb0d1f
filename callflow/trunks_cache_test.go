package callflow

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingPBX answers EndpointState slowly and counts the requests.
type countingPBX struct {
	PBX
	n     atomic.Int32
	state EndpointStatus
}

func (p *countingPBX) EndpointState(ctx context.Context, tech, resource string) (EndpointStatus, error) {
	p.n.Add(1)
	time.Sleep(20 * time.Millisecond)
	return p.state, nil
}

// TestEndpointCacheSharesOneLookup: a burst of concurrent transfers towards one
// platform reads each endpoint once; after the TTL the state is read again, and an
// offline answer is never reused (a platform that comes back is usable at once).
func TestEndpointCacheSharesOneLookup(t *testing.T) {
	pbx := &countingPBX{state: EndpointOnline}
	var c endpointCache
	ref := endpointRef{Tech: "PJSIP", Resource: "to110", Trunk: true}
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := c.state(context.Background(), pbx, ref)
			if err != nil || st != EndpointOnline {
				t.Errorf("state = %v, %v; want online", st, err)
			}
		}()
	}
	wg.Wait()
	if n := pbx.n.Load(); n != 1 {
		t.Fatalf("200 concurrent look-ups made %d PBX requests, want 1", n)
	}
	c.mu.Lock()
	c.entries[ref].at = time.Now().Add(-2 * endpointStateTTL)
	c.mu.Unlock()
	pbx.state = EndpointOffline
	if st, _ := c.state(context.Background(), pbx, ref); st != EndpointOffline || pbx.n.Load() != 2 {
		t.Fatalf("after the TTL: state %v after %d requests, want offline after 2", st, pbx.n.Load())
	}
	pbx.state = EndpointOnline
	if st, _ := c.state(context.Background(), pbx, ref); st != EndpointOnline || pbx.n.Load() != 3 {
		t.Fatalf("offline was reused: state %v after %d requests, want online after 3", st, pbx.n.Load())
	}
}
