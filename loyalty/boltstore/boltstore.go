package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/cdpkit/cdpkit/loyalty"
)

// Options tune a Store; nil means defaults.
type Options struct {
	// MaxBatch caps the commits written in one bbolt transaction
	// (default 2048).
	MaxBatch int
	// Timeout waits this long for another process's file lock before
	// failing (default 1s).
	Timeout time.Duration
	// InitialMmapSize reserves address space for the file so readers are
	// not stalled while a growing file is remapped (default 256 MiB).
	InitialMmapSize int
	// MaxGather caps how long the committer holds a batch open for the
	// callers it expects back: those it released with the previous batch,
	// which usually return within a moment with their next commit. It
	// applies the commits it has to the write transaction meanwhile,
	// never waits longer than the previous commit's write and sync took,
	// and not at all for a caller working alone. Default 10ms; negative:
	// never wait, commit whatever is queued.
	MaxGather time.Duration
}

// Store is a loyalty.Store on a bbolt file.
type Store struct {
	db        *bolt.DB
	reqs      chan *request
	maxBatch  int
	maxGather time.Duration
	done      chan struct{}

	mu     sync.RWMutex // guards closed and sends on reqs
	closed bool
}

// request is one transaction's writes: one member's, or several for a
// merge. Requests are pooled: the committer forgets one once it has sent
// its outcome.
type request struct {
	cs  []*loyalty.Commit
	one [1]*loyalty.Commit // cs of a single commit
	err chan error
}

var requests = sync.Pool{New: func() any { return &request{err: make(chan error, 1)} }}

var _ loyalty.MultiStore = (*Store)(nil)

var (
	bucketTx   = []byte("tx")
	bucketM    = []byte("m")
	bucketMeta = []byte("meta")
	formatKey  = []byte("format")
	formatName = []byte("cdpkit-loyalty/2")
	// formatV1 files differ only in that all their entries are in the
	// first entry layouts, which this version reads too: opening one
	// upgrades its mark, so that a binary that cannot read the entries
	// written from then on refuses the file instead of misreading it.
	formatV1 = []byte("cdpkit-loyalty/1")
)

// Open opens or creates the store at path.
func Open(path string, o *Options) (*Store, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 2048
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.InitialMmapSize <= 0 {
		opts.InitialMmapSize = 256 << 20
	}
	switch {
	case opts.MaxGather == 0:
		opts.MaxGather = 10 * time.Millisecond
	case opts.MaxGather < 0:
		opts.MaxGather = 0
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         opts.Timeout,
		InitialMmapSize: opts.InitialMmapSize,
		// The freelist is rebuilt on open instead of written on every
		// commit: fewer pages per sync on the hot path.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// Statistics take a mutex shared by every transaction, twice per
		// read: contended by the hundreds of callers group commit wants,
		// for figures nothing reads.
		NoStatistics: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open loyalty store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch f := meta.Get(formatKey); {
		case f == nil || bytes.Equal(f, formatV1):
			if err := meta.Put(formatKey, formatName); err != nil {
				return err
			}
		case !bytes.Equal(f, formatName):
			return fmt.Errorf("file format %q, want %q", f, formatName)
		}
		for _, b := range [][]byte{bucketTx, bucketM} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open loyalty store %s: %w", path, err)
	}
	s := &Store{db: db, reqs: make(chan *request, opts.MaxBatch), maxBatch: opts.MaxBatch, maxGather: opts.MaxGather,
		done: make(chan struct{})}
	go s.commitLoop()
	return s, nil
}

// view runs a read transaction, reporting a closed store as
// loyalty.ErrClosed.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return loyalty.ErrClosed
	}
	err := s.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return loyalty.ErrClosed
	}
	return err
}

// Path returns the file's path.
func (s *Store) Path() string { return s.db.Path() }

func memberKey(m uint32, kind byte, rest []byte) []byte {
	k := make([]byte, 5, 5+len(rest))
	binary.BigEndian.PutUint32(k, m)
	k[4] = kind
	return append(k, rest...)
}

func entryKey(m uint32, seq uint64) []byte {
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	return memberKey(m, 'e', s[:])
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return bytes.Clone(b)
}

// Load implements loyalty.Store.
func (s *Store) Load(ctx context.Context, member uint32, tx, doc string) (loyalty.Loaded, error) {
	var l loyalty.Loaded
	err := s.view(func(btx *bolt.Tx) error {
		if tx != "" {
			l.Tx = clone(btx.Bucket(bucketTx).Get([]byte(tx)))
		}
		c := btx.Bucket(bucketM).Cursor()
		var buf [64]byte
		k := keyBuf(buf[:0])
		l.Account = clone(get(c, k.member(member, 'a', "")))
		if doc != "" && l.Account != nil {
			l.Doc = clone(get(c, k.member(member, 'd', doc)))
		}
		return nil
	})
	return l, err
}

// Tx implements loyalty.Store.
func (s *Store) Tx(ctx context.Context, tx string) ([]byte, error) {
	var v []byte
	err := s.view(func(btx *bolt.Tx) error {
		v = clone(btx.Bucket(bucketTx).Get([]byte(tx)))
		return nil
	})
	return v, err
}

// Commit implements loyalty.Store. Once the commit is queued it waits for
// the outcome even if ctx is cancelled, since the commit may already be on
// disk.
func (s *Store) Commit(ctx context.Context, c *loyalty.Commit) error {
	r := requests.Get().(*request)
	r.one[0] = c
	return s.commit(ctx, r, r.one[:])
}

// CommitMulti implements loyalty.MultiStore: the commits are written in
// one bbolt transaction (they share the batch of other callers, as any
// commit does), so a crash leaves all of them or none.
func (s *Store) CommitMulti(ctx context.Context, cs []*loyalty.Commit) error {
	if len(cs) == 0 {
		return errors.New("commit of nothing")
	}
	return s.commit(ctx, requests.Get().(*request), cs)
}

// commit queues r with cs, waits for its outcome and returns r to the
// pool.
func (s *Store) commit(ctx context.Context, r *request, cs []*loyalty.Commit) error {
	r.cs = cs
	defer func() {
		// The caller's commits are not kept alive by the pool.
		r.cs, r.one[0] = nil, nil
		requests.Put(r)
	}()
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return loyalty.ErrClosed
	}
	select {
	case s.reqs <- r:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	return <-r.err
}

// errSkip marks a commit refused on its own merits (duplicate tx, taken
// sequence number): the rest of its batch goes ahead.
type errSkip struct{ err error }

// Error returns the refusal.
func (e errSkip) Error() string { return e.err.Error() }

func (s *Store) commitLoop() {
	defer close(s.done)
	batch := make([]*request, 0, s.maxBatch)
	errs := make([]error, 0, s.maxBatch)
	w := &writer{k: make(keyBuf, 0, 64)}
	// expect is how many commits the next batch should hold: the callers
	// released with the last batch plus those already waiting then. A
	// caller released by a commit is back with its next one after a few
	// microseconds of work; taking only what is queued at that instant
	// splits the callers into cohorts that take turns, each syncing half
	// as many commits as it could. The batch is applied to the write
	// transaction while it gathers, so the wait overlaps the work of
	// applying; lastTook bounds it: holding a batch open longer than the
	// rest of a commit takes cannot pay.
	expect, lastTook := 1, time.Duration(0)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for first := range s.reqs {
		batch = append(batch[:0], first)
		errs = errs[:0]
		open := s.drain(&batch)
		wait := min(s.maxGather, lastTook)
		if open && len(batch) < expect && wait > 0 {
			timer.Reset(wait)
		} else {
			open = false
		}
		var gathered time.Time
		err := s.db.Update(func(tx *bolt.Tx) error {
			w.begin(tx)
			defer w.end()
			for {
				for _, r := range batch[len(errs):] {
					e := w.apply(r.cs)
					errs = append(errs, e)
					var sk errSkip
					if e != nil && !errors.As(e, &sk) {
						return e
					}
				}
				if !open || len(batch) >= min(expect, s.maxBatch) {
					break
				}
				select {
				case r, ok := <-s.reqs:
					if !ok {
						open = false
						break
					}
					batch = append(batch, r)
					open = s.drain(&batch)
				case <-timer.C:
					open = false
				}
			}
			gathered = time.Now()
			return nil
		})
		timer.Stop()
		if err != nil && len(batch) > 1 {
			// One bad commit must not fail its neighbours: retry each
			// alone, so only the culprit (or a real I/O failure) fails.
			errs = errs[:len(batch)]
			for i, r := range batch {
				errs[i] = s.db.Update(func(tx *bolt.Tx) error {
					w.begin(tx)
					defer w.end()
					return w.apply(r.cs)
				})
			}
			err = nil
		}
		for i, r := range batch {
			e := err
			if e == nil {
				e = errs[i]
			}
			var sk errSkip
			if errors.As(e, &sk) {
				e = sk.err
			}
			r.err <- e
		}
		if !gathered.IsZero() {
			lastTook = time.Since(gathered)
		}
		expect = len(batch) + len(s.reqs)
	}
}

// drain appends the commits queued now to batch, up to the batch limit,
// and reports whether the queue is still open.
func (s *Store) drain(batch *[]*request) bool {
	for len(*batch) < s.maxBatch {
		select {
		case r, ok := <-s.reqs:
			if !ok {
				return false
			}
			*batch = append(*batch, r)
		default:
			return true
		}
	}
	return true
}

// get is Bucket.Get on c's bucket through c: a Get makes a cursor whose
// path from the root grows, allocating, on every call, while c keeps its
// path's storage for the next read.
func get(c *bolt.Cursor, key []byte) []byte {
	if k, v := c.Seek(key); bytes.Equal(k, key) {
		return v
	}
	return nil
}

// keyBuf builds keys in one reused buffer: bbolt copies the keys it
// stores, so the writer need not allocate one per read and write.
type keyBuf []byte

func (k *keyBuf) tx(tx string) []byte {
	*k = append((*k)[:0], tx...)
	return *k
}

func (k *keyBuf) member(m uint32, kind byte, rest string) []byte {
	*k = append(binary.BigEndian.AppendUint32((*k)[:0], m), kind)
	*k = append(*k, rest...)
	return *k
}

func (k *keyBuf) entry(m uint32, seq uint64) []byte {
	*k = binary.BigEndian.AppendUint64(append(binary.BigEndian.AppendUint32((*k)[:0], m), 'e'), seq)
	return *k
}

// writer is the committer's state in one write transaction.
type writer struct {
	txb, m  *bolt.Bucket
	txc, mc *bolt.Cursor // for reads: see get
	k       keyBuf
}

func (w *writer) begin(tx *bolt.Tx) {
	w.txb, w.m = tx.Bucket(bucketTx), tx.Bucket(bucketM)
	w.txc, w.mc = w.txb.Cursor(), w.m.Cursor()
}

// end forgets the transaction, whose dirty nodes the cursors would keep
// alive until the next.
func (w *writer) end() { w.txb, w.m, w.txc, w.mc = nil, nil, nil, nil }

// apply writes one transaction's commits inside w's bbolt transaction,
// or refuses them (errSkip) before writing anything.
func (w *writer) apply(cs []*loyalty.Commit) error {
	txb, m, k := w.txb, w.m, &w.k
	if get(w.txc, k.tx(cs[0].Tx)) != nil {
		return errSkip{loyalty.ErrTxExists}
	}
	for i, c := range cs {
		if len(c.Entries) > 0 && get(w.mc, k.entry(c.Member, c.FirstSeq)) != nil {
			return errSkip{fmt.Errorf("member %d: entry %d already written", c.Member, c.FirstSeq)}
		}
		for _, d := range cs[:i] {
			if d.Member == c.Member {
				return errSkip{fmt.Errorf("member %d named twice in one commit", c.Member)}
			}
		}
	}
	if err := txb.Put(k.tx(cs[0].Tx), cs[0].TxRecord); err != nil {
		return err
	}
	for _, c := range cs {
		if err := m.Put(k.member(c.Member, 'a', ""), c.Account); err != nil {
			return err
		}
		if c.DocKey != "" {
			if err := m.Put(k.member(c.Member, 'd', c.DocKey), c.Doc); err != nil {
				return err
			}
		}
		for i, e := range c.Entries {
			if err := m.Put(k.entry(c.Member, c.FirstSeq+uint64(i)), e); err != nil {
				return err
			}
		}
	}
	return nil
}

// readChunk is how many records one read transaction yields: walks never
// hold a read transaction while the caller runs, which could stall a
// growing file's remap and, through it, commits.
const readChunk = 1024

// Entries implements loyalty.Store.
func (s *Store) Entries(ctx context.Context, member uint32, from uint64) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		next := from
		for {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			var chunk [][]byte
			err := s.view(func(tx *bolt.Tx) error {
				c := tx.Bucket(bucketM).Cursor()
				prefix := memberKey(member, 'e', nil)
				for k, v := c.Seek(entryKey(member, next)); k != nil && bytes.HasPrefix(k, prefix) && len(chunk) < readChunk; k, v = c.Next() {
					if seq := binary.BigEndian.Uint64(k[5:]); seq != next {
						return fmt.Errorf("member %d: entry %d missing (next is %d)", member, next, seq)
					}
					chunk = append(chunk, bytes.Clone(v))
					next++
				}
				return nil
			})
			if err != nil {
				yield(nil, err)
				return
			}
			for _, e := range chunk {
				if !yield(e, nil) {
					return
				}
			}
			if len(chunk) < readChunk {
				return
			}
		}
	}
}

// Accounts implements loyalty.Store.
func (s *Store) Accounts(ctx context.Context) iter.Seq2[loyalty.MemberRecord, error] {
	return func(yield func(loyalty.MemberRecord, error) bool) {
		next, more := uint32(0), true
		for more {
			if err := ctx.Err(); err != nil {
				yield(loyalty.MemberRecord{}, err)
				return
			}
			var chunk []loyalty.MemberRecord
			err := s.view(func(tx *bolt.Tx) error {
				c := tx.Bucket(bucketM).Cursor()
				// Seek member by member: a member's account key sorts
				// before its documents and entries, which are skipped.
				for len(chunk) < readChunk {
					var start [4]byte
					binary.BigEndian.PutUint32(start[:], next)
					k, v := c.Seek(start[:])
					if k == nil {
						more = false
						return nil
					}
					m := binary.BigEndian.Uint32(k)
					if len(k) == 5 && k[4] == 'a' {
						chunk = append(chunk, loyalty.MemberRecord{Member: m, Account: bytes.Clone(v)})
					}
					if m == 1<<32-1 {
						more = false
						return nil
					}
					next = m + 1
				}
				return nil
			})
			if err != nil {
				yield(loyalty.MemberRecord{}, err)
				return
			}
			for _, r := range chunk {
				if !yield(r, nil) {
					return
				}
			}
		}
	}
}

// Close waits for queued commits, stops the committer and closes the
// file. Later operations fail with loyalty.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.mu.Unlock()
	<-s.done
	return s.db.Close()
}
