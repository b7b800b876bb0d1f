package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"linkctl/callflow"
	"linkctl/config"
)

// Store is linkctl's persistence adapter: call records, pushes and the
// ticket-system outbox in one SQLite file or one PostgreSQL database.
type Store struct {
	db     *sql.DB
	d      dialect
	target string // database, safe to log
	cfg    config.StoreConfig
	log    *zap.Logger
	policy *Policy
	now    func() time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Record writer: the newest unwritten version of each call.
	mu       sync.Mutex
	pending  map[string]buffered
	bufSeq   uint64
	inflight map[string]callflow.CallRecord // taken from pending by the running transaction
	closed   bool
	flushed  chan struct{} // closed and replaced after every write attempt
	wake     chan struct{}
	dropped  atomic.Int64

	// Fault state of the record writer, for Healthy.
	faultMu      sync.Mutex
	faultErr     error
	faultSince   time.Time
	faultLogged  time.Time
	faultRetries int

	subMu  sync.Mutex
	subs   map[int]chan callflow.CallRecord
	subSeq int

	sinks []*sinkWorker
}

// Open opens (creating if needed) the configured database, applies the
// migrations, and starts the record writer and one delivery worker per
// configured ticket system. Close stops them.
func Open(ctx context.Context, cfg config.StoreConfig, log *zap.Logger) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.WriteQueue <= 0 {
		cfg.WriteQueue = 4096
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = config.Duration(200 * time.Millisecond)
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = cfg.RetryMin * 50
	}
	if cfg.Path == "" {
		cfg.Path = "linkctl.db"
	}
	db, d, target, err := openDB(ctx, cfg.EffectiveDriver(), cfg.Path, cfg.DSNValue())
	if err != nil {
		return nil, err
	}
	applied, err := migrate(ctx, db, d)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", target, err)
	}
	ver, _ := schemaVersion(ctx, db)
	log = log.With(zap.String("store", target))
	log.Info("store open", zap.Ints("migrations_applied", applied), zap.Int("schema_version", ver),
		zap.Int("ticket_systems", len(cfg.TicketSystems)))
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Store{
		db: db, d: d, target: target, cfg: cfg, log: log,
		policy:  NewPolicy(cfg.Confidentiality),
		now:     func() time.Time { return time.Now().UTC() },
		ctx:     runCtx,
		cancel:  cancel,
		pending: map[string]buffered{},
		wake:    make(chan struct{}, 1),
		flushed: make(chan struct{}),
		subs:    map[int]chan callflow.CallRecord{},
	}
	for _, ts := range cfg.TicketSystems {
		s.sinks = append(s.sinks, newSinkWorker(s, ts))
	}
	s.wg.Add(1)
	go s.writeLoop()
	for _, w := range s.sinks {
		s.wg.Add(1)
		go w.run()
	}
	return s, nil
}

// Close flushes buffered records (bounded to a few seconds), stops the
// workers and closes the database. Safe to call twice.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	lost := len(s.pending)
	s.mu.Unlock()
	if lost > 0 {
		s.log.Error("store closed with unwritten call records", zap.Int("records", lost))
	}
	s.subMu.Lock()
	for id, ch := range s.subs {
		close(ch)
		delete(s.subs, id)
	}
	s.subs = nil
	s.subMu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.target, err)
	}
	return nil
}

// Healthy reports whether the database answers and record writes succeed;
// the API's /readyz calls it.
func (s *Store) Healthy(ctx context.Context) error {
	s.faultMu.Lock()
	ferr, since := s.faultErr, s.faultSince
	s.faultMu.Unlock()
	if ferr != nil {
		s.mu.Lock()
		n := len(s.pending)
		s.mu.Unlock()
		return fmt.Errorf("%w: %s: call-record writes failing since %s (%d buffered, %d dropped): %w",
			ErrUnhealthy, s.target, since.Format(time.RFC3339), n, s.dropped.Load(), ferr)
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.db.PingContext(pctx); err != nil {
		return fmt.Errorf("%w: %s: ping: %w", ErrUnhealthy, s.target, err)
	}
	return nil
}

// Target names the database (without secrets), e.g. "sqlite:/srv/linkctl.db".
func (s *Store) Target() string { return s.target }

func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin %s: %w", s.target, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit %s: %w", s.target, err)
	}
	return nil
}

// setFault records a failing write; the first failure and then one per
// minute are logged at error level so that a full disk or a lost database
// cannot go unnoticed.
func (s *Store) setFault(err error, buffered int) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	now := time.Now()
	if s.faultErr == nil {
		s.faultSince = now
	}
	s.faultErr = err
	s.faultRetries++
	if s.faultLogged.IsZero() || now.Sub(s.faultLogged) >= time.Minute {
		s.faultLogged = now
		s.log.Error("STORE WRITE FAILING: call records are buffered in memory, calls go on",
			zap.Error(err), zap.Int("buffered", buffered), zap.Int64("dropped", s.dropped.Load()),
			zap.Time("since", s.faultSince), zap.Int("retries", s.faultRetries))
	}
}

func (s *Store) clearFault() {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	if s.faultErr != nil {
		s.log.Warn("store writes recovered", zap.Duration("outage", time.Since(s.faultSince)), zap.Int("retries", s.faultRetries))
	}
	s.faultErr, s.faultLogged, s.faultRetries = nil, time.Time{}, 0
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// buffered is a record version waiting for the writer; seq orders arrivals.
type buffered struct {
	rec callflow.CallRecord
	seq uint64
}

var errNoID = errors.New("call record without id")
