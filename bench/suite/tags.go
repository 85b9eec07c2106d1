package suite

import (
	"context"
	"fmt"
	"slices"

	"cel.dev/cel-go/cel"
	"github.com/cdpkit/cdpkit/bench/harness"
	"github.com/cdpkit/cdpkit/internal/synth"
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// tagRecord is one member as the rule peers read it. The expr tags give
// expr-lang the rule's field names, so the same rule text compiles in CEL
// and in expr-lang.
type tagRecord struct {
	Age        int64    `expr:"age"`
	Gender     string   `expr:"gender"`
	City       string   `expr:"city"`
	Channel    string   `expr:"channel"`
	Channels   []string `expr:"channels"`
	Conditions []string `expr:"conditions"`
	Spend365d  int64    `expr:"spend_365d"`
	Lapsed     bool     `expr:"lapsed"`
}

// ruleText is the rule of rule_eval, in the common subset of CEL and
// expr-lang: active members over 40 who spend or are chronic patients and
// are reachable online or live in one of the four largest first-tier
// cities. Most members get past the first two terms, so a typical
// evaluation reads five to eight fields, lists included.
const ruleText = `!lapsed && age >= 40 && (spend_365d >= 100000 || "diabetes" in conditions || "hypertension" in conditions) && ` +
	`(channel == "wechat" || "meituan" in channels || city in ["上海", "北京", "广州", "深圳"])`

// ruleClosure is ruleText written by hand in Go.
func ruleClosure(r *tagRecord) bool {
	if r.Lapsed || r.Age < 40 {
		return false
	}
	if !(r.Spend365d >= 100000 || slices.Contains(r.Conditions, "diabetes") || slices.Contains(r.Conditions, "hypertension")) {
		return false
	}
	switch r.City {
	case "上海", "北京", "广州", "深圳":
		return true
	}
	return r.Channel == "wechat" || slices.Contains(r.Channels, "meituan")
}

// tagData is the tags suite's members.
type tagData struct {
	recs []tagRecord
}

func genTags(ctx context.Context, env *Env) (*tagData, error) {
	g, err := newGenerator(env, synth.Config{})
	if err != nil {
		return nil, err
	}
	// Lists are shared between members with the same set, as a loader
	// interning them would: 64 channel sets and 16 condition sets.
	var chLists [64][]string
	for s := range chLists {
		for _, c := range synth.AllChannels() {
			if synth.Channels(s).Has(c) {
				chLists[s] = append(chLists[s], c.String())
			}
		}
	}
	var condLists [16][]string
	for s := range condLists {
		condLists[s] = []string{}
		for _, c := range synth.AllConditions() {
			if synth.Conditions(s).Has(c) {
				condLists[s] = append(condLists[s], c.String())
			}
		}
	}
	n := env.Members
	d := &tagData{recs: make([]tagRecord, n)}
	task := env.Progress.Start(fmt.Sprintf("tags: generating %s members", harness.FormatCount(int64(n))), int64(n))
	err = forChunks(ctx, env, task, func(lo, hi uint32) error {
		for m := range g.MembersRange(lo, hi) {
			d.recs[m.ID] = tagRecord{
				Age:        int64(m.Age),
				Gender:     m.Gender.String(),
				City:       m.City,
				Channel:    m.Channel.String(),
				Channels:   chLists[m.Channels&63],
				Conditions: condLists[m.Conditions&15],
				Spend365d:  spend365d(&m),
				Lapsed:     m.Lapsed(),
			}
		}
		return nil
	})
	task.Done()
	return d, err
}

// ruleImpl evaluates a rule member by member with eval, counting matches;
// Full lists them.
func ruleImpl(name string, d *tagData, eval func(r *tagRecord) (bool, error)) harness.Impl {
	walk := func(list bool) (harness.Answer, error) {
		var ans harness.Answer
		if list {
			ans.Members = []uint32{}
		}
		for i := range d.recs {
			ok, err := eval(&d.recs[i])
			if err != nil {
				return ans, fmt.Errorf("member %d: %w", i, err)
			}
			if ok {
				ans.Count++
				if list {
					ans.Members = append(ans.Members, uint32(i))
				}
			}
		}
		return ans, nil
	}
	return harness.Impl{
		Name: name,
		Run:  func(context.Context) (harness.Answer, error) { return walk(false) },
		Full: func(context.Context) (harness.Answer, error) { return walk(true) },
	}
}

// exprImpl is expr-lang used as its documentation recommends for speed:
// compiled once against the record's struct type, run with a reused VM.
func exprImpl(d *tagData) (harness.Impl, error) {
	prog, err := expr.Compile(ruleText, expr.Env(tagRecord{}), expr.AsBool())
	if err != nil {
		return harness.Impl{}, fmt.Errorf("expr-lang: %w", err)
	}
	var machine vm.VM
	return ruleImpl("exprlang", d, func(r *tagRecord) (bool, error) {
		out, err := machine.Run(prog, r)
		if err != nil {
			return false, err
		}
		return out.(bool), nil
	}), nil
}

// celMapImpl is cel-go used the naive way: the program is compiled once,
// but each member is handed over as a fresh map activation, so cel-go
// converts every field it reads from Go values on each evaluation.
func celMapImpl(d *tagData) (harness.Impl, error) {
	env, err := cel.NewEnv(
		cel.Variable("age", cel.IntType),
		cel.Variable("gender", cel.StringType),
		cel.Variable("city", cel.StringType),
		cel.Variable("channel", cel.StringType),
		cel.Variable("channels", cel.ListType(cel.StringType)),
		cel.Variable("conditions", cel.ListType(cel.StringType)),
		cel.Variable("spend_365d", cel.IntType),
		cel.Variable("lapsed", cel.BoolType),
	)
	if err != nil {
		return harness.Impl{}, fmt.Errorf("cel-go: %w", err)
	}
	ast, iss := env.Compile(ruleText)
	if iss.Err() != nil {
		return harness.Impl{}, fmt.Errorf("cel-go: %w", iss.Err())
	}
	prg, err := env.Program(ast)
	if err != nil {
		return harness.Impl{}, fmt.Errorf("cel-go: %w", err)
	}
	return ruleImpl("celmap", d, func(r *tagRecord) (bool, error) {
		out, _, err := prg.Eval(map[string]any{
			"age":        r.Age,
			"gender":     r.Gender,
			"city":       r.City,
			"channel":    r.Channel,
			"channels":   r.Channels,
			"conditions": r.Conditions,
			"spend_365d": r.Spend365d,
			"lapsed":     r.Lapsed,
		})
		if err != nil {
			return false, err
		}
		b, ok := out.Value().(bool)
		if !ok {
			return false, fmt.Errorf("rule gave %v, not a bool", out)
		}
		return b, nil
	}), nil
}

func closureImpl(d *tagData) harness.Impl {
	return ruleImpl("closure", d, func(r *tagRecord) (bool, error) { return ruleClosure(r), nil })
}

func tagsSuite() Suite {
	return Suite{
		Name: "tags",
		Run:  runTags,
		Cases: []harness.CaseDoc{
			{Suite: "tags", Case: "rule_eval", Text: "evaluate one rule for every member, member by member, and count the " +
				"matches: `" + ruleText + "`. cdpkit: the tags package's interpreted path over its records. exprlang: " +
				"expr-lang compiled against the record's struct type, with a reused VM. celmap: cel-go with a map " +
				"activation built per member. closure: the rule hand-written in Go."},
		},
		Goals: []harness.Goal{
			{Suite: "tags", Case: "rule_eval", Peer: "exprlang", MinRatio: 1, Text: "not slower than expr-lang"},
			{Suite: "tags", Case: "rule_eval", Peer: "closure", MinRatio: 1.0 / 3, Text: "within 3× of a hand-written closure"},
		},
	}
}

func runTags(ctx context.Context, env *Env) error {
	d, err := genTags(ctx, env)
	if err != nil {
		return err
	}
	var impls []harness.Impl
	if cdp := newTagsCdpkit(); cdp != nil {
		impls = append(impls, cdp.ruleImpl(d))
	} else {
		env.Progress.Note("tags: cdpkit side pending (the tags package is not on main yet)")
	}
	ex, err := exprImpl(d)
	if err != nil {
		return err
	}
	cm, err := celMapImpl(d)
	if err != nil {
		return err
	}
	impls = append(impls, ex, cm, closureImpl(d))
	return env.Runner.Run(ctx, harness.Case{Suite: "tags", Name: "rule_eval", Members: env.Members, Impls: impls})
}
