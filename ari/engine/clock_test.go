package engine

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"linkctl/sip/media"
)

// TestScheduleCatchesUp: the clock stays on absolute 20 ms marks; a tick that
// ran late is followed at once by the ones owed, and only frames more than
// maxCatchUp behind are skipped.
func TestScheduleCatchesUp(t *testing.T) {
	start := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	f := media.FrameDuration
	tests := []struct {
		name     string
		done     int64
		at       time.Duration // since start
		wantWait time.Duration
		wantSkip int64
		wantLate bool
	}{
		{"before the first tick", 0, 5 * time.Millisecond, 15 * time.Millisecond, 0, false},
		{"first tick due", 0, f, 0, 0, false},
		{"on time, jitter inside the frame", 3, 4*f + time.Millisecond, 0, 0, false},
		{"next mark is absolute, not now+20ms", 4, 4*f + 7*time.Millisecond, 13 * time.Millisecond, 0, false},
		{"one frame late: catch up", 3, 5 * f, 0, 0, true},
		{"stalled 100 ms: run the 5 owed ticks", 10, 15*f + time.Millisecond, 0, 0, true},
		{"exactly maxCatchUp owed: nothing skipped", 10, (10 + maxCatchUp) * f, 0, 0, true},
		{"stalled 1 s: skip all but maxCatchUp", 0, 50 * f, 0, 50 - maxCatchUp, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := schedule{start: start, done: tt.done}
			wait, skip, late := s.next(start.Add(tt.at))
			if wait != tt.wantWait || skip != tt.wantSkip || late != tt.wantLate {
				t.Errorf("next(+%v) with %d done = wait %v skip %d late %v, want %v %d %v",
					tt.at, tt.done, wait, skip, late, tt.wantWait, tt.wantSkip, tt.wantLate)
			}
		})
	}
}

// TestScheduleReplaysStall drives the schedule through a simulated 130 ms
// stall and checks that every frame of the elapsed time gets a tick.
func TestScheduleReplaysStall(t *testing.T) {
	start := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	now := start
	s := schedule{start: start}
	ticks, late := 0, 0
	for !now.After(start.Add(time.Second)) {
		wait, skip, l := s.next(now)
		if wait > 0 {
			now = now.Add(wait)
			continue
		}
		if skip != 0 {
			t.Fatalf("skipped %d frames after a stall shorter than the catch-up window", skip)
		}
		ticks++
		if l {
			late++
		}
		s.done++
		now = now.Add(100 * time.Microsecond) // a tick's own cost
		if ticks == 10 {
			now = now.Add(130 * time.Millisecond) // the machine stalls the clock
		}
	}
	if want := int(time.Second / media.FrameDuration); ticks != want {
		t.Errorf("%d ticks in 1 s with a stall, want %d", ticks, want)
	}
	// ticks 11-16 were due at 220-320 ms and ran at 330 ms: the first five a
	// frame or more behind, the sixth still inside its own frame
	if late != 5 {
		t.Errorf("%d catch-up ticks after a 130 ms stall, want 5", late)
	}
}

// idPort is a MediaPort that says its own number in every sample and records
// the first sample of every frame it hears.
type idPort struct {
	id    int16
	mu    sync.Mutex
	heard []int16
}

func (p *idPort) ReadFrame(buf []int16) bool {
	for i := range buf {
		buf[i] = p.id
	}
	return true
}

func (p *idPort) WriteFrame(f []int16) {
	p.mu.Lock()
	p.heard = append(p.heard, f[0])
	p.mu.Unlock()
}

func (p *idPort) last() (int16, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.heard) == 0 {
		return 0, 0
	}
	return p.heard[len(p.heard)-1], len(p.heard)
}

// TestTickShardsKeepBridgesApart: with the tick shared by several goroutines,
// every member of every bridge hears exactly its own bridge's other members,
// once per tick, whichever shard its bridge fell in.
func TestTickShardsKeepBridgesApart(t *testing.T) {
	for _, workers := range []int{1, 2, 3, 6} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			e := New(Options{}, nil)
			e.clock.maxWorkers = workers
			// 152 two-party and 38 three-party bridges: 418 legs, enough for 6 shards
			var bridges [][]*idPort
			id := int16(1)
			e.mu.Lock()
			for i := range 190 {
				size := 2
				if i%5 == 4 {
					size = 3
				}
				b := &Bridge{id: fmt.Sprintf("b%d", i)}
				var ports []*idPort
				for range size {
					p := &idPort{id: id}
					id++
					ch := &Channel{id: fmt.Sprintf("c%d", p.id), media: p, bridge: b}
					b.members = append(b.members, ch)
					b.mediaMembers++
					ports = append(ports, p)
				}
				e.bridges[b.id] = b
				bridges = append(bridges, ports)
			}
			e.mu.Unlock()
			for range 3 {
				e.Tick()
			}
			if got := e.MediaClock().Workers; got != workers {
				t.Errorf("tick shared by %d goroutines, want %d", got, workers)
			}
			for _, ports := range bridges {
				var sum int16
				for _, p := range ports {
					sum += p.id
				}
				for _, p := range ports {
					heard, n := p.last()
					if want := sum - p.id; heard != want || n != 3 {
						t.Errorf("port %d (bridge of %d) heard %d in %d frames, want %d in 3", p.id, len(ports), heard, n, want)
					}
				}
			}
		})
	}
}

// timedPort is an idPort that also takes frames' due times.
type timedPort struct {
	idPort
	dues []time.Time
}

func (p *timedPort) WriteFrameAt(f []int16, due time.Time) {
	p.mu.Lock()
	p.dues = append(p.dues, due)
	p.mu.Unlock()
	p.WriteFrame(f)
}

// TestTickHandsDueTimeToTimedPorts: a port that stamps its own timing gets the
// schedule's due time of each frame, relayed or generated, not the wall time
// of a catch-up burst; a plain port still gets WriteFrame.
func TestTickHandsDueTimeToTimedPorts(t *testing.T) {
	e := New(Options{}, nil)
	timed, plain := &timedPort{idPort: idPort{id: 1}}, &idPort{id: 2}
	e.mu.Lock()
	b := &Bridge{id: "b"}
	for i, p := range []MediaPort{timed, plain} {
		b.members = append(b.members, &Channel{id: fmt.Sprintf("c%d", i), media: p, bridge: b})
		b.mediaMembers++
	}
	e.bridges[b.id] = b
	e.mu.Unlock()
	base := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	dues := []time.Time{base, base.Add(20 * time.Millisecond), base.Add(40 * time.Millisecond)}
	for _, d := range dues {
		e.tick(d)
	}
	timed.mu.Lock()
	got := append([]time.Time(nil), timed.dues...)
	timed.mu.Unlock()
	if len(got) != len(dues) {
		t.Fatalf("timed port got %d due times, want %d", len(got), len(dues))
	}
	for i := range dues {
		if !got[i].Equal(dues[i]) {
			t.Errorf("frame %d due %v, want %v", i, got[i], dues[i])
		}
	}
	if heard, n := plain.last(); heard != 1 || n != 3 {
		t.Errorf("plain port heard %d in %d frames, want 1 in 3", heard, n)
	}
}

// TestTickSharedOnlyWhenLong: by default a tick runs on one goroutine, is
// shared once ticks take more than 3/4 of a frame on average, and stays shared
// until they are short again (hysteresis, so it does not flap); a configured
// count is kept.
func TestTickSharedOnlyWhenLong(t *testing.T) {
	shared := min(runtime.GOMAXPROCS(0), maxTickWorkers, 1000/legsPerWorker)
	steps := []struct {
		avgTick time.Duration
		legs    int
		want    int
	}{
		{0, 1000, 1},
		{12 * time.Millisecond, 1000, 1},
		{16 * time.Millisecond, 1000, shared},
		{8 * time.Millisecond, 1000, shared}, // between the thresholds: still shared
		{16 * time.Millisecond, 100, 1},      // too few legs to split
		{4 * time.Millisecond, 1000, 1},      // short again
		{12 * time.Millisecond, 1000, 1},     // and stays single
		{25 * time.Millisecond, 1000, shared},
	}
	var c mediaClock
	for i, s := range steps {
		c.avgTick = s.avgTick
		if got := c.workerCount(s.legs); got != s.want {
			t.Errorf("step %d: ticks %v on average, %d legs: %d workers, want %d", i, s.avgTick, s.legs, got, s.want)
		}
	}
	fixed := mediaClock{maxWorkers: 3}
	if got := fixed.workerCount(1000); got != 3 {
		t.Errorf("configured 3 workers, got %d", got)
	}
}
