package tags

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// A generator of random well-typed rules and random records over testSchema,
// for the property tests that compare evaluation paths.

func testSchema() *Schema {
	s, err := NewSchema(
		Field{Name: "i1", Type: Int, Index: AsInt},
		Field{Name: "i2", Type: Int, Index: AsInt},
		Field{Name: "i3", Type: Int},
		Field{Name: "d1", Type: Double},
		Field{Name: "s1", Type: String, Index: AsEnum},
		Field{Name: "s2", Type: String},
		Field{Name: "b1", Type: Bool},
		Field{Name: "t1", Type: Timestamp, Index: AsDay},
		Field{Name: "t2", Type: Timestamp},
		Field{Name: "du1", Type: Duration},
		Field{Name: "l1", Type: StringList},
		Field{Name: "m1", Type: CountMap},
	)
	if err != nil {
		panic(err)
	}
	return s
}

type gen struct {
	r     *rand.Rand
	vars  []string // string-typed loop variables in scope
	loops int      // enclosing comprehensions
	tags  []string // boolean tags has_tag may reference
	enums map[string][]string
}

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

var (
	genInts    = []int64{0, 1, -1, 2, 3, 7, 10, 60, 100, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, 1 << 32}
	genStrs    = []string{"", "a", "b", "miniapp", "药店", "Ab", "mini", "diabetes"}
	genDoubles = []float64{0, math.Copysign(0, -1), 1.5, -2.25, 3, math.NaN(), math.Inf(1), math.Inf(-1), 1e300}
	genKeys    = []string{"a", "diabetes", "k"}
)

func (g *gen) intLit() string {
	v := genInts[g.r.IntN(len(genInts))]
	if v == math.MinInt64 {
		return "-9223372036854775808"
	}
	return strconv.FormatInt(v, 10)
}

func (g *gen) strLit() string { return strconv.Quote(genStrs[g.r.IntN(len(genStrs))]) }

func (g *gen) dblLit() string {
	return g.pick("0.0", "1.5", "-2.25", "3.0", "1e300", "0.5")
}

func (g *gen) boolExpr(d int) string {
	if d <= 0 {
		return g.pick("true", "false", "b1", "present(i1)", "present(s1)",
			"i1 > "+g.intLit(), "s1 == "+g.strLit(), g.strLit()+" in l1", "has(m1.diabetes)")
	}
	switch g.r.IntN(22) {
	case 0:
		return "(" + g.boolExpr(d-1) + " && " + g.boolExpr(d-1) + ")"
	case 1:
		return "(" + g.boolExpr(d-1) + " || " + g.boolExpr(d-1) + ")"
	case 2:
		return "!(" + g.boolExpr(d-1) + ")"
	case 3:
		return "(" + g.boolExpr(d-1) + " ? " + g.boolExpr(d-1) + " : " + g.boolExpr(d-1) + ")"
	case 4:
		return g.intExpr(d-1) + " " + g.pick("==", "!=", "<", "<=", ">", ">=") + " " + g.intExpr(d-1)
	case 5:
		return g.dblExpr(d-1) + " " + g.pick("==", "!=", "<", "<=", ">", ">=") + " " + g.dblExpr(d-1)
	case 6:
		return g.strExpr(d-1) + " " + g.pick("==", "!=", "<", ">=") + " " + g.strExpr(d-1)
	case 7:
		return g.strExpr(d-1) + " in " + g.listExpr(d-1)
	case 8:
		return g.strExpr(d-1) + " in m1"
	case 9:
		return g.strExpr(d-1) + "." + g.pick("contains", "startsWith", "endsWith") + "(" + g.strExpr(d-1) + ")"
	case 10:
		return g.strExpr(d-1) + `.matches("^[a-m]+$")`
	case 11:
		if g.loops > 1 {
			return g.boolExpr(0)
		}
		v := fmt.Sprintf("x%d", len(g.vars))
		g.vars = append(g.vars, v)
		g.loops++
		body := g.boolExpr(d - 1)
		g.loops--
		g.vars = g.vars[:len(g.vars)-1]
		rng := g.pick("l1", "m1", `["a", "miniapp"]`)
		return rng + "." + g.pick("exists", "all", "exists_one") + "(" + v + ", " + body + ")"
	case 12:
		return g.timeExpr(d-1) + " " + g.pick("<", "<=", "==", ">") + " " + g.timeExpr(d-1)
	case 13:
		return g.durExpr(d-1) + " " + g.pick("<", ">=", "!=") + " " + g.durExpr(d-1)
	case 14:
		return "in_last(" + g.timeExpr(d-1) + ", " + g.durExpr(d-1) + ")"
	case 15:
		return "present(" + g.pick("i1", "i2", "d1", "s1", "t1", "l1", "m1", "b1") + ")"
	case 16:
		if len(g.tags) > 0 {
			return `has_tag("` + g.pick(g.tags...) + `")`
		}
		return g.boolExpr(0)
	case 17:
		for name, vals := range g.enums {
			return `has_tag("` + name + `", "` + g.pick(vals...) + `")`
		}
		return g.boolExpr(0)
	case 18:
		return "days_since(t1) " + g.pick("<", "<=", "==", "!=", ">", ">=") + " " + g.intLit()
	case 19:
		return g.intExpr(d-1) + " in [" + g.intLit() + ", " + g.intLit() + "]"
	case 20:
		return "s1 in [" + g.strLit() + ", " + g.strLit() + "]"
	default:
		return g.listExpr(d-1) + " == " + g.listExpr(d-1)
	}
}

func (g *gen) intExpr(d int) string {
	if d <= 0 {
		return g.pick(g.intLit(), "i1", "i2", "i3", "i1", "size(s1)")
	}
	switch g.r.IntN(14) {
	case 0, 1:
		return "(" + g.intExpr(d-1) + " " + g.pick("+", "-", "*", "/", "%") + " " + g.intExpr(d-1) + ")"
	case 2:
		return "-(" + g.intExpr(d-1) + ")"
	case 3:
		return "size(" + g.pick(g.strExpr(d-1), g.listExpr(d-1), "m1") + ")"
	case 4:
		return `m1[` + g.strExpr(d-1) + `]`
	case 5:
		return "m1." + g.pick(genKeys...)
	case 6:
		return g.pick("days_since", "days_until", "hours_since", "years_since", "year", "month", "day",
			"weekday", "hour", "day_of_year") + "(" + g.timeExpr(d-1) + ")"
	case 7:
		return "int(" + g.dblExpr(d-1) + ")"
	case 8:
		return "(" + g.boolExpr(d-1) + " ? " + g.intExpr(d-1) + " : " + g.intExpr(d-1) + ")"
	case 9:
		if g.loops > 0 {
			return g.intExpr(0)
		}
		return "l1.map(y, size(y))[" + g.intExpr(d-1) + "]"
	case 10:
		return "[1, 2, 3][" + g.intExpr(d-1) + "]"
	default:
		return g.intExpr(0)
	}
}

func (g *gen) dblExpr(d int) string {
	if d <= 0 {
		return g.pick(g.dblLit(), "d1", "d1")
	}
	switch g.r.IntN(5) {
	case 0, 1:
		return "(" + g.dblExpr(d-1) + " " + g.pick("+", "-", "*", "/") + " " + g.dblExpr(d-1) + ")"
	case 2:
		return "double(" + g.intExpr(d-1) + ")"
	case 3:
		return "-(" + g.dblExpr(d-1) + ")"
	default:
		return g.dblExpr(0)
	}
}

func (g *gen) strExpr(d int) string {
	if d <= 0 || g.r.IntN(3) == 0 {
		opts := []string{g.strLit(), "s1", "s2"}
		opts = append(opts, g.vars...)
		opts = append(opts, g.vars...)
		return g.pick(opts...)
	}
	switch g.r.IntN(5) {
	case 0:
		return "(" + g.strExpr(d-1) + " + " + g.strExpr(d-1) + ")"
	case 1:
		return "l1[" + g.intExpr(d-1) + "]"
	case 2:
		return "(" + g.boolExpr(d-1) + " ? " + g.strExpr(d-1) + " : " + g.strExpr(d-1) + ")"
	case 3:
		return g.strExpr(d-1) + "." + g.pick("lowerAscii", "upperAscii") + "()"
	default:
		return "string(" + g.intExpr(d-1) + ")"
	}
}

func (g *gen) listExpr(d int) string {
	if d <= 0 || g.loops > 0 {
		return g.pick("l1", `["a", "b"]`, "[]", "[s1]")
	}
	v := fmt.Sprintf("x%d", len(g.vars))
	switch g.r.IntN(4) {
	case 0:
		g.vars = append(g.vars, v)
		g.loops++
		body := g.boolExpr(d - 1)
		g.loops--
		g.vars = g.vars[:len(g.vars)-1]
		return "l1.filter(" + v + ", " + body + ")"
	case 1:
		g.vars = append(g.vars, v)
		g.loops++
		body := g.strExpr(d - 1)
		g.loops--
		g.vars = g.vars[:len(g.vars)-1]
		return g.pick("l1", "m1") + ".map(" + v + ", " + body + ")"
	case 2:
		return "(" + g.listExpr(d-1) + " + " + g.listExpr(d-1) + ")"
	default:
		return g.listExpr(0)
	}
}

func (g *gen) timeExpr(d int) string {
	if d <= 0 {
		return g.pick("t1", "t2", "as_of()", `timestamp("2024-03-10T06:59:59Z")`, `timestamp("0001-01-01T00:00:00Z")`)
	}
	switch g.r.IntN(3) {
	case 0:
		return "(" + g.timeExpr(d-1) + " " + g.pick("+", "-") + " " + g.durExpr(d-1) + ")"
	default:
		return g.timeExpr(0)
	}
}

func (g *gen) durExpr(d int) string {
	if d <= 0 {
		return g.pick("du1", `duration("90m")`, "days(30)", "hours(2)", `duration("-1h")`)
	}
	switch g.r.IntN(4) {
	case 0:
		return "(" + g.timeExpr(d-1) + " - " + g.timeExpr(d-1) + ")"
	case 1:
		return "days(" + g.intExpr(d-1) + ")"
	case 2:
		return "(" + g.durExpr(d-1) + " " + g.pick("+", "-") + " " + g.durExpr(d-1) + ")"
	default:
		return g.durExpr(0)
	}
}

// randRecord fills a record with values drawn from small domains full of
// edge cases, each field absent one time in five.
func randRecord(r *rand.Rand, s *Schema, id uint32, loc *time.Location) *Record {
	rec := s.NewRecord(id)
	set := func(name string, v any) {
		if r.IntN(5) == 0 {
			return
		}
		if err := rec.Set(name, v); err != nil {
			panic(err)
		}
	}
	times := []time.Time{
		time.Date(2024, 3, 10, 1, 59, 0, 0, loc), time.Date(2024, 3, 10, 3, 0, 0, 0, loc),
		time.Date(2023, 12, 31, 23, 59, 59, 999999999, loc), time.Date(2024, 2, 29, 12, 0, 0, 0, loc),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 1, 1, 23, 0, 0, 0, loc),
	}
	strs := func() []string {
		n := r.IntN(4)
		out := make([]string, n)
		for i := range out {
			out[i] = genStrs[r.IntN(len(genStrs))]
		}
		return out
	}
	set("i1", genInts[r.IntN(len(genInts))])
	set("i2", int64(r.IntN(21)-10))
	set("i3", genInts[r.IntN(len(genInts))])
	set("d1", genDoubles[r.IntN(len(genDoubles))])
	if v := genStrs[r.IntN(len(genStrs))]; v != "" { // s1 is an enum: never empty
		set("s1", v)
	}
	set("s2", genStrs[r.IntN(len(genStrs))])
	set("b1", r.IntN(2) == 0)
	set("t1", times[r.IntN(len(times))])
	set("t2", times[r.IntN(len(times))])
	set("du1", time.Duration(r.Int64N(int64(100*time.Hour)))-50*time.Hour)
	set("l1", strs())
	m := map[string]int64{}
	for range r.IntN(3) {
		m[genKeys[r.IntN(len(genKeys))]] = genInts[r.IntN(len(genInts))]
	}
	set("m1", m)
	return rec
}

// genRule returns a random boolean rule.
func (g *gen) rule() string {
	s := g.boolExpr(1 + g.r.IntN(4))
	return strings.TrimSpace(s)
}

// pushBool generates a rule whose leaves the index can answer: indexed
// fields against constants, days since a day-indexed timestamp, present()
// and has_tag.
func (g *gen) pushBool(d int) string {
	if d <= 0 || g.r.IntN(4) == 0 {
		ops := []string{"==", "!=", "<", "<=", ">", ">="}
		switch g.r.IntN(11) {
		case 0:
			return g.pick("i1", "i2") + " " + g.pick(ops...) + " " + g.pick(g.intLit(), "-3", "0", "5")
		case 1:
			return g.pick(g.intLit(), "2", "-1") + " " + g.pick(ops...) + " " + g.pick("i1", "i2")
		case 2:
			return "s1 " + g.pick("==", "!=") + " " + g.pick(`"a"`, `"miniapp"`, `"药店"`, `"zz"`)
		case 3:
			return `s1 in ["a", "Ab", "mini"]`
		case 4:
			return "i2 in [" + g.pick("1, 2, 3", "-10", "0, 7") + "]"
		case 5:
			return g.pick("days_since(t1)", "days_until(t1)") + " " + g.pick(ops...) + " " +
				g.pick("0", "1", "9", "30", "-2", "9223372036854775807", "-9223372036854775807")
		case 6:
			return "present(" + g.pick("i1", "s1", "t1") + ")"
		case 7:
			if len(g.tags) > 0 {
				return `has_tag("` + g.pick(g.tags...) + `")`
			}
			return "true"
		case 8:
			for name, vals := range g.enums {
				if g.r.IntN(2) == 0 {
					return `has_tag("` + name + `")`
				}
				return `has_tag("` + name + `", "` + g.pick(vals...) + `")`
			}
			return "false"
		case 9:
			return g.pick("true", "false")
		default:
			return g.pick("i1", "i2") + " >= " + g.intLit()
		}
	}
	switch g.r.IntN(4) {
	case 0:
		return "(" + g.pushBool(d-1) + " && " + g.pushBool(d-1) + ")"
	case 1:
		return "(" + g.pushBool(d-1) + " || " + g.pushBool(d-1) + ")"
	case 2:
		return "!(" + g.pushBool(d-1) + ")"
	default:
		return "(" + g.pushBool(d-1) + " ? " + g.pushBool(d-1) + " : " + g.pushBool(d-1) + ")"
	}
}
