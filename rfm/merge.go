package rfm

import (
	"fmt"
	"math/bits"
)

// Merge folds member loser's summary into survivor's, for identity merges
// (two member IDs found to be one person), and clears loser. Orders,
// spend, refunds and channel counts add up; first and last purchase are
// the earlier and the later. Distinct purchase days are exact where both
// members' days fall within 64 days of the later last purchase, and
// otherwise count days outside that span as distinct. Category histories
// merge the same way. It must not run concurrently with anything else.
func (s *Summaries) Merge(survivor, loser uint32) error {
	n := uint64(s.Len())
	if uint64(survivor) >= n || uint64(loser) >= n {
		return fmt.Errorf("merge %d into %d of %d members: %w", loser, survivor, n, ErrUnknownMember)
	}
	if survivor == loser || s.orders[loser] == 0 && s.refunded[loser] == 0 && !s.hasCategories(loser) {
		return nil
	}
	a, b := survivor, loser
	s.refunded[a] += s.refunded[b]
	for c := range s.nChannels {
		s.chans[int(a)*s.nChannels+c] += s.chans[int(b)*s.nChannels+c]
	}
	switch {
	case s.orders[b] == 0:
	case s.orders[a] == 0:
		s.firstDay[a], s.lastDay[a] = s.firstDay[b], s.lastDay[b]
		s.orders[a], s.days[a] = s.orders[b], s.days[b]
		s.spend[a], s.firstSpend[a], s.mask[a] = s.spend[b], s.firstSpend[b], s.mask[b]
	default:
		last := max(s.lastDay[a], s.lastDay[b])
		ma, mb := shiftMask(s.mask[a], last-s.lastDay[a]), shiftMask(s.mask[b], last-s.lastDay[b])
		shared := bits.OnesCount64(ma & mb)
		if s.firstDay[a] == s.firstDay[b] && last-s.firstDay[a] >= 64 {
			shared++ // the same first day, outside the window
		}
		s.days[a] = s.days[a] + s.days[b] - uint32(shared)
		s.mask[a] = ma | mb
		switch {
		case s.firstDay[b] < s.firstDay[a]:
			s.firstSpend[a] = s.firstSpend[b]
		case s.firstDay[b] == s.firstDay[a]:
			s.firstSpend[a] += s.firstSpend[b]
		}
		s.firstDay[a] = min(s.firstDay[a], s.firstDay[b])
		s.lastDay[a] = last
		s.orders[a] += s.orders[b]
		s.spend[a] += s.spend[b]
	}
	s.mergeCategories(a, b)
	s.clear(b)
	return nil
}

// shiftMask moves a day mask by d days toward the past.
func shiftMask(m uint64, d int32) uint64 {
	if d >= 64 {
		return 0
	}
	return m << uint(d)
}

// Remove clears member m's summary and category history, for erasure.
func (s *Summaries) Remove(m uint32) error {
	if uint64(m) >= uint64(s.Len()) {
		return fmt.Errorf("remove %d of %d members: %w", m, s.Len(), ErrUnknownMember)
	}
	s.clear(m)
	return nil
}

func (s *Summaries) clear(m uint32) {
	s.firstDay[m], s.lastDay[m] = 0, 0
	s.orders[m], s.days[m] = 0, 0
	s.spend[m], s.refunded[m], s.firstSpend[m], s.mask[m] = 0, 0, 0, 0
	for c := range s.nChannels {
		s.chans[int(m)*s.nChannels+c] = 0
	}
	if cm := s.cats[m>>blockBits]; cm != nil {
		for k := range cm {
			if uint32(k>>32) == m {
				delete(cm, k)
			}
		}
	}
}

func (s *Summaries) hasCategories(m uint32) bool {
	for k := range s.cats[m>>blockBits] {
		if uint32(k>>32) == m {
			return true
		}
	}
	return false
}

// mergeCategories folds b's category histories into a's.
func (s *Summaries) mergeCategories(a, b uint32) {
	from := s.cats[b>>blockBits]
	var moved []uint64
	for k := range from {
		if uint32(k>>32) == b {
			moved = append(moved, k)
		}
	}
	if len(moved) == 0 {
		return
	}
	if s.cats[a>>blockBits] == nil {
		s.cats[a>>blockBits] = make(map[uint64]catState)
	}
	to := s.cats[a>>blockBits]
	for _, k := range moved {
		st := from[k]
		ka := uint64(a)<<32 | k&0xffffffff
		if cur, ok := to[ka]; ok {
			// Purchase days may coincide; as with Stats.Unordered, count
			// them as distinct unless they are the shared first or last.
			n := cur.n + st.n
			if cur.first == st.first {
				n--
			}
			if cur.last == st.last && cur.last != cur.first {
				n--
			}
			st = catState{
				first:    min(cur.first, st.first),
				last:     max(cur.last, st.last),
				runOut:   max(cur.runOut, st.runOut),
				n:        max(n, 1),
				supplied: cur.supplied || st.supplied,
			}
		}
		to[ka] = st
	}
}
