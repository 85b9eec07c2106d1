package cdpkit

// A winLog keeps the orders and refunds of the trailing windows (the
// longest of Config.Windows), so that orders_<N>d and spend_<N>d can be
// computed at any as-of day in the window, for everyone or for one
// person, and so that an order recorded twice within the window is
// recognised as a replay. Entries live in columns; each person's entries
// form a chain through prev, newest first, so one person's window costs
// the person's entries. Merges splice chains; compaction drops entries
// that fell out of every window and rebuilds the chains.
//
// A winLog is not safe for concurrent use; the Engine's lock guards it.
type winLog struct {
	person []uint32
	day    []int32
	amount []int64
	hash   []uint64 // the record's ID hash, for replay detection
	prev   []int32  // the person's previous entry, or -1
	kind   []uint8
	head   []int32 // per person: newest entry, or -1

	span    int32 // days kept: the longest window
	floor   int32 // entries before this day are not kept
	maxDay  int32 // the latest day appended
	compact int   // compact when the log reaches this length
}

const (
	entryOrder uint8 = iota
	entryRefund
	entryDeleted
)

func newWinLog(span int) *winLog {
	return &winLog{span: int32(span), floor: -1 << 31, maxDay: -1 << 31, compact: 1 << 20}
}

// grow makes room for persons 0..n-1.
func (w *winLog) grow(n int) {
	for len(w.head) < n {
		w.head = append(w.head, -1)
	}
}

// has reports whether person p has an entry of kind k with hash h.
func (w *winLog) has(p uint32, k uint8, h uint64) bool {
	for i := w.head[p]; i >= 0; i = w.prev[i] {
		if w.hash[i] == h && w.kind[i] == k {
			return true
		}
	}
	return false
}

// add appends an entry unless it lies before the kept span, and reports
// whether it kept it. Replays must be checked with has first.
func (w *winLog) add(p uint32, day int32, amount int64, k uint8, h uint64) bool {
	if w.span == 0 || day < w.floor {
		return false
	}
	w.maxDay = max(w.maxDay, day)
	// Histories stream in member by member: once the log is large, drop
	// what is already older than the span before the latest day seen
	// (with a span of slack for late arrivals).
	if len(w.person) >= w.compact {
		w.compactTo(w.maxDay - 2*w.span)
		w.compact = max(1<<20, 2*len(w.person))
		if day < w.floor {
			return false
		}
	}
	w.person = append(w.person, p)
	w.day = append(w.day, day)
	w.amount = append(w.amount, amount)
	w.hash = append(w.hash, h)
	w.kind = append(w.kind, k)
	w.prev = append(w.prev, w.head[p])
	w.head[p] = int32(len(w.person) - 1)
	return true
}

// remove deletes the entry of kind k with hash h of person p, if any.
func (w *winLog) remove(p uint32, k uint8, h uint64) {
	for i := w.head[p]; i >= 0; i = w.prev[i] {
		if w.hash[i] == h && w.kind[i] == k {
			w.kind[i], w.amount[i], w.hash[i] = entryDeleted, 0, 0
			return
		}
	}
}

// window sums person p's orders and net spend on days (asOf-days, asOf].
func (w *winLog) window(p uint32, asOf int32, days int) (orders, spend int64) {
	lo := asOf - int32(days)
	for i := w.head[p]; i >= 0; i = w.prev[i] {
		if d := w.day[i]; d > lo && d <= asOf {
			switch w.kind[i] {
			case entryOrder:
				orders++
				spend += w.amount[i]
			case entryRefund:
				spend += w.amount[i]
			}
		}
	}
	return orders, spend
}

// merge moves the loser's entries to the survivor.
func (w *winLog) merge(survivor, loser uint32) {
	if w.head[loser] < 0 {
		return
	}
	tail := int32(-1)
	for i := w.head[loser]; i >= 0; i = w.prev[i] {
		w.person[i] = survivor
		tail = i
	}
	w.prev[tail] = w.head[survivor]
	w.head[survivor] = w.head[loser]
	w.head[loser] = -1
}

// clear deletes person p's entries.
func (w *winLog) clear(p uint32) {
	if int(p) >= len(w.head) {
		return
	}
	for i := w.head[p]; i >= 0; i = w.prev[i] {
		w.kind[i], w.amount[i], w.hash[i] = entryDeleted, 0, 0
	}
	w.head[p] = -1
}

// compactTo drops entries before day floor and deleted ones, keeping the
// order of the rest, and rebuilds the chains.
func (w *winLog) compactTo(floor int32) {
	w.floor = max(w.floor, floor)
	j := 0
	for i := range w.person {
		if w.day[i] < w.floor || w.kind[i] == entryDeleted {
			continue
		}
		w.person[j], w.day[j], w.amount[j], w.hash[j], w.kind[j] = w.person[i], w.day[i], w.amount[i], w.hash[i], w.kind[i]
		j++
	}
	w.person, w.day, w.amount, w.hash, w.kind, w.prev = w.person[:j], w.day[:j], w.amount[:j], w.hash[:j], w.kind[:j], w.prev[:j]
	for p := range w.head {
		w.head[p] = -1
	}
	for i, p := range w.person {
		w.prev[i] = w.head[p]
		w.head[p] = int32(i)
	}
}
