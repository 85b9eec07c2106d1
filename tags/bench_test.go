package tags

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cdpkit/cdpkit/segment"
)

// The typical rule of the issue, on the compiled path, on cel-go's
// interpreter, and as a hand-written closure over the same record.

func benchRule(b *testing.B) (*Rule, *Record, *Evaluator) {
	s := retailSchema(b)
	loc := mustLoc(b, "Asia/Shanghai")
	ev, err := NewEvaluator(Clock{AsOf: time.Date(2024, 3, 10, 9, 0, 0, 0, loc), Location: loc})
	if err != nil {
		b.Fatal(err)
	}
	rec := s.NewRecord(1)
	if err := rec.Set("orders_90d", 5); err != nil {
		b.Fatal(err)
	}
	if err := rec.Set("channels", []string{"store", "app", "miniapp"}); err != nil {
		b.Fatal(err)
	}
	r, err := s.Compile("typical", `orders_90d >= 3 && "miniapp" in channels`)
	if err != nil {
		b.Fatal(err)
	}
	return r, rec, ev
}

func BenchmarkRuleCompiled(b *testing.B) {
	r, rec, ev := benchRule(b)
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := ev.Bool(r, rec); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkRuleCEL(b *testing.B) {
	r, rec, ev := benchRule(b)
	r.fast, r.hot = nil, nil // the same rule, on cel-go
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := ev.Bool(r, rec); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkRuleClosure(b *testing.B) {
	_, rec, _ := benchRule(b)
	f := func(r *Record) bool {
		if !r.has(0) || r.num[0] < 3 {
			return false
		}
		for _, c := range r.lst[0] {
			if c == "miniapp" {
				return true
			}
		}
		return false
	}
	for b.Loop() {
		if !f(rec) {
			b.Fatal()
		}
	}
}

// refreshBench is twenty typical rules over n members, loaded into an index.
func refreshBench(b *testing.B, n int) (*Set, *segment.Index, []*Record, Clock) {
	s := retailSchema(b)
	loc := mustLoc(b, "Asia/Shanghai")
	clock := Clock{AsOf: time.Date(2024, 3, 10, 9, 0, 0, 0, loc), Location: loc}
	r := rand.New(rand.NewPCG(1, 1))
	recs := make([]*Record, n)
	tiers := []string{"gold", "silver", "bronze"}
	for i := range recs {
		rec := s.NewRecord(uint32(i))
		_ = rec.Set("orders_90d", r.IntN(12))
		_ = rec.Set("spend_365d", r.IntN(800000))
		if r.IntN(4) > 0 {
			_ = rec.Set("tier", tiers[r.IntN(3)])
		}
		_ = rec.Set("last_order_at", clock.AsOf.Add(-time.Duration(r.IntN(400*24))*time.Hour))
		recs[i] = rec
	}
	set := NewSet(s, nil)
	var defs []Definition
	for i := range 20 {
		rule := fmt.Sprintf("orders_90d >= %d && spend_365d >= %d", i%5+1, i*20000)
		switch i % 4 {
		case 1:
			rule = fmt.Sprintf(`days_since(last_order_at) <= %d || tier == "gold"`, 30+i)
		case 2:
			rule = fmt.Sprintf(`tier in ["gold", "silver"] && !(orders_90d < %d)`, i%7)
		case 3:
			rule = fmt.Sprintf(`spend_365d >= %d ? days_since(last_order_at) < 90 : orders_90d > %d`, 100000+i*1000, i%6)
		}
		defs = append(defs, Definition{Name: fmt.Sprintf("t%02d", i), Rule: rule})
	}
	if err := set.Define(defs...); err != nil {
		b.Fatal(err)
	}
	ix := segment.New(&segment.Options{Location: loc})
	if _, err := s.LoadIndex(context.Background(), ix, records(recs), loc); err != nil {
		b.Fatal(err)
	}
	return set, ix, recs, clock
}

func BenchmarkRefresh20PushDown(b *testing.B) {
	set, ix, _, clock := refreshBench(b, 200_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := set.Refresh(context.Background(), ix, clock, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRefresh20PerMember(b *testing.B) {
	set, ix, recs, clock := refreshBench(b, 200_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := set.Refresh(context.Background(), ix, clock, records(recs), &RefreshOptions{NoPushDown: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	s := retailSchema(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Compile("typical", `orders_90d >= 3 && "miniapp" in channels && days_since(last_order_at) <= 30`); err != nil {
			b.Fatal(err)
		}
	}
}
