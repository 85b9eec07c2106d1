package loyalty

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"iter"
	"slices"
	"sync"
	"sync/atomic"
)

// MemStore is an in-memory Store for tests and for replays that need no
// durability. It is safe for concurrent use.
//
// It is built for replays of tens of millions of operations. Entries,
// documents and transaction records are appended to chunked logs rather
// than kept as one allocation each; transactions are found through an
// index keyed by a hash of their ID; locks are striped by member. So
// memory stays near the encoded size of the records, growth copies
// nothing, and the garbage collector has few objects to trace. A Ledger
// on a MemStore also keeps each account decoded in the store between
// operations, so an operation neither decodes nor re-encodes it.
type MemStore struct {
	closed atomic.Bool
	seed   maphash.Seed
	// dir finds a member's records without a lock: a two-level radix
	// directory from member>>memChunkBits to a chunk of slots, whose pages
	// and chunks are created under dirMu and never replaced, so adding a
	// member costs the same with ten members or ten million.
	dir     [1 << dirTopBits]atomic.Pointer[memDirPage]
	dirMu   sync.Mutex
	stripes [memShards]memStripe
	txs     [txShards]txShard
}

const (
	// memShards and txShards are powers of two, so a replay split over a
	// power-of-two number of workers by member gives each worker its own
	// stripes.
	memShards    = 256
	txShards     = 256
	memChunkBits = 10
	// A member ID's top dirTopBits bits pick a directory page, the next
	// dirPageBits a chunk in it, the last memChunkBits a slot.
	dirPageBits = 11
	dirTopBits  = 32 - dirPageBits - memChunkBits
)

// memDirPage is one page of the member directory.
type memDirPage [1 << dirPageBits]atomic.Pointer[memChunk]

// memStripe holds the members m with m%memShards equal to its index: mu
// guards their memAccounts, and log holds their entries and documents.
type memStripe struct {
	mu  sync.RWMutex
	log chunkLog
	_   [64]byte // workers on neighbouring stripes do not share a cache line
}

type memChunk [1 << memChunkBits]atomic.Pointer[memAccount]

// memAccount is one member's records. A Ledger's fast path keeps the
// account decoded in acct; Commit stores the encoded bytes in state (and
// clears acct), which the fast path decodes on first use.
type memAccount struct {
	acct  *account
	state []byte
	eoff  []uint32 // position in the stripe's log of entry i
	// dix indexes the member's documents by open addressing: each slot
	// is the top 32 bits of the key's hash (which also place it)<<32 |
	// the record's position+1, or 0 if empty.
	dix   []uint64
	ndocs int
}

// txShard holds the records of the transactions whose ID hashes to it.
type txShard struct {
	mu sync.Mutex
	// idx maps the hash of a transaction ID to the position of its record
	// in log; over holds the few whose hash another ID already has. The
	// position txPending marks a transaction a Ledger is applying, so the
	// same ID cannot be applied twice at once.
	idx  map[uint64]uint32
	over map[string]uint32
	log  chunkLog // records: uvarint len(tx), tx, uvarint len(rec), rec
	_    [64]byte
}

const txPending = 1<<32 - 1

var _ MultiStore = (*MemStore)(nil)

// errStoreFull reports a log that has no room for another record.
var errStoreFull = errors.New("in-memory store full")

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{seed: maphash.MakeSeed()}
}

// chunkLog is an append-only log of records in chunks of at most 64 KiB
// (a larger record gets a chunk of its own). A record's position is its
// chunk's index<<16 | its offset in the chunk. Chunks are allocated at
// full length and never move or change but for bytes appended past
// their records, so a record once written can be read while others are
// appended: by the writer's lock holders through cs, and without the
// lock through shared, a copy of the chunk list swapped whole.
type chunkLog struct {
	cs     chunks
	shared atomic.Pointer[chunks]
	used   int // bytes used in the last chunk
}

// chunks is a chunkLog's list of chunks, which reads records.
type chunks [][]byte

const (
	chunkBits = 16
	// maxChunks keeps every position below txPending.
	maxChunks = 1<<(32-chunkBits) - 2
)

// full reports whether the log may be unable to take another operation's
// records.
func (l *chunkLog) full() bool { return len(l.cs) >= maxChunks-16 }

// unlocked returns the chunks for a reader that does not hold the
// writer's lock.
func (l *chunkLog) unlocked() chunks {
	if cs := l.shared.Load(); cs != nil {
		return *cs
	}
	return nil
}

// alloc makes room for n bytes and returns their position and the slice
// to write them to.
func (l *chunkLog) alloc(n int) (uint32, []byte) {
	cs := l.cs
	if len(cs) == 0 || l.used+n > len(cs[len(cs)-1]) {
		// Chunks double from 1 KiB, so a small store stays small.
		size := 1 << 10
		if len(cs) > 0 {
			size = min(2*len(cs[len(cs)-1]), 1<<chunkBits)
		}
		cs = append(cs, make([]byte, max(size, n)))
		l.cs, l.used = cs, 0
		shared := cs
		l.shared.Store(&shared)
	}
	k := len(cs) - 1
	pos := uint32(k)<<chunkBits | uint32(l.used)
	b := cs[k][l.used : l.used+n : l.used+n]
	l.used += n
	if len(cs[k]) > 1<<chunkBits {
		l.used = len(cs[k]) // a record's own chunk: offsets past 64 KiB do not fit a position
	}
	return pos, b
}

// add appends a record: uvarint len(v), v.
func (l *chunkLog) add(v []byte) uint32 {
	var hdr [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(hdr[:], uint64(len(v)))
	pos, b := l.alloc(h + len(v))
	copy(b[copy(b, hdr[:h]):], v)
	return pos
}

// addKeyed appends a keyed record: uvarint len(key), key, uvarint
// len(v), v.
func addKeyed[K ~string | ~[]byte](l *chunkLog, key K, v []byte) uint32 {
	var hk, hv [binary.MaxVarintLen64]byte
	nk := binary.PutUvarint(hk[:], uint64(len(key)))
	nv := binary.PutUvarint(hv[:], uint64(len(v)))
	pos, b := l.alloc(nk + len(key) + nv + len(v))
	i := copy(b, hk[:nk])
	i += copy(b[i:], key)
	i += copy(b[i:], hv[:nv])
	copy(b[i:], v)
	return pos
}

// record reads what add wrote at pos; the slice is capped so a caller
// cannot write past it.
func (cs chunks) record(pos uint32) []byte {
	b := cs[pos>>chunkBits][pos&(1<<chunkBits-1):]
	n, k := binary.Uvarint(b)
	return b[k : k+int(n) : k+int(n)]
}

// keyed reads what addKeyed wrote at pos.
func (cs chunks) keyed(pos uint32) (key, v []byte) {
	b := cs[pos>>chunkBits][pos&(1<<chunkBits-1):]
	n, k := binary.Uvarint(b)
	key, b = b[k:k+int(n)], b[k+int(n):]
	n, k = binary.Uvarint(b)
	return key, b[k : k+int(n) : k+int(n)]
}

func (s *MemStore) stripe(m uint32) *memStripe { return &s.stripes[m%memShards] }

// member returns m's records, or nil.
func (s *MemStore) member(m uint32) *memAccount {
	page := s.dir[m>>(dirPageBits+memChunkBits)].Load()
	if page == nil {
		return nil
	}
	c := page[(m>>memChunkBits)&(1<<dirPageBits-1)].Load()
	if c == nil {
		return nil
	}
	return c[m&(1<<memChunkBits-1)].Load()
}

// memberForWrite returns m's records, creating them. The caller holds
// m's stripe for writing.
func (s *MemStore) memberForWrite(m uint32) *memAccount {
	if ma := s.member(m); ma != nil {
		return ma
	}
	s.dirMu.Lock()
	top := &s.dir[m>>(dirPageBits+memChunkBits)]
	page := top.Load()
	if page == nil {
		page = new(memDirPage)
		top.Store(page)
	}
	slot := &page[(m>>memChunkBits)&(1<<dirPageBits-1)]
	c := slot.Load()
	if c == nil {
		c = new(memChunk)
		slot.Store(c)
	}
	s.dirMu.Unlock()
	ma := &memAccount{}
	c[m&(1<<memChunkBits-1)].Store(ma)
	return ma
}

// members yields every member with records, in increasing order, until
// yield returns false. Members added meanwhile may or may not be seen.
func (s *MemStore) members(yield func(m uint32, ma *memAccount) bool) {
	for top := range s.dir {
		page := s.dir[top].Load()
		if page == nil {
			continue
		}
		for mid := range page {
			c := page[mid].Load()
			if c == nil {
				continue
			}
			base := uint32(top)<<(dirPageBits+memChunkBits) | uint32(mid)<<memChunkBits
			for lo := range c {
				if ma := c[lo].Load(); ma != nil && !yield(base|uint32(lo), ma) {
					return
				}
			}
		}
	}
}

func (s *MemStore) txShard(tx string) (*txShard, uint64) {
	h := maphash.String(s.seed, tx)
	return &s.txs[h%txShards], h
}

// record returns the record of tx. The caller holds t.mu.
func (t *txShard) record(h uint64, tx string) ([]byte, bool) {
	if pos, ok := t.idx[h]; ok && pos != txPending {
		if id, rec := t.log.cs.keyed(pos); string(id) == tx {
			return rec, true
		}
	}
	if pos, ok := t.over[tx]; ok && pos != txPending {
		_, rec := t.log.cs.keyed(pos)
		return rec, true
	}
	return nil, false
}

// add appends the record of a transaction not yet recorded, or that the
// caller reserved. The caller holds t.mu and has checked that the log
// is not full.
func (t *txShard) add(h uint64, tx string, rec []byte) {
	pos := addKeyed(&t.log, tx, rec)
	if v, ok := t.over[tx]; ok && v == txPending {
		t.over[tx] = pos // reserved there
		return
	}
	if cur, ok := t.idx[h]; ok && cur != txPending {
		if id, _ := t.log.cs.keyed(cur); string(id) != tx {
			if t.over == nil {
				t.over = map[string]uint32{}
			}
			t.over[tx] = pos
			return
		}
	}
	if t.idx == nil {
		t.idx = map[uint64]uint32{}
	}
	t.idx[h] = pos
}

// Load implements Store.
func (s *MemStore) Load(ctx context.Context, member uint32, tx, doc string) (Loaded, error) {
	if s.closed.Load() {
		return Loaded{}, ErrClosed
	}
	st := s.stripe(member)
	st.mu.RLock()
	defer st.mu.RUnlock()
	var l Loaded
	if tx != "" {
		l.Tx = s.txRecord(tx)
	}
	if ma := s.member(member); ma != nil {
		l.Account = ma.stateBytes()
		if doc != "" && l.Account != nil {
			l.Doc = memDoc(ma, s.seed, st.log.cs, doc)
		}
	}
	return l, nil
}

func (s *MemStore) txRecord(tx string) []byte {
	t, h := s.txShard(tx)
	t.mu.Lock()
	defer t.mu.Unlock()
	rec, _ := t.record(h, tx)
	return rec
}

// stateBytes returns the encoded account, or nil if there is none.
func (ma *memAccount) stateBytes() []byte {
	if ma.acct != nil {
		return ma.acct.encode()
	}
	return ma.state
}

// Commit implements Store.
func (s *MemStore) Commit(ctx context.Context, c *Commit) error {
	return s.CommitMulti(ctx, []*Commit{c})
}

// CommitMulti implements MultiStore.
func (s *MemStore) CommitMulti(ctx context.Context, cs []*Commit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(cs) == 0 {
		return errors.New("commit of nothing")
	}
	if s.closed.Load() {
		return ErrClosed
	}
	members := make([]uint32, len(cs))
	for i, c := range cs {
		members[i] = c.Member
	}
	unlock := s.lockMembers(members...)
	defer unlock()
	t, h := s.txShard(cs[0].Tx)
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.record(h, cs[0].Tx); ok {
		return ErrTxExists
	}
	if pos, ok := t.idx[h]; ok && pos == txPending {
		// A Ledger is applying this ID (or, as good as never, another
		// with its hash): it is taken.
		return ErrTxExists
	}
	if pos, ok := t.over[cs[0].Tx]; ok && pos == txPending {
		return ErrTxExists
	}
	if t.log.full() {
		return errStoreFull
	}
	for i, c := range cs {
		var have uint64
		if ma := s.member(c.Member); ma != nil {
			have = uint64(len(ma.eoff))
		}
		if have != c.FirstSeq {
			return fmt.Errorf("member %d: commit starts at entry %d but the ledger has %d", c.Member, c.FirstSeq, have)
		}
		if s.stripe(c.Member).log.full() {
			return fmt.Errorf("member %d: %w", c.Member, errStoreFull)
		}
		for _, d := range cs[:i] {
			if d.Member == c.Member {
				return fmt.Errorf("member %d named twice in one commit", c.Member)
			}
		}
	}
	t.add(h, cs[0].Tx, cs[0].TxRecord)
	for _, c := range cs {
		ma := s.memberForWrite(c.Member)
		log := &s.stripe(c.Member).log
		ma.acct, ma.state = nil, c.Account
		for _, e := range c.Entries {
			ma.eoff = append(ma.eoff, log.add(e))
		}
		if c.DocKey != "" {
			putDoc(ma, s.seed, log, c.DocKey, c.Doc)
		}
	}
	return nil
}

// lockMembers write-locks the stripes of members, in stripe order so
// that two callers cannot deadlock, and returns the unlock.
func (s *MemStore) lockMembers(members ...uint32) func() {
	var buf [4]uint32
	stripes := buf[:0]
	for _, m := range members {
		if i := m % memShards; !slices.Contains(stripes, i) {
			stripes = append(stripes, i)
		}
	}
	slices.Sort(stripes)
	for _, i := range stripes {
		s.stripes[i].mu.Lock()
	}
	return func() {
		for _, i := range stripes {
			s.stripes[i].mu.Unlock()
		}
	}
}

// docKey is a document key as a string or as bytes.
type docKey interface{ ~string | ~[]byte }

func hashKey[K docKey](seed maphash.Seed, key K) uint64 {
	switch k := any(key).(type) {
	case string:
		return maphash.String(seed, k)
	case []byte:
		return maphash.Bytes(seed, k)
	}
	return maphash.String(seed, string(key))
}

// memDoc returns ma's document key, or nil.
func memDoc[K docKey](ma *memAccount, seed maphash.Seed, cs chunks, key K) []byte {
	if i, ok := docSlot(ma, hashKey(seed, key), cs, key); ok {
		_, d := cs.keyed(uint32(ma.dix[i]) - 1)
		return d
	}
	return nil
}

// docSlot finds key's slot in ma.dix: its position and true, or the
// empty slot where it would go and false.
func docSlot[K docKey](ma *memAccount, h uint64, cs chunks, key K) (int, bool) {
	if len(ma.dix) == 0 {
		return -1, false
	}
	mask := uint64(len(ma.dix) - 1)
	tag := h >> 32
	for i := tag & mask; ; i = (i + 1) & mask {
		v := ma.dix[i]
		if v == 0 {
			return int(i), false
		}
		if v>>32 == tag {
			if k, _ := cs.keyed(uint32(v) - 1); string(k) == string(key) {
				return int(i), true
			}
		}
	}
}

// putDoc appends a document of ma (a new one, or a new version of one).
func putDoc[K docKey](ma *memAccount, seed maphash.Seed, log *chunkLog, key K, doc []byte) {
	pos := addKeyed(log, key, doc)
	h := hashKey(seed, key)
	i, found := docSlot(ma, h, log.cs, key)
	if !found {
		if (ma.ndocs+1)*4 > len(ma.dix)*3 {
			ma.growDocs()
			i, _ = docSlot(ma, h, log.cs, key)
		}
		ma.ndocs++
	}
	ma.dix[i] = h>>32<<32 | (uint64(pos) + 1)
}

func (ma *memAccount) growDocs() {
	old := ma.dix
	ma.dix = make([]uint64, max(8, 2*len(old)))
	mask := uint64(len(ma.dix) - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		// A slot's place comes from its tag, so the keys need not be read.
		i := v >> 32 & mask
		for ma.dix[i] != 0 {
			i = (i + 1) & mask
		}
		ma.dix[i] = v
	}
}

// Tx implements Store; after Close it finds nothing.
func (s *MemStore) Tx(ctx context.Context, tx string) ([]byte, error) {
	if s.closed.Load() {
		return nil, nil
	}
	return s.txRecord(tx), nil
}

// Entries implements Store.
func (s *MemStore) Entries(ctx context.Context, member uint32, from uint64) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		ma := s.member(member)
		if ma == nil {
			return
		}
		// Entries are only ever appended and their records never change:
		// the positions as they stand now lead to every entry committed
		// so far.
		st := s.stripe(member)
		st.mu.RLock()
		eoff, cs := ma.eoff, st.log.cs
		st.mu.RUnlock()
		for i := from; i < uint64(len(eoff)); i++ {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			if !yield(cs.record(eoff[i]), nil) {
				return
			}
		}
	}
}

// memberIDs returns the members with an account, in increasing order,
// as Accounts yields them.
func (s *MemStore) memberIDs() []uint32 {
	var ids []uint32
	s.members(func(m uint32, _ *memAccount) bool {
		ids = append(ids, m)
		return true
	})
	return ids
}

// Accounts implements Store.
func (s *MemStore) Accounts(ctx context.Context) iter.Seq2[MemberRecord, error] {
	return func(yield func(MemberRecord, error) bool) {
		s.members(func(m uint32, ma *memAccount) bool {
			if err := ctx.Err(); err != nil {
				yield(MemberRecord{}, err)
				return false
			}
			st := s.stripe(m)
			st.mu.RLock()
			acct := ma.stateBytes()
			st.mu.RUnlock()
			return yield(MemberRecord{Member: m, Account: acct}, nil)
		})
	}
}

// Close implements Store; later calls fail with ErrClosed.
func (s *MemStore) Close() error {
	s.closed.Store(true)
	return nil
}
