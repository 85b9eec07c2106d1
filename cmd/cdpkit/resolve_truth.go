package main

import (
	"fmt"
	"slices"

	"github.com/cdpkit/cdpkit/identity"
)

// partitionScore compares a partition of observations into persons with
// the true members behind them.
type partitionScore struct {
	items     int     // observations scored
	persons   int     // clusters
	members   int     // distinct true members
	precision float64 // of the pairs put together, the share that are one member
	recall    float64 // of the pairs that are one member, the share put together
	mixed     int     // persons holding more than one true member
	largest   int     // most true members in one person
	split     int     // true members spread over more than one person
}

// scorePartition scores pred (a cluster per item) against truth (a member
// per item) with pairwise precision and recall, the usual measure of
// entity resolution: every pair of items is a decision, together or
// apart. A blob person that glues k members together costs precision
// quadratically in its size, which is why it is the measure that shows
// what limits prevent.
func scorePartition(pred, truth []uint32) partitionScore {
	s := partitionScore{items: len(pred)}
	if len(pred) == 0 {
		s.precision, s.recall = 1, 1
		return s
	}
	pairs := func(n int) float64 { return float64(n) * float64(n-1) / 2 }
	byPred := make([]uint64, len(pred))
	byTruth := make([]uint64, len(pred))
	for i := range pred {
		byPred[i] = uint64(pred[i])<<32 | uint64(truth[i])
		byTruth[i] = uint64(truth[i])<<32 | uint64(pred[i])
	}
	slices.Sort(byPred)
	slices.Sort(byTruth)
	// groups walks keys sorted by (outer, inner) and reports, per outer
	// value, its item count and its distinct inner values, and per
	// (outer, inner) run its count.
	groups := func(keys []uint64, outer func(n, distinct int), cell func(n int)) {
		for i := 0; i < len(keys); {
			hi := keys[i] >> 32
			n, distinct := 0, 0
			for i < len(keys) && keys[i]>>32 == hi {
				j := i
				for j < len(keys) && keys[j] == keys[i] {
					j++
				}
				cell(j - i)
				n += j - i
				distinct++
				i = j
			}
			outer(n, distinct)
		}
	}
	var together, same, both float64
	groups(byPred, func(n, distinct int) {
		s.persons++
		together += pairs(n)
		if distinct > 1 {
			s.mixed++
		}
		s.largest = max(s.largest, distinct)
	}, func(n int) { both += pairs(n) })
	groups(byTruth, func(n, distinct int) {
		s.members++
		same += pairs(n)
		if distinct > 1 {
			s.split++
		}
	}, func(int) {})
	s.precision, s.recall = 1, 1
	if together > 0 {
		s.precision = both / together
	}
	if same > 0 {
		s.recall = both / same
	}
	return s
}

// unionFind is a plain union-find with path halving and union by size.
type unionFind struct{ parent, size []int32 }

func (u *unionFind) add() int32 {
	u.parent = append(u.parent, int32(len(u.parent)))
	u.size = append(u.size, 1)
	return int32(len(u.parent) - 1)
}

func (u *unionFind) find(x int32) int32 {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

func (u *unionFind) union(a, b int32) {
	a, b = u.find(a), u.find(b)
	if a == b {
		return
	}
	if u.size[a] < u.size[b] {
		a, b = b, a
	}
	u.parent[b] = a
	u.size[a] += u.size[b]
}

// scoreTruth prints how the persons compare with the true members, and how
// a plain union-find of the same identifiers (same normalisation and block
// lists, no limits) would have done.
func (run *resolveRun) scoreTruth() {
	w := run.e.stderr
	var pred, truth, plain []uint32
	uf := &unionFind{}
	node := map[string]int32{}
	obsNode := []int32{}
	unscored := 0
	for i, t := range run.truths {
		p := run.persons[i]
		if t < 0 || p == identity.NoPerson {
			if t >= 0 {
				unscored++
			}
			continue
		}
		c, err := run.r.Canonical(p)
		if err != nil {
			continue
		}
		pred = append(pred, uint32(c))
		truth = append(truth, uint32(t))
		first := int32(-1)
		for _, k := range run.usable[i] {
			n, ok := node[k]
			if !ok {
				n = uf.add()
				node[k] = n
			}
			if first < 0 {
				first = n
			} else {
				uf.union(first, n)
			}
		}
		if first < 0 { // nothing to join by: a cluster of its own
			first = uf.add()
		}
		obsNode = append(obsNode, first)
	}
	if len(pred) == 0 {
		fmt.Fprintln(w, "truth: no observation carries true_member")
		return
	}
	for _, n := range obsNode {
		plain = append(plain, uint32(uf.find(n)))
	}
	s := scorePartition(pred, truth)
	fmt.Fprintf(w, "truth: %d observations of %d true members scored (%d resolved to no person)\n", s.items, s.members, unscored)
	line := func(name string, s partitionScore) {
		fmt.Fprintf(w, "truth: %-10s %8d persons, pairwise precision %.4f, recall %.4f; %d persons mix members (largest: %d members), %d members split\n",
			name, s.persons, s.precision, s.recall, s.mixed, s.largest, s.split)
	}
	line("resolver", s)
	line("union-find", scorePartition(plain, truth))
	fmt.Fprintln(w, "truth: union-find joins every shared value with the same normalisation and block lists but no limits")
}
