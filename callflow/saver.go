package callflow

import (
	"context"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"
)

// saver hands record versions to the sink without ever blocking a call. A version
// the sink refuses (the store's write buffer full during a long database outage) is
// held, newest version per call only, and offered again with backoff in the
// background until the sink takes it: an ended version is never lost while the
// controller runs. Later versions of a call with a held version replace it rather
// than overtaking it.
type saver struct {
	sink     RecordSink
	log      *zap.Logger
	min, max time.Duration

	mu   sync.Mutex
	held map[string]heldRecord
	seq  uint64
	wake chan struct{}
}

type heldRecord struct {
	rec CallRecord
	seq uint64 // order of first refusal: oldest offered first
}

func newSaver(sink RecordSink, log *zap.Logger) *saver {
	return &saver{sink: sink, log: log, min: 50 * time.Millisecond, max: 5 * time.Second,
		held: map[string]heldRecord{}, wake: make(chan struct{}, 1)}
}

// save offers rec to the sink, or holds it for the retry loop.
func (s *saver) save(rec CallRecord) {
	if s == nil || s.sink == nil {
		return
	}
	s.mu.Lock()
	if h, ok := s.held[rec.ID]; ok {
		if rec.Version > h.rec.Version {
			s.held[rec.ID] = heldRecord{rec: rec, seq: h.seq}
		}
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	err := s.sink.SaveCall(rec)
	if err == nil {
		return
	}
	s.mu.Lock()
	if h, ok := s.held[rec.ID]; !ok || rec.Version > h.rec.Version {
		s.seq++
		s.held[rec.ID] = heldRecord{rec: rec, seq: s.seq}
	}
	n := len(s.held)
	s.mu.Unlock()
	s.log.Warn("record sink refused a version; holding it for retry", zap.String("call_id", rec.ID),
		zap.Int64("version", rec.Version), zap.Bool("ended", rec.Ended != nil), zap.Int("held", n), zap.Error(err))
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pending is how many calls have a version waiting for the sink.
func (s *saver) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// run retries held versions with backoff until ctx ends; then it offers them once
// more and logs, at error level, any the sink still refuses.
func (s *saver) run(ctx context.Context) {
	backoff := s.min
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			for _, rec := range s.retry() {
				s.log.Error("call record version lost: sink still refuses it at shutdown", zap.String("call_id", rec.ID),
					zap.Int64("version", rec.Version), zap.Bool("ended", rec.Ended != nil))
			}
			return
		case <-s.wake:
			timer.Reset(backoff)
			continue
		case <-timer.C:
		}
		switch left := s.retry(); {
		case len(left) > 0:
			backoff = min(backoff*2, s.max)
			timer.Reset(backoff)
		case s.pending() > 0:
			// A newer version replaced one just accepted: offer it too.
			backoff = s.min
			timer.Reset(backoff)
		default:
			backoff = s.min
		}
	}
}

// retry offers every held version, oldest first, and returns those still refused.
func (s *saver) retry() []CallRecord {
	s.mu.Lock()
	hs := make([]heldRecord, 0, len(s.held))
	for _, h := range s.held {
		hs = append(hs, h)
	}
	s.mu.Unlock()
	sort.Slice(hs, func(i, j int) bool { return hs[i].seq < hs[j].seq })
	var left []CallRecord
	for _, h := range hs {
		if err := s.sink.SaveCall(h.rec); err != nil {
			left = append(left, h.rec)
			continue
		}
		s.mu.Lock()
		if cur, ok := s.held[h.rec.ID]; ok && cur.rec.Version == h.rec.Version {
			delete(s.held, h.rec.ID)
		}
		s.mu.Unlock()
		s.log.Info("held record version accepted by the sink", zap.String("call_id", h.rec.ID), zap.Int64("version", h.rec.Version))
	}
	return left
}
