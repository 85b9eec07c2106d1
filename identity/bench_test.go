package identity

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// synthMembers generates observations for n members the way the bench
// suite does: 2–4 identifiers each (card, phone, WeChat OpenID under one
// of 8 apps, device), with placeholders and shared store phones mixed in.
// Each member is observed in two events: the first identifiers together,
// then a later one adding the rest.
func synthMembers(n int, seed uint64) []Observation {
	rng := rand.New(rand.NewPCG(seed, 99))
	out := make([]Observation, 0, 2*n)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for m := range n {
		ids := []Identifier{
			{Kind: KindMemberCard, Value: "M" + strconv.Itoa(10000000+m)},
			{Kind: KindPhone, Value: "13" + strconv.Itoa(100000000+m)},
		}
		if rng.IntN(2) == 0 {
			ids = append(ids, Identifier{Kind: KindWeChatOpenID, Scope: "wx00000000000000a" + strconv.Itoa(rng.IntN(8)),
				Value: fmt.Sprintf("oAbCdEfGhIjKlMnOpQrS%08d", m)})
		}
		if rng.IntN(2) == 0 {
			ids = append(ids, Identifier{Kind: KindDevice, Value: fmt.Sprintf("%08x-4b1c-9d2e-a3f4-%012x", m, rng.Uint64()>>16)})
		}
		switch rng.IntN(100) {
		case 0:
			ids = append(ids, Identifier{Kind: KindPhone, Value: "null"})
		case 1:
			ids = append(ids, Identifier{Kind: KindPhone, Value: "139" + strconv.Itoa(10000000+rng.IntN(500))}) // a store's phone
		}
		at = at.Add(time.Second)
		split := 1 + rng.IntN(len(ids)-1)
		out = append(out,
			Observation{EventID: "ev" + strconv.Itoa(2*m), Source: "pos", Time: at, Identifiers: ids[:split]},
			Observation{EventID: "ev" + strconv.Itoa(2*m+1), Source: "app", Time: at.Add(time.Hour), Identifiers: ids})
	}
	return out
}

func BenchmarkObserve(b *testing.B) {
	obs := synthMembers(200_000, 1)
	r, _ := New(Config{Kinds: DefaultKinds(), SizeHint: 600_000})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(obs) { // later passes see known members
			i = 0
		}
		r.Observe(obs[i])
		i++
	}
}

func BenchmarkObserveBatch(b *testing.B) {
	obs := synthMembers(200_000, 1)
	r, _ := New(Config{Kinds: DefaultKinds(), SizeHint: 600_000})
	b.ReportAllocs()
	i := 0
	const batch = 16 * batchChunk // long enough for the two-goroutine pipeline
	for b.Loop() {
		if i+batch > len(obs) {
			i = 0
		}
		r.ObserveBatch(obs[i:i+batch], nil)
		i += batch
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/obs")
}

func BenchmarkLookup(b *testing.B) {
	obs := synthMembers(100_000, 2)
	r, _ := New(Config{Kinds: DefaultKinds()})
	r.ObserveBatch(obs, nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Lookup(obs[i%len(obs)].Identifiers[0])
		i++
	}
}

func BenchmarkExplain(b *testing.B) {
	obs := synthMembers(10_000, 3)
	r, _ := New(Config{Kinds: DefaultKinds()})
	r.ObserveBatch(obs, nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Explain(PersonID(i % 10_000))
		i++
	}
}

func BenchmarkSplitObservation(b *testing.B) {
	obs := synthMembers(10_000, 4)
	r, _ := New(Config{Kinds: DefaultKinds()})
	r.ObserveBatch(obs, nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// Split the second observation of a member, then put it back.
		o := obs[2*(i%10_000)+1]
		r.SplitObservation(o.EventID)
		r.Observe(o)
		i++
	}
}

// BenchmarkMemory resolves observations for benchMembers() members and
// reports the memory held per stored identifier, by part, beside the heap
// growth the runtime measures.
func BenchmarkMemory(b *testing.B) {
	obs := synthMembers(benchMembers(), 5)
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r, _ := New(Config{Kinds: DefaultKinds()})
		start := time.Now()
		r.ObserveBatch(obs, nil)
		elapsed := time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&after)
		s := r.Stats()
		b.ReportMetric(s.BytesPerIdentifier, "B/ident")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(s.Identifiers), "heapB/ident")
		b.ReportMetric(float64(elapsed.Nanoseconds())/float64(len(obs)), "ns/obs")
		b.ReportMetric(float64(s.Identifiers), "idents")
		n := float64(s.Identifiers)
		m := s.Memory
		for _, part := range []struct {
			name  string
			bytes int64
		}{{"ids", m.Identifiers}, {"values", m.Values}, {"lookup", m.Lookup}, {"persons", m.Persons},
			{"evidence", m.Evidence}, {"evindex", m.EventIndex}} {
			b.ReportMetric(float64(part.bytes)/n, part.name+"-B/ident")
		}
		runtime.KeepAlive(r)
	}
}

func getenv(k string) string { return os.Getenv(k) }

// benchMembers is the member count of the whole-run benchmarks below
// (IDENTITY_MEMBERS overrides it).
func benchMembers() int {
	if v, err := strconv.Atoi(getenv("IDENTITY_MEMBERS")); err == nil {
		return v
	}
	return 100_000
}

// BenchmarkResolveMembers resolves every observation of benchMembers()
// members into a fresh resolver; compare with BenchmarkUnionFindMembers,
// the floor the bench suite measures against.
func BenchmarkResolveMembers(b *testing.B) {
	obs := synthMembers(benchMembers(), 6)
	for b.Loop() {
		r, _ := New(Config{Kinds: DefaultKinds(), SizeHint: 3 * benchMembers()})
		r.ObserveBatch(obs, nil)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(obs)), "ns/obs")
}

// BenchmarkUnionFindMembers is a plain union-find (path halving, union by
// size) over the same observations with identifiers interned to integers
// beforehand: the work of linking without rules, lineage or strings.
func BenchmarkUnionFindMembers(b *testing.B) {
	obs := synthMembers(benchMembers(), 6)
	intern := map[Identifier]int32{}
	var edges [][]int32
	for _, o := range obs {
		var ids []int32
		for _, x := range o.Identifiers {
			n, ok := intern[x]
			if !ok {
				n = int32(len(intern))
				intern[x] = n
			}
			ids = append(ids, n)
		}
		edges = append(edges, ids)
	}
	for b.Loop() {
		parent := make([]int32, len(intern))
		size := make([]int32, len(intern))
		for i := range parent {
			parent[i], size[i] = int32(i), 1
		}
		find := func(x int32) int32 {
			for parent[x] != x {
				parent[x] = parent[parent[x]]
				x = parent[x]
			}
			return x
		}
		for _, ids := range edges {
			a := find(ids[0])
			for _, y := range ids[1:] {
				if c := find(y); c != a {
					if size[a] < size[c] {
						a, c = c, a
					}
					parent[c] = a
					size[a] += size[c]
				}
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(obs)), "ns/obs")
}
