package tags

import (
	"testing"
	"time"
)

func benchSetup(b *testing.B) (*Rule, *Record, *Evaluator) {
	s, _ := NewSchema(
		Field{Name: "orders_90d", Type: Int},
		Field{Name: "spend", Type: Double},
		Field{Name: "channels", Type: StringList},
	)
	loc, _ := LoadLocation("Asia/Shanghai")
	ev, _ := NewEvaluator(Clock{AsOf: time.Date(2024, 3, 1, 0, 30, 0, 0, loc), Location: loc})
	rec := s.NewRecord(1)
	_ = rec.Set("orders_90d", 5)
	_ = rec.Set("channels", []string{"store", "app", "miniapp"})
	r, _ := s.Compile("t", `orders_90d >= 3 && "miniapp" in channels`)
	return r, rec, ev
}

func BenchmarkSmokeFast(b *testing.B) {
	r, rec, ev := benchSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		ev.Bool(r, rec)
	}
}
func BenchmarkSmokeCEL(b *testing.B) {
	r, rec, ev := benchSetup(b)
	r.fast = nil
	b.ReportAllocs()
	for b.Loop() {
		ev.Bool(r, rec)
	}
}
func BenchmarkSmokeClosure(b *testing.B) {
	_, rec, _ := benchSetup(b)
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
		f(rec)
	}
}

func TestRatio(t *testing.T) {
	r, rec, ev := benchSetup(nil)
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
	var fast, clo time.Duration
	for round := 0; round < 20; round++ {
		t0 := time.Now()
		for i := 0; i < 200000; i++ {
			ev.Bool(r, rec)
		}
		t1 := time.Now()
		for i := 0; i < 200000; i++ {
			f(rec)
		}
		t2 := time.Now()
		fast += t1.Sub(t0)
		clo += t2.Sub(t1)
	}
	t.Logf("fast %.1f ns, closure %.1f ns, ratio %.2f", float64(fast)/4e6, float64(clo)/4e6, float64(fast)/float64(clo))
}
