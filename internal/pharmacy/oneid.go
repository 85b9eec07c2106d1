package pharmacy

import (
	"cmp"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/internal/synth"
)

// OneID is what identity resolution did with the chain's identifier feed.
type OneID struct {
	Observations int // observations resolved
	Identifiers  int // identifiers they carried
	Members      int // true members behind them
	Persons      int // live persons after resolution
	Merged       int // observations that merged two or more persons
	// Unresolved counts observations left with no usable identifier once
	// junk was rejected: they reach no person.
	Unresolved int

	// Rejected counts junk values (blocked or invalid) set aside before
	// resolution, by value as the feed wrote it.
	Rejected map[string]int
	// Refused counts the links the per-person limits refused, by what the
	// refused identifier was: "store phone" (a store counter's number
	// typed by the cashier), "kiosk tablet" (a store's self-service
	// tablet) or its kind for anything else.
	Refused map[string]int
	// StorePhones and Kiosks are how many of the chain's store phones
	// and kiosk tablets were seen, and Held how many of each ended up
	// linked to a person: the first customer seen with one keeps it, since
	// nothing marks it as shared before the second customer arrives.
	StorePhones, StorePhonesHeld int
	Kiosks, KiosksHeld           int

	// Score compares the persons with the true members.
	Score PartitionScore
}

// PartitionScore compares a resolution with the truth, over pairs of
// observations: a pair is resolved together when both reached the same
// person, and truly together when both came from the same member.
type PartitionScore struct {
	// Precision is the share of pairs resolved together that are truly
	// together; Recall the share of pairs truly together that were
	// resolved together.
	Precision, Recall float64
	// OverMerged counts persons holding observations of more than one
	// member, and OverMergedMembers the members in them.
	OverMerged, OverMergedMembers int
	// UnderMerged counts members whose observations reached more than one
	// person (the persons beyond the first are extra).
	UnderMerged, ExtraPersons int
	// Largest is the most members found in one person.
	Largest int
}

// observeFunc resolves a batch, filling results (one per observation); a
// *identity.BatchError for individual observations is not fatal.
type observeFunc func(obs []identity.Observation, results []identity.Result) error

// resolveFeed sends the feed through observe in batches and tallies what
// the limits and block lists did. canonical gives the live person an ID
// stands for now, after later merges.
func resolveFeed(c *chain, f *feed, observe observeFunc, canonical func(uint32) uint32) (*OneID, []uint32, error) {
	r := &OneID{
		Observations: len(f.obs),
		Identifiers:  f.ids,
		Rejected:     map[string]int{},
		Refused:      map[string]int{},
	}
	storePhones := map[string]bool{}
	kiosks := map[string]bool{}
	for s := uint32(1); s <= uint32(c.cfg.Stores); s++ {
		storePhones[synth.StorePhone(s)] = true
		kiosks[strings.ToLower(c.gen.KioskDevice(s))] = true
	}
	seenPhones, seenKiosks := map[string]bool{}, map[string]bool{}
	for _, o := range f.obs {
		for _, x := range o.Identifiers {
			switch {
			case x.Kind == identity.KindPhone && storePhones[x.Value]:
				seenPhones[x.Value] = true
			case x.Kind == identity.KindDevice && kiosks[strings.ToLower(x.Value)]:
				seenKiosks[strings.ToLower(x.Value)] = true
			}
		}
	}
	r.StorePhones, r.Kiosks = len(seenPhones), len(seenKiosks)

	person := make([]uint32, len(f.obs))
	results := make([]identity.Result, batchSize)
	for lo := 0; lo < len(f.obs); lo += batchSize {
		hi := min(lo+batchSize, len(f.obs))
		res := results[:hi-lo]
		clear(res)
		if err := observe(f.obs[lo:hi], res); err != nil {
			var be *identity.BatchError
			if !errors.As(err, &be) {
				return nil, nil, err
			}
		}
		for i := range res {
			x := &res[i]
			person[lo+i] = uint32(x.Person)
			if x.Person == identity.NoPerson {
				r.Unresolved++
			}
			if len(x.Merged) > 0 {
				r.Merged++
			}
			for _, rj := range x.Rejected {
				r.Rejected[rj.Identifier.Value]++
			}
			for _, d := range x.Dropped {
				switch {
				case d.Identifier.Kind == identity.KindPhone && storePhones[d.Identifier.Value]:
					r.Refused["store phone"]++
				case d.Identifier.Kind == identity.KindDevice && kiosks[d.Identifier.Value]:
					r.Refused["kiosk tablet"]++
				default:
					r.Refused[d.Identifier.Kind]++
				}
			}
		}
	}
	for i, p := range person {
		if p != uint32(identity.NoPerson) {
			person[i] = canonical(p)
		}
	}
	r.Score, r.Members, r.Persons = scorePartition(person, f.truth)
	return r, person, nil
}

const batchSize = 4096

// heldBy counts how many of values resolve to a person with lookup.
func heldBy(values map[string]bool, kind string, lookup func(identity.Identifier) bool) int {
	n := 0
	for v := range values {
		if lookup(identity.Identifier{Kind: kind, Value: v}) {
			n++
		}
	}
	return n
}

// scorePartition scores the persons observations resolved to against the
// members they truly came from (observations with no person are left
// out), and returns the number of members and persons seen.
func scorePartition(person, truth []uint32) (s PartitionScore, members, persons int) {
	// Count cells (person, member) by sorting packed pairs, once by person
	// and once by member.
	byPerson := make([]uint64, 0, len(person))
	byMember := make([]uint64, 0, len(person))
	for i, p := range person {
		if p == uint32(identity.NoPerson) {
			continue
		}
		byPerson = append(byPerson, uint64(p)<<32|uint64(truth[i]))
		byMember = append(byMember, uint64(truth[i])<<32|uint64(p))
	}
	slices.Sort(byPerson)
	slices.Sort(byMember)
	pairs := func(n int) float64 { return float64(n) * float64(n-1) / 2 }
	var together, resolved, truly float64
	// walk calls cell for each distinct (outer, inner) with its count and
	// group for each outer with its total and number of distinct inners.
	walk := func(keys []uint64, cell func(n int), group func(total, distinct int)) {
		for i := 0; i < len(keys); {
			outer := keys[i] >> 32
			total, distinct := 0, 0
			for i < len(keys) && keys[i]>>32 == outer {
				j := i
				for j < len(keys) && keys[j] == keys[i] {
					j++
				}
				cell(j - i)
				total += j - i
				distinct++
				i = j
			}
			group(total, distinct)
		}
	}
	walk(byPerson, func(n int) { together += pairs(n) }, func(total, distinct int) {
		persons++
		resolved += pairs(total)
		if distinct > 1 {
			s.OverMerged++
			s.OverMergedMembers += distinct
		}
		s.Largest = max(s.Largest, distinct)
	})
	walk(byMember, func(int) {}, func(total, distinct int) {
		members++
		truly += pairs(total)
		if distinct > 1 {
			s.UnderMerged++
			s.ExtraPersons += distinct - 1
		}
	})
	s.Precision, s.Recall = 1, 1
	if resolved > 0 {
		s.Precision = together / resolved
	}
	if truly > 0 {
		s.Recall = together / truly
	}
	return s, members, persons
}

// topCounts returns the keys of m by count, highest first, ties by key.
func topCounts(m map[string]int) []string {
	return slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b))
	})
}
