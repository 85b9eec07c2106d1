package identity

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refResolver is a deliberately naive implementation of the resolution
// rules over maps and sets, written from the rules rather than from the
// dense implementation, to check the latter against. It takes values that
// are already normalised (the kinds in these tests use NormalizeToken).
type refResolver struct {
	kinds     []Kind
	prio      map[string]int
	maxIDs    int
	maxMerges int
	persons   []*refPerson
	owner     map[refID]int
	seen      map[refID]int64
}

type refID struct{ kind, scope, value string }

func (x refID) String() string {
	return Identifier{Kind: x.kind, Scope: x.scope, Value: x.value}.String()
}

type refPerson struct {
	born   string // event ID of the observation that created it
	bornAt int
	ids    map[refID]bool
	merges int
	alive  bool
}

func newRef(cfg Config) *refResolver {
	r := &refResolver{kinds: cfg.Kinds, prio: map[string]int{}, maxIDs: cmp.Or(cfg.MaxIdentifiers, DefaultMaxIdentifiers),
		maxMerges: cmp.Or(cfg.MaxMerges, DefaultMaxMerges), owner: map[refID]int{}, seen: map[refID]int64{}}
	for i, k := range cfg.Kinds {
		r.prio[k.Name] = i
	}
	return r
}

func (r *refResolver) kind(name string) Kind { return r.kinds[r.prio[name]] }

func (r *refResolver) bucket(x refID) string {
	if r.kind(x.kind).LimitPerScope {
		return x.kind + "\x00" + x.scope
	}
	return x.kind
}

// observe returns the index of the person the observation resolved to and
// the identifiers it dropped.
func (r *refResolver) observe(seq int, o Observation) (int, []refID) {
	t := o.Time.Unix()
	var S []refID
	for _, i := range o.Identifiers {
		x := refID{i.Kind, i.Scope, i.Value}
		if !slices.Contains(S, x) {
			S = append(S, x)
		}
	}
	dropped := map[refID]bool{}
	ownerOf := func(x refID) int {
		if p, ok := r.owner[x]; ok {
			return p
		}
		return -1
	}
	for {
		var active []refID
		P := map[int]bool{}
		for _, x := range S {
			if !dropped[x] {
				active = append(active, x)
				if p := ownerOf(x); p >= 0 {
					P[p] = true
				}
			}
		}
		// Per bucket: the sum over P and the new identifiers, and the max
		// over single persons.
		sum, most := map[string]int{}, map[string]int{}
		limitOf := map[string]int{}
		for p := range P {
			per := map[string]int{}
			for x := range r.persons[p].ids {
				k := r.kind(x.kind)
				if k.Limit == 0 {
					continue
				}
				if k.Window > 0 && r.seen[x]+int64(k.Window/time.Second) < t {
					continue
				}
				per[r.bucket(x)]++
				limitOf[r.bucket(x)] = k.Limit
			}
			for b, n := range per {
				sum[b] += n
				most[b] = max(most[b], n)
			}
		}
		nNew := 0
		for _, x := range active {
			if ownerOf(x) < 0 {
				nNew++
				if k := r.kind(x.kind); k.Limit > 0 {
					sum[r.bucket(x)]++
					limitOf[r.bucket(x)] = k.Limit
				}
			}
		}
		broken := map[string]bool{}
		for b, s := range sum {
			if s > limitOf[b] && s > most[b] {
				broken[b] = true
			}
		}
		sumN, maxN, sumM := nNew, 0, len(P)-1
		oldest := -1
		for p := range P {
			sumN += len(r.persons[p].ids)
			maxN = max(maxN, len(r.persons[p].ids))
			sumM += r.persons[p].merges
			if oldest < 0 || r.persons[p].bornAt < r.persons[oldest].bornAt {
				oldest = p
			}
		}
		capIDs := sumN > r.maxIDs && sumN > maxN
		capMerges := len(P) >= 2 && sumM > r.maxMerges
		if len(broken) == 0 && !capIDs && !capMerges {
			return r.commit(seq, o, active, P, t), sortedRefs(dropped)
		}
		var victim *refID
		for _, x := range active {
			p := ownerOf(x)
			off := capIDs
			if p < 0 {
				off = off || broken[r.bucket(x)]
			} else {
				off = off || capMerges && p != oldest
				for y := range r.persons[p].ids {
					k := r.kind(y.kind)
					if k.Limit > 0 && broken[r.bucket(y)] && (k.Window == 0 || r.seen[y]+int64(k.Window/time.Second) >= t) {
						off = true
					}
				}
			}
			if off && (victim == nil || r.dropsFirst(x, *victim)) {
				x := x
				victim = &x
			}
		}
		dropped[*victim] = true
	}
}

func (r *refResolver) dropsFirst(a, b refID) bool {
	if r.prio[a.kind] != r.prio[b.kind] {
		return r.prio[a.kind] > r.prio[b.kind]
	}
	pa, pb := -1, -1
	if p, ok := r.owner[a]; ok {
		pa = p
	}
	if p, ok := r.owner[b]; ok {
		pb = p
	}
	if (pa < 0) != (pb < 0) {
		return pa < 0
	}
	if pa >= 0 && pa != pb {
		return r.persons[pa].bornAt > r.persons[pb].bornAt
	}
	if a.scope != b.scope {
		return a.scope > b.scope
	}
	return a.value > b.value
}

func (r *refResolver) commit(seq int, o Observation, active []refID, P map[int]bool, t int64) int {
	surv := -1
	for p := range P {
		if surv < 0 || r.persons[p].bornAt < r.persons[surv].bornAt {
			surv = p
		}
	}
	if surv < 0 {
		r.persons = append(r.persons, &refPerson{born: o.EventID, bornAt: seq, ids: map[refID]bool{}, alive: true})
		surv = len(r.persons) - 1
	}
	for p := range P {
		if p == surv {
			continue
		}
		for x := range r.persons[p].ids {
			r.persons[surv].ids[x] = true
			r.owner[x] = surv
		}
		r.persons[surv].merges += r.persons[p].merges + 1
		r.persons[p].alive = false
	}
	for _, x := range active {
		r.persons[surv].ids[x] = true
		r.owner[x] = surv
		r.seen[x] = max(r.seen[x], t)
	}
	return surv
}

func sortedRefs(m map[refID]bool) []refID {
	var out []refID
	for x := range m {
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b refID) int { return cmp.Compare(a.String(), b.String()) })
	return out
}

func (r *refResolver) partition() map[string][]string {
	out := map[string][]string{}
	for _, p := range r.persons {
		if !p.alive {
			continue
		}
		var ids []string
		for x := range p.ids {
			ids = append(ids, x.String())
		}
		slices.Sort(ids)
		out[p.born] = ids
	}
	return out
}

// testKinds exercise every kind of rule: a plain limit of 1 and of 2, a
// per-scope limit, a windowed limit and no limit.
func testKinds() []Kind {
	return []Kind{
		{Name: "card", Limit: 1},
		{Name: "phone", Limit: 2},
		{Name: "openid", Scoped: true, Limit: 1, LimitPerScope: true},
		{Name: "device", Limit: 2, Window: 10 * 24 * time.Hour},
		{Name: "cookie"},
	}
}

// genObservations makes n observations over small pools of identifiers, so
// that links, merges and limit conflicts are frequent.
func genObservations(rng *rand.Rand, n int, prefix string, start time.Time) []Observation {
	pools := []struct {
		kind   string
		size   int
		scopes []string
	}{{"card", 8, nil}, {"phone", 10, nil}, {"openid", 6, []string{"wx1", "wx2"}}, {"device", 8, nil}, {"cookie", 10, nil}}
	var out []Observation
	now := start
	for i := range n {
		// Mostly forward in time, sometimes a late event.
		now = now.Add(time.Duration(rng.IntN(72)-6) * time.Hour)
		o := Observation{EventID: fmt.Sprintf("%s%d", prefix, i), Source: "gen", Time: now}
		for range 1 + rng.IntN(4) {
			p := pools[rng.IntN(len(pools))]
			x := Identifier{Kind: p.kind, Value: fmt.Sprintf("%c%d", p.kind[0], rng.IntN(p.size))}
			if p.scopes != nil {
				x.Scope = p.scopes[rng.IntN(len(p.scopes))]
			}
			o.Identifiers = append(o.Identifiers, x)
		}
		out = append(out, o)
	}
	return out
}

func genConfig(rng *rand.Rand) Config {
	cfg := Config{Kinds: testKinds()}
	if rng.IntN(2) == 0 {
		cfg.MaxIdentifiers = 4 + rng.IntN(4)
		cfg.MaxMerges = 1 + rng.IntN(3)
	}
	return cfg
}

func TestMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		cfg := genConfig(rng)
		obs := genObservations(rng, 80, "e", t0)
		r, err := New(cfg)
		require.NoError(t, err)
		ref := newRef(cfg)
		for i, o := range obs {
			res, err := r.Observe(o)
			require.NoError(t, err)
			refP, refDropped := ref.observe(i, o)
			var dropped []string
			for _, d := range res.Dropped {
				dropped = append(dropped, d.Identifier.String())
			}
			var want []string
			for _, x := range refDropped {
				want = append(want, x.String())
			}
			slices.Sort(dropped)
			require.Equal(t, want, dropped, "trial %d observation %d: dropped", trial, i)
			r.mu.RLock()
			born := string(r.log.rec(r.persons.at(uint32(res.Person)).born).eventID())
			r.mu.RUnlock()
			require.Equal(t, ref.persons[refP].born, born, "trial %d observation %d: person", trial, i)
		}
		require.Equal(t, ref.partition(), partition(t, r), "trial %d", trial)
		r.mu.RLock()
		require.NoError(t, r.check())
		r.mu.RUnlock()
	}
}

func TestPermutationKeepsPartition(t *testing.T) {
	// Without binding limits the partition is the connected components of
	// the observations, whatever the interleaving of persons' streams.
	rng := rand.New(rand.NewPCG(3, 4))
	cfg := Config{Kinds: []Kind{{Name: "card"}, {Name: "phone"}, {Name: "cookie"}}, MaxIdentifiers: 1000, MaxMerges: 1000}
	for trial := range 100 {
		// Streams of 20 customers; a few identifiers are shared between
		// customers so components span several of them.
		var streams [][]Observation
		for c := range 20 {
			var s []Observation
			own := []Identifier{id("card", fmt.Sprintf("c%d", c)), id("phone", fmt.Sprintf("p%d", c)), id("cookie", fmt.Sprintf("k%d", c))}
			for j := range 1 + rng.IntN(4) {
				o := Observation{EventID: fmt.Sprintf("c%d-%d", c, j), Time: t0.Add(time.Duration(j) * time.Hour)}
				for _, x := range own {
					if rng.IntN(2) == 0 {
						o.Identifiers = append(o.Identifiers, x)
					}
				}
				if rng.IntN(8) == 0 {
					o.Identifiers = append(o.Identifiers, id("cookie", fmt.Sprintf("shared%d", rng.IntN(3))))
				}
				if len(o.Identifiers) == 0 {
					o.Identifiers = own[:1]
				}
				s = append(s, o)
			}
			streams = append(streams, s)
		}
		want := components(streams)
		for range 3 {
			r, err := New(cfg)
			require.NoError(t, err)
			for _, o := range interleave(rng, streams) {
				_, err := r.Observe(o)
				require.NoError(t, err)
			}
			assert.Equal(t, want, setsOf(partition(t, r)), "trial %d", trial)
		}
	}
}

// interleave merges streams in a random order that keeps each stream's own.
func interleave(rng *rand.Rand, streams [][]Observation) []Observation {
	pos := make([]int, len(streams))
	var out []Observation
	for {
		var open []int
		for i, s := range streams {
			if pos[i] < len(s) {
				open = append(open, i)
			}
		}
		if len(open) == 0 {
			return out
		}
		i := open[rng.IntN(len(open))]
		out = append(out, streams[i][pos[i]])
		pos[i]++
	}
}

// components computes the connected components of the observations with a
// plain union-find over identifier strings.
func components(streams [][]Observation) []string {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if parent[x] == x {
			return x
		}
		parent[x] = find(parent[x])
		return parent[x]
	}
	for _, s := range streams {
		for _, o := range s {
			first := o.Identifiers[0].String()
			if _, ok := parent[first]; !ok {
				parent[first] = first
			}
			for _, x := range o.Identifiers[1:] {
				k := x.String()
				if _, ok := parent[k]; !ok {
					parent[k] = k
				}
				parent[find(k)] = find(first)
			}
		}
	}
	groups := map[string][]string{}
	for x := range parent {
		groups[find(x)] = append(groups[find(x)], x)
	}
	var out []string
	for _, g := range groups {
		slices.Sort(g)
		out = append(out, fmt.Sprint(g))
	}
	slices.Sort(out)
	return out
}

func setsOf(p map[string][]string) []string {
	var out []string
	for _, ids := range p {
		out = append(out, fmt.Sprint(ids))
	}
	slices.Sort(out)
	return out
}
