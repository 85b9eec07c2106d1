package pharmacy

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/internal/synth"
)

// OneID is what identity resolution did with the chain's identifier feed.
type OneID struct {
	Observations int // observations resolved
	Identifiers  int // identifiers they carried
	Members      int // true members behind them
	Persons      int // live persons after resolution
	Merged       int // persons merged into others
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
	// Unlinkable counts the members whose observations their own
	// identifiers do not connect (junk and shared store values left
	// aside): only a shared value could make one person of them, so most
	// of them are split whatever the resolver does.
	Unlinkable int
	// SplitLinkable counts the members split over persons although their
	// own identifiers link all their observations: the splits a limit
	// caused.
	SplitLinkable int
	// Largest is the most members found in one person.
	Largest int
}

// analyseFeed reads back, once the feed is resolved, what resolution did
// with each observation, from the identity graph: the observation's person
// is that of its highest-priority identifier holding one; its other
// identifiers that are with no person or with another person were refused
// by a limit; blocked and invalid values were rejected. Then it scores the
// persons against the true members. lookup is the Engine's.
func analyseFeed(ctx context.Context, c *chain, f *feed, lookup func(identity.Identifier) (identity.PersonID, error), workers int) (*OneID, error) {
	storePhones := map[string]bool{}
	kiosks := map[string]bool{}
	for s := uint32(1); s <= uint32(c.cfg.Stores); s++ {
		storePhones[synth.StorePhone(s)] = true
		kiosks[strings.ToLower(c.gen.KioskDevice(s))] = true
	}
	rank := map[string]int{}
	for i, k := range identityConfig(0).Kinds {
		rank[k.Name] = i
	}
	type tally struct {
		rejected, refused map[string]int
		phones, kiosks    map[string]bool
		unresolved        int
		err               error
	}
	parts := make([]tally, max(workers, 1))
	person := make([]uint32, len(f.obs))
	// unusable marks, per observation, the identifiers (by position) that
	// are junk or a shared store value: evidence of nobody in particular.
	unusable := make([]uint8, len(f.obs))
	var wg sync.WaitGroup
	for w := range parts {
		lo, hi := len(f.obs)*w/len(parts), len(f.obs)*(w+1)/len(parts)
		t := &parts[w]
		t.rejected, t.refused = map[string]int{}, map[string]int{}
		t.phones, t.kiosks = map[string]bool{}, map[string]bool{}
		wg.Go(func() {
			found := make([]identity.PersonID, 0, 8)
			for i := lo; i < hi; i++ {
				if i%4096 == 0 && ctx.Err() != nil {
					t.err = ctx.Err()
					return
				}
				o := &f.obs[i]
				found = found[:0]
				best, bestRank := identity.NoPerson, len(rank)
				for _, x := range o.Identifiers {
					p, err := lookup(x)
					switch {
					case err == nil:
						if r := rank[x.Kind]; r < bestRank {
							best, bestRank = p, r
						}
					case errors.Is(err, identity.ErrBlocked) || errors.Is(err, identity.ErrInvalid):
						t.rejected[x.Value]++
						p = identity.NoPerson - 1 // rejected, not refused
						unusable[i] |= 1 << min(len(found), 7)
					default:
						p = identity.NoPerson
					}
					found = append(found, p)
				}
				person[i] = uint32(best)
				if best == identity.NoPerson {
					t.unresolved++
				}
				for j, x := range o.Identifiers {
					shared := ""
					switch x.Kind {
					case identity.KindPhone:
						if storePhones[x.Value] {
							shared = "store phone"
							t.phones[x.Value] = true
						}
					case identity.KindDevice:
						if v := strings.ToLower(x.Value); kiosks[v] {
							shared = "kiosk tablet"
							t.kiosks[v] = true
						}
					}
					if shared != "" {
						unusable[i] |= 1 << min(j, 7)
					}
					if p := found[j]; p == best || p == identity.NoPerson-1 || best == identity.NoPerson {
						continue
					}
					if shared == "" {
						shared = x.Kind
					}
					t.refused[shared]++
				}
			}
		})
	}
	wg.Wait()
	r := &OneID{Observations: len(f.obs), Identifiers: f.ids, Rejected: map[string]int{}, Refused: map[string]int{}}
	phones, kiosksSeen := map[string]bool{}, map[string]bool{}
	for _, t := range parts {
		if t.err != nil {
			return nil, t.err
		}
		for k, n := range t.rejected {
			r.Rejected[k] += n
		}
		for k, n := range t.refused {
			r.Refused[k] += n
		}
		maps.Copy(phones, t.phones)
		maps.Copy(kiosksSeen, t.kiosks)
		r.Unresolved += t.unresolved
	}
	r.StorePhones, r.Kiosks = len(phones), len(kiosksSeen)
	for v := range phones {
		if _, err := lookup(identity.Identifier{Kind: identity.KindPhone, Value: v}); err == nil {
			r.StorePhonesHeld++
		}
	}
	for v := range kiosksSeen {
		if _, err := lookup(identity.Identifier{Kind: identity.KindDevice, Value: v}); err == nil {
			r.KiosksHeld++
		}
	}
	r.Score, r.Members, r.Persons = scorePartition(person, f.truth)
	r.Score.Unlinkable, r.Score.SplitLinkable = unlinkable(f, person, unusable, c.cfg.Members, workers)
	return r, nil
}

// unlinkable counts the members whose own observations do not connect
// through identifiers they share — junk and shared store values left
// aside, and observations with nothing else — so that nothing but a shared
// value could join them into one person: a Taobao account seen only with
// its buyer ID, say, next to a member card seen only at the till.
// It also returns how many members were split over persons although their
// own identifiers link all their observations.
func unlinkable(f *feed, person []uint32, unusable []uint8, members, workers int) (unlinked, splitLinked int) {
	// Group observations by member: a counting sort on the true member.
	start := make([]int, members+1)
	for _, m := range f.truth {
		start[m+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	byMember := make([]int32, len(f.truth))
	next := slices.Clone(start[:members])
	for i, m := range f.truth {
		byMember[next[m]] = int32(i)
		next[m]++
	}
	counts := make([][2]int, max(workers, 1))
	var wg sync.WaitGroup
	for w := range counts {
		lo, hi := members*w/len(counts), members*(w+1)/len(counts)
		wg.Go(func() {
			type key struct {
				id  string
				obs int
			}
			var keys []key
			var parent []int
			var buf []byte
			find := func(x int) int {
				for parent[x] != x {
					parent[x] = parent[parent[x]]
					x = parent[x]
				}
				return x
			}
			for m := lo; m < hi; m++ {
				obs := byMember[start[m]:start[m+1]]
				if len(obs) < 2 {
					continue
				}
				keys, parent = keys[:0], parent[:0]
				groups := 0 // observations with usable evidence, then groups of them
				for k, i := range obs {
					parent = append(parent, k)
					before := len(keys)
					for j, x := range f.obs[i].Identifiers {
						if unusable[i]&(1<<min(j, 7)) != 0 {
							continue
						}
						buf = append(buf[:0], x.Kind...)
						buf = append(buf, 0)
						buf = append(buf, x.Scope...)
						buf = append(buf, 0)
						switch x.Kind {
						case identity.KindPhone:
							buf, _ = identity.NormalizeCNMobile(buf, x.Value)
						case identity.KindDevice:
							buf, _ = identity.NormalizeLower(buf, x.Value)
						default:
							buf, _ = identity.NormalizeToken(buf, x.Value)
						}
						keys = append(keys, key{string(buf), k})
					}
					if len(keys) > before {
						groups++
					}
				}
				slices.SortFunc(keys, func(a, b key) int { return strings.Compare(a.id, b.id) })
				for k := 1; k < len(keys); k++ {
					if keys[k].id == keys[k-1].id {
						if a, b := find(keys[k].obs), find(keys[k-1].obs); a != b {
							parent[a] = b
							groups--
						}
					}
				}
				if groups > 1 {
					counts[w][0]++
					continue
				}
				first := uint32(identity.NoPerson)
				for _, i := range obs {
					switch p := person[i]; {
					case p == uint32(identity.NoPerson):
					case first == uint32(identity.NoPerson):
						first = p
					case p != first:
						counts[w][1]++
						first = uint32(identity.NoPerson) - 1 // counted
					}
					if first == uint32(identity.NoPerson)-1 {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	for _, c := range counts {
		unlinked += c[0]
		splitLinked += c[1]
	}
	return unlinked, splitLinked
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
