package suite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math"
	"math/bits"
	"strings"

	"github.com/cdpkit/cdpkit/bench/harness"
	"github.com/cdpkit/cdpkit/internal/synth"
)

// segTag is a boolean member attribute of the segment suite, derived from a
// generated member.
type segTag struct {
	name string
	has  func(m *synth.Member) bool
}

func channelTag(c synth.Channel) segTag {
	return segTag{"ch_" + c.String(), func(m *synth.Member) bool { return m.Channels.Has(c) }}
}

func conditionTag(c synth.Condition) segTag {
	return segTag{c.String(), func(m *synth.Member) bool { return m.Conditions.Has(c) }}
}

// segTags are the tags of the segment suite. Densities at the default
// pharmacy profile: female 58%, age_50plus 55%, ch_store 71% (dense, bitmap
// containers); ch_taobao 3%, copd 4% (sparse, array containers).
var segTags = []segTag{
	{"female", func(m *synth.Member) bool { return m.Gender == synth.Female }},
	{"age_50plus", func(m *synth.Member) bool { return m.Age >= 50 }},
	{"age_60plus", func(m *synth.Member) bool { return m.Age >= 60 }},
	{"lapsed", func(m *synth.Member) bool { return m.Lapsed() }},
	{"city_top5", func(m *synth.Member) bool { return m.CityRank < 5 }},
	channelTag(synth.ChannelStore), channelTag(synth.ChannelWeChat), channelTag(synth.ChannelAlipay),
	channelTag(synth.ChannelTaobao), channelTag(synth.ChannelJD), channelTag(synth.ChannelMeituan),
	conditionTag(synth.Hypertension), conditionTag(synth.Diabetes), conditionTag(synth.Hyperlipidemia), conditionTag(synth.COPD),
}

// Column positions of the tags the cases use.
const (
	tFemale = iota
	tAge50
	tAge60
	tLapsed
	tCityTop5
	tStore
	tWeChat
	tAlipay
	tTaobao
	tJD
	tMeituan
	tHypertension
	tDiabetes
	tHyperlipidemia
	tCOPD
)

// The cases' work, written once per implementation below.
const (
	// and2Expr is a 2-way AND of two dense tags.
	and2Expr = `tag("female") && tag("age_50plus")`
	and2SQL  = `female AND age_50plus`
	// expr10Expr has ten terms under AND, OR and NOT: chronic patients on
	// WeChat, still active, women or over 60, not Taobao buyers, in a big
	// city or ordering delivery, without COPD.
	expr10Expr = `(tag("hypertension") || tag("diabetes") || tag("hyperlipidemia")) && tag("ch_wechat") && ` +
		`!tag("lapsed") && (tag("female") || tag("age_60plus")) && !tag("ch_taobao") && ` +
		`(tag("city_top5") || tag("ch_meituan")) && !tag("copd")`
	expr10SQL = `(hypertension OR diabetes OR hyperlipidemia) AND ch_wechat AND NOT lapsed AND ` +
		`(female OR age_60plus) AND NOT ch_taobao AND (city_top5 OR ch_meituan) AND NOT copd`
	// The spend range: 500 to 2,000 yuan a year, about 31% of members.
	spendLo, spendHi = 50_000, 200_000
	bsiExpr          = `between(spend_365d, 50000, 200000)`
	bsiSQL           = `spend_365d BETWEEN 50000 AND 200000`
)

// segData is the segment suite's generated data, one column per attribute:
// also the scan peer's representation.
type segData struct {
	n     int
	cols  [][]bool // per segTags entry
	spend []int64  // spend_365d: expected yearly spend, fen
	age   []int64
}

// spend365d is a member's expected yearly spend in fen: a heavy-tailed
// numeric attribute like those a CDP keeps per member, wide enough (24 bits)
// for a bit-sliced index to have real work.
func spend365d(m *synth.Member) int64 {
	return int64(math.Round(m.OrdersPerDay * 365 * m.MeanOrderValue))
}

func genSegment(ctx context.Context, env *Env) (*segData, error) {
	g, err := newGenerator(env, synth.Config{})
	if err != nil {
		return nil, err
	}
	n := env.Members
	d := &segData{n: n, cols: make([][]bool, len(segTags)), spend: make([]int64, n), age: make([]int64, n)}
	for i := range d.cols {
		d.cols[i] = make([]bool, n)
	}
	task := env.Progress.Start(fmt.Sprintf("segment: generating %s members", harness.FormatCount(int64(n))), int64(n))
	err = forChunks(ctx, env, task, func(lo, hi uint32) error {
		for m := range g.MembersRange(lo, hi) {
			for j, t := range segTags {
				d.cols[j][m.ID] = t.has(&m)
			}
			d.spend[m.ID] = spend365d(&m)
			d.age[m.ID] = int64(m.Age)
		}
		return nil
	})
	task.Done()
	return d, err
}

// words packs a boolean column into 64-bit words, bit i%64 of word i/64.
func words(col []bool) []uint64 {
	w := make([]uint64, (len(col)+63)/64)
	for i, b := range col {
		if b {
			w[i>>6] |= 1 << (i & 63)
		}
	}
	return w
}

func wordMembers(w []uint64) []uint32 {
	out := []uint32{}
	for i, x := range w {
		for x != 0 {
			out = append(out, uint32(i<<6+bits.TrailingZeros64(x)))
			x &= x - 1
		}
	}
	return out
}

// memfloor is the memory-bandwidth floor of a count over dense tags: two
// plain bit arrays ANDed word by word and counted with POPCNT.
type memfloor struct{ a, b []uint64 }

func (f *memfloor) count() int64 {
	a, b := f.a, f.b[:len(f.a)]
	var n int
	for i := range a {
		n += bits.OnesCount64(a[i] & b[i])
	}
	return int64(n)
}

func (f *memfloor) and() []uint64 {
	out := make([]uint64, len(f.a))
	for i := range f.a {
		out[i] = f.a[i] & f.b[i]
	}
	return out
}

// scanMembers lists the members a predicate over positions holds for.
func scanMembers(n int, pred func(i int) bool) []uint32 {
	out := []uint32{}
	for i := range n {
		if pred(i) {
			out = append(out, uint32(i))
		}
	}
	return out
}

// The scan peer's loops are written out by hand over local slices, the way
// a Go programmer with a []bool per attribute would, so that the compiler
// can drop bounds checks: a predicate called through a func value per
// member would make the baseline slower than it needs to be.

func (d *segData) and2Count() int64 {
	a, b := d.cols[tFemale], d.cols[tAge50]
	b = b[:len(a)]
	var n int64
	for i := range a {
		if a[i] && b[i] {
			n++
		}
	}
	return n
}

func (d *segData) and2(i int) bool { return d.cols[tFemale][i] && d.cols[tAge50][i] }

func (d *segData) expr10Count() int64 {
	c := d.cols
	hyp := c[tHypertension]
	n := len(hyp)
	dia, lip, wx, lap, fem, a60, tb, top, mt, copd := c[tDiabetes][:n], c[tHyperlipidemia][:n], c[tWeChat][:n],
		c[tLapsed][:n], c[tFemale][:n], c[tAge60][:n], c[tTaobao][:n], c[tCityTop5][:n], c[tMeituan][:n], c[tCOPD][:n]
	var cnt int64
	for i := range hyp {
		if (hyp[i] || dia[i] || lip[i]) && wx[i] && !lap[i] && (fem[i] || a60[i]) && !tb[i] && (top[i] || mt[i]) && !copd[i] {
			cnt++
		}
	}
	return cnt
}

// expr10 is the same expression for one member, for the member list.
func (d *segData) expr10(i int) bool {
	c := d.cols
	return (c[tHypertension][i] || c[tDiabetes][i] || c[tHyperlipidemia][i]) && c[tWeChat][i] &&
		!c[tLapsed][i] && (c[tFemale][i] || c[tAge60][i]) && !c[tTaobao][i] &&
		(c[tCityTop5][i] || c[tMeituan][i]) && !c[tCOPD][i]
}

func (d *segData) rangeCount() int64 {
	var n int64
	for _, v := range d.spend {
		if v >= spendLo && v <= spendHi {
			n++
		}
	}
	return n
}

func (d *segData) inRange(i int) bool { return d.spend[i] >= spendLo && d.spend[i] <= spendHi }

// loadDuckSegment creates the members table, one boolean column per tag and
// the numeric attributes, and fills it through the appender.
func loadDuckSegment(ctx context.Context, env *Env, db *duck, d *segData) error {
	cols := []string{"id UINTEGER"}
	for _, t := range segTags {
		cols = append(cols, t.name+" BOOLEAN")
	}
	cols = append(cols, "spend_365d BIGINT", "age INTEGER")
	if err := db.exec(ctx, "CREATE TABLE members ("+strings.Join(cols, ", ")+")"); err != nil {
		return err
	}
	task := env.Progress.Start("segment: loading DuckDB", int64(d.n))
	defer task.Done()
	return db.appendRows(ctx, "members", len(cols), d.n, task, func(i int, vals []driver.Value) {
		vals[0] = uint32(i)
		for j := range segTags {
			vals[1+j] = d.cols[j][i]
		}
		vals[1+len(segTags)] = d.spend[i]
		vals[2+len(segTags)] = int32(d.age[i])
	})
}

func duckCountImpl(db *duck, where string) harness.Impl {
	return harness.Impl{
		Name: "duckdb",
		Run: func(ctx context.Context) (harness.Answer, error) {
			n, err := db.int64(ctx, "SELECT count(*) FROM members WHERE "+where)
			return harness.Answer{Count: n}, err
		},
		Full: func(ctx context.Context) (harness.Answer, error) {
			ids, err := db.ids(ctx, "SELECT id FROM members WHERE "+where+" ORDER BY id")
			return harness.Answer{Count: int64(len(ids)), Members: ids}, err
		},
	}
}

func scanCountImpl(n int, count func() int64, pred func(i int) bool) harness.Impl {
	return harness.Impl{
		Name: "scan",
		Run: func(context.Context) (harness.Answer, error) {
			return harness.Answer{Count: count()}, nil
		},
		Full: func(context.Context) (harness.Answer, error) {
			ids := scanMembers(n, pred)
			return harness.Answer{Count: int64(len(ids)), Members: ids}, nil
		},
	}
}

func segmentSuite() Suite {
	return Suite{
		Name: "segment",
		Run:  runSegment,
		Cases: []harness.CaseDoc{
			{Suite: "segment", Case: "load", Text: "build the member index from generated attribute columns: cdpkit's segment.Index " +
				"(a roaring bitmap per tag, a bit-sliced index per number), DuckDB's members table through its appender, " +
				"memfloor's bit arrays."},
			{Suite: "segment", Case: "and2_count", Text: "count `" + and2Expr + "` (two dense tags, ~32% of members). " +
				"memfloor ANDs two []uint64 and counts bits, the memory-bandwidth floor; scan walks two []bool; duckdb runs " +
				"`SELECT count(*) … WHERE " + and2SQL + "`."},
			{Suite: "segment", Case: "expr10_count", Text: "count a ten-term expression `" + expr10Expr + "`. " +
				"scan evaluates it by hand over []bool columns; duckdb over boolean columns."},
			{Suite: "segment", Case: "bsi_range_count", Text: "count `" + bsiExpr + "` (about 31% of members; spend is " +
				"heavy-tailed, up to ~10^7 fen). cdpkit answers from a bit-sliced index; scan walks an []int64; duckdb uses BETWEEN."},
		},
		Goals: []harness.Goal{
			{Suite: "segment", Case: "and2_count", Peer: "memfloor", MinRatio: 0.5, Text: "within 2× of the []uint64 AND + popcount floor"},
			{Suite: "segment", Case: "expr10_count", Peer: "duckdb", MinRatio: 20, Text: "≥ 20× faster than DuckDB"},
			{Suite: "segment", Case: "bsi_range_count", Peer: "duckdb", MinRatio: 5, Text: "≥ 5× faster than DuckDB"},
		},
	}
}

func runSegment(ctx context.Context, env *Env) error {
	d, err := genSegment(ctx, env)
	if err != nil {
		return err
	}
	db, err := openDuck()
	if err != nil {
		return err
	}
	defer db.Close()
	floor := &memfloor{}
	cdp := newSegCdpkit()
	loads := []harness.Load{{Impl: harness.Reference, Run: func(ctx context.Context) (harness.Answer, error) {
		n, err := cdp.load(ctx, env, d)
		return harness.Answer{Count: n}, err
	}, Held: cdp.held}}
	loads = append(loads,
		harness.Load{Impl: "duckdb", Run: func(ctx context.Context) (harness.Answer, error) {
			if err := loadDuckSegment(ctx, env, db, d); err != nil {
				return harness.Answer{}, err
			}
			n, err := db.int64(ctx, "SELECT count(*) FROM members")
			return harness.Answer{Count: n}, err
		}, Held: db.memory},
		harness.Load{Impl: "memfloor", Run: func(context.Context) (harness.Answer, error) {
			floor.a, floor.b = words(d.cols[tFemale]), words(d.cols[tAge50])
			return harness.Answer{Count: int64(d.n)}, nil
		}})
	r := env.Runner
	loaded, err := r.Loads(ctx, "segment", d.n, loads)
	if err != nil {
		return err
	}

	impls := func(cdpkit harness.Impl, peers ...harness.Impl) []harness.Impl {
		var out []harness.Impl
		if loaded[harness.Reference] {
			out = append(out, cdpkit)
		}
		for _, p := range peers {
			if p.Name == "scan" || loaded[p.Name] {
				out = append(out, p)
			}
		}
		return out
	}
	cases := []harness.Case{
		{Name: "and2_count", Impls: impls(cdp.countImpl(and2Expr),
			harness.Impl{
				Name: "memfloor",
				Run:  func(context.Context) (harness.Answer, error) { return harness.Answer{Count: floor.count()}, nil },
				Full: func(context.Context) (harness.Answer, error) {
					ids := wordMembers(floor.and())
					return harness.Answer{Count: int64(len(ids)), Members: ids}, nil
				},
			},
			scanCountImpl(d.n, d.and2Count, d.and2),
			duckCountImpl(db, and2SQL))},
		{Name: "expr10_count", Impls: impls(cdp.countImpl(expr10Expr), duckCountImpl(db, expr10SQL), scanCountImpl(d.n, d.expr10Count, d.expr10))},
		{Name: "bsi_range_count", Impls: impls(cdp.countImpl(bsiExpr), duckCountImpl(db, bsiSQL), scanCountImpl(d.n, d.rangeCount, d.inRange))},
	}
	for _, c := range cases {
		c.Suite, c.Members = "segment", d.n
		if err := r.Run(ctx, c); err != nil {
			return err
		}
	}
	return nil
}
