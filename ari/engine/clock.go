package engine

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"linkctl/sip/media"
)

// The media clock. Every 20 ms it reads one frame from each bridged channel's
// MediaPort, relays (two parties) or mixes (three or more) and writes the
// result, and writes generated audio (playback, MOH, ringback). The RTP I/O
// behind the ports costs a syscall per frame, so a tick with hundreds of calls
// can run long on a busy machine: the clock keeps absolute 20 ms marks and runs
// the ticks it owes at once instead of dropping them, and while ticks run long
// it shares each one among a few goroutines (whole bridges per goroutine).

const (
	// maxCatchUp is how many frames a late clock still sends back to back. Our
	// and the far ends' jitter buffers hold no more than that (sip/media keeps
	// 8 packets), so frames older than this are lost anyway: they are skipped
	// and counted instead of delaying the audio further.
	maxCatchUp = 8
	// legsPerWorker is the least work (media legs) worth another goroutine.
	legsPerWorker = 64
	// maxTickWorkers bounds the goroutines of one tick.
	maxTickWorkers = 8
	// Sharing a tick costs CPU (goroutine wake-ups, the scheduler spinning):
	// measured +15 % for 500 relayed calls on 2 cores, with no shorter tick,
	// because the RTP I/O already keeps the other core busy, and ticks of 10-12
	// ms on one goroutine lost nothing there. So by default a tick is shared
	// only once ticks take longer than shareAbove on average (over about 8
	// ticks, so one preempted tick does not count), close to missing the frame,
	// and runs on one goroutine again when the average is under unshareBelow.
	shareAbove   = media.FrameDuration * 3 / 4
	unshareBelow = media.FrameDuration / 4
	// skipLogEvery rate-limits the warning about skipped frames.
	skipLogEvery = time.Second
)

// MediaClockStats are the media clock's counters since the engine was built.
type MediaClockStats struct {
	Ticks        uint64        // frames processed (Tick calls)
	LateTicks    uint64        // ticks run behind schedule, catching up
	SkippedTicks uint64        // frames given up after falling more than 8 frames behind
	LastTick     time.Duration // duration of the latest tick
	MaxTick      time.Duration // longest tick
	Workers      int           // goroutines that shared the latest tick
}

// MediaClock returns the media clock's counters (for metrics and benchmarks).
func (e *Engine) MediaClock() MediaClockStats {
	c := &e.clock
	return MediaClockStats{
		Ticks:        c.ticks.Load(),
		LateTicks:    c.late.Load(),
		SkippedTicks: c.skipped.Load(),
		LastTick:     time.Duration(c.lastTick.Load()),
		MaxTick:      time.Duration(c.maxTick.Load()),
		Workers:      int(c.workers.Load()),
	}
}

// mediaClock is the tick's scratch (touched only by Tick) and its counters.
type mediaClock struct {
	plan       tickPlan
	shards     []*tickShard
	wg         sync.WaitGroup
	maxWorkers int           // Options.MediaWorkers; 0: GOMAXPROCS when overloaded, at most maxTickWorkers
	sharing    bool          // default mode: ticks are currently shared (see shareAbove)
	avgTick    time.Duration // moving average of tick durations, weight 1/8

	ticks, late, skipped atomic.Uint64
	lastTick, maxTick    atomic.Int64
	workers              atomic.Int32
}

// tickPlan is what one media tick must do, captured under the engine lock and
// carried out without it, so technologies' ReadFrame/WriteFrame (RTP I/O) never
// hold up REST requests and events.
type tickPlan struct {
	due     time.Time    // when this frame is due by the clock's schedule
	members []planMember // all bridges' members, bridge after bridge
	sizes   []int        // member count of each planned bridge
	gens    []planGen
}

type planMember struct {
	media     MediaPort
	timed     TimedMediaPort // media, if it takes the frame's due time
	generated bool           // hears generated audio instead of the bridge
}

type planGen struct {
	src   media.Source
	media MediaPort
	timed TimedMediaPort
	pb    *Playback
}

// write sends frame to port, with its due time if the port takes it.
func write(port MediaPort, timed TimedMediaPort, frame []int16, due time.Time) {
	if timed != nil {
		timed.WriteFrameAt(frame, due)
		return
	}
	port.WriteFrame(frame)
}

// tickShard is one goroutine's part of a tick: whole bridges (a bridge is never
// split, its members' frames are mixed together) and a slice of the generated
// channels, with its own mixing buffers.
type tickShard struct {
	bridgeFrom, bridgeTo int // range of plan.sizes
	memberFrom           int // index in plan.members of the first member of bridgeFrom
	genFrom, genTo       int // range of plan.gens

	mixIn, mixOut [][]int16
	have          []bool
	gen           [FrameSamples]int16
	done          []*Playback // playbacks whose source ended in this tick
}

// schedule keeps the media clock on absolute 20 ms marks from its start, so a
// late tick neither shifts the following ones nor loses frames.
type schedule struct {
	start time.Time
	done  int64 // ticks run or skipped
}

// next says, at now, how long to wait before the next tick is due (0: run it
// now) and how many owed ticks to skip first because the clock fell more than
// maxCatchUp frames behind. late reports that the tick due is behind schedule
// by a frame or more (a catch-up tick).
// due is when the next tick to run is due.
func (s *schedule) due() time.Time { return s.start.Add(time.Duration(s.done+1) * media.FrameDuration) }

func (s *schedule) next(now time.Time) (wait time.Duration, skip int64, late bool) {
	due := s.due()
	if now.Before(due) {
		return due.Sub(now), 0, false
	}
	owed := int64(now.Sub(s.start)/media.FrameDuration) - s.done // >= 1
	if owed > maxCatchUp {
		skip = owed - maxCatchUp
	}
	return 0, skip, owed > 1
}

// Run drives the 20 ms media clock until ctx ends. It touches only bridges with
// at least one media port and channels generating audio, so channels without a
// MediaPort cost nothing. It logs nothing once ctx has ended (callers often do
// not wait for it); MediaClock has its counters.
func (e *Engine) Run(ctx context.Context) {
	sched := schedule{start: time.Now()}
	timer := time.NewTimer(media.FrameDuration)
	defer timer.Stop()
	var lastSkipLog time.Time
	for {
		wait, skip, late := sched.next(time.Now())
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if skip > 0 {
			sched.done += skip
			e.clock.skipped.Add(uint64(skip))
			if now := time.Now(); now.Sub(lastSkipLog) >= skipLogEvery {
				lastSkipLog = now
				e.log.Warn("media clock fell behind: frames skipped",
					zap.Int64("skipped_frames", skip), zap.Uint64("skipped_total", e.clock.skipped.Load()),
					zap.Duration("last_tick", time.Duration(e.clock.lastTick.Load())))
			}
		}
		if late {
			e.clock.late.Add(1)
		}
		e.tick(sched.due())
		sched.done++
	}
}

// Tick advances the media clock by one 20 ms frame (Run calls it; tests may call
// it directly, but never concurrently with Run).
func (e *Engine) Tick() { e.tick(time.Now()) }

// tick runs the frame due at due.
func (e *Engine) tick(due time.Time) {
	c := &e.clock
	start := time.Now()
	p := &c.plan
	p.due, p.members, p.sizes, p.gens = due, p.members[:0], p.sizes[:0], p.gens[:0]
	e.mu.Lock()
	for _, b := range e.bridges {
		if b.mediaMembers == 0 || len(b.members) < 2 {
			continue
		}
		for _, m := range b.members {
			timed, _ := m.media.(TimedMediaPort)
			p.members = append(p.members, planMember{media: m.media, timed: timed, generated: m.gen.src != nil})
		}
		p.sizes = append(p.sizes, len(b.members))
	}
	for ch := range e.generating {
		timed, _ := ch.media.(TimedMediaPort)
		p.gens = append(p.gens, planGen{src: ch.gen.src, media: ch.media, timed: timed, pb: ch.gen.pb})
	}
	e.unlock()

	wasSharing := c.sharing
	shards := c.split(c.workerCount(len(p.members) + len(p.gens)))
	if c.sharing != wasSharing {
		e.log.Debug("media tick sharing changed", zap.Bool("shared", c.sharing), zap.Int("workers", len(shards)),
			zap.Duration("avg_tick", c.avgTick), zap.Int("media_legs", len(p.members)+len(p.gens)))
	}
	// Two phases: a channel may be read in its bridge's shard and written with
	// generated audio in another, and a port must not see both at once.
	c.parallel(shards, (*tickShard).relay)
	c.parallel(shards, (*tickShard).generate)

	var done []*Playback
	for _, s := range shards {
		done = append(done, s.done...)
	}
	if len(done) > 0 {
		e.mu.Lock()
		for _, pb := range done {
			if pb.ch.playing == pb && !pb.ch.gone {
				e.finishPlaybackLocked(pb, PlaybackDone, true)
			}
		}
		e.unlock()
	}
	took := time.Since(start)
	c.ticks.Add(1)
	c.workers.Store(int32(len(shards)))
	c.lastTick.Store(int64(took))
	c.avgTick += (took - c.avgTick) / 8
	if int64(took) > c.maxTick.Load() {
		c.maxTick.Store(int64(took))
	}
}

// workerCount is how many goroutines share a tick of legs media legs: the
// configured number, or by default one until ticks run long (shareAbove).
func (c *mediaClock) workerCount(legs int) int {
	limit := c.maxWorkers
	if limit <= 0 {
		switch {
		case !c.sharing && c.avgTick > shareAbove:
			c.sharing = true
		case c.sharing && c.avgTick < unshareBelow:
			c.sharing = false
		}
		limit = 1
		if c.sharing {
			limit = min(runtime.GOMAXPROCS(0), maxTickWorkers)
		}
	}
	return max(1, min(limit, legs/legsPerWorker))
}

// split divides the plan into w shards of about equal member counts (whole
// bridges, in plan order, so the assignment is deterministic) and equal shares
// of the generated channels.
func (c *mediaClock) split(w int) []*tickShard {
	for len(c.shards) < w {
		c.shards = append(c.shards, &tickShard{})
	}
	p := &c.plan
	shards := c.shards[:w]
	total := len(p.members)
	bridge, member := 0, 0
	for k, s := range shards {
		s.bridgeFrom, s.memberFrom = bridge, member
		limit := (k + 1) * total / w
		for bridge < len(p.sizes) && (member < limit || k == w-1) {
			member += p.sizes[bridge]
			bridge++
		}
		s.bridgeTo = bridge
		s.genFrom, s.genTo = k*len(p.gens)/w, (k+1)*len(p.gens)/w
		s.done = s.done[:0]
	}
	return shards
}

// parallel runs phase on every shard, the first on the calling goroutine, and
// waits for all.
func (c *mediaClock) parallel(shards []*tickShard, phase func(*tickShard, *tickPlan)) {
	p := &c.plan
	for _, s := range shards[1:] {
		c.wg.Go(func() { phase(s, p) })
	}
	phase(shards[0], p)
	c.wg.Wait()
}

// relay reads the shard's bridges' members, relays or mixes, and writes back.
func (s *tickShard) relay(p *tickPlan) {
	off := s.memberFrom
	for _, n := range p.sizes[s.bridgeFrom:s.bridgeTo] {
		s.grow(n)
		in, out, have := s.mixIn[:n], s.mixOut[:n], s.have[:n]
		ms := p.members[off : off+n]
		off += n
		for i, m := range ms {
			have[i] = m.media != nil && m.media.ReadFrame(in[i])
		}
		if n == 2 {
			// Two parties: a straight relay, no mixing.
			copyFrame(out[0], in[1], have[1])
			copyFrame(out[1], in[0], have[0])
		} else {
			media.MixInto(out, in, have)
		}
		for i, m := range ms {
			if m.media != nil && !m.generated {
				write(m.media, m.timed, out[i], p.due)
			}
		}
	}
}

// generate writes the next frame of the shard's generated channels and notes
// the playbacks that ended.
func (s *tickShard) generate(p *tickPlan) {
	for _, g := range p.gens[s.genFrom:s.genTo] {
		ok := g.src.Next(s.gen[:])
		if g.media != nil {
			write(g.media, g.timed, s.gen[:], p.due)
		}
		if !ok && g.pb != nil {
			s.done = append(s.done, g.pb)
		}
	}
}

func (s *tickShard) grow(n int) {
	for len(s.mixIn) < n {
		s.mixIn = append(s.mixIn, make([]int16, FrameSamples))
		s.mixOut = append(s.mixOut, make([]int16, FrameSamples))
		s.have = append(s.have, false)
	}
}

func copyFrame(dst, src []int16, have bool) {
	if have {
		copy(dst, src)
		return
	}
	clear(dst)
}
