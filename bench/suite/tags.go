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

// manualTag is a tag the host sets from its own data (a diagnosis, the
// channels a member uses), imported into the index for rules to combine.
type manualTag struct {
	name string
	has  func(r *tagRecord) bool
}

var manualTags = []manualTag{
	{"cond_hypertension", func(r *tagRecord) bool { return slices.Contains(r.Conditions, "hypertension") }},
	{"cond_diabetes", func(r *tagRecord) bool { return slices.Contains(r.Conditions, "diabetes") }},
	{"cond_hyperlipidemia", func(r *tagRecord) bool { return slices.Contains(r.Conditions, "hyperlipidemia") }},
	{"cond_copd", func(r *tagRecord) bool { return slices.Contains(r.Conditions, "copd") }},
	{"uses_wechat", func(r *tagRecord) bool { return slices.Contains(r.Channels, "wechat") }},
	{"uses_meituan", func(r *tagRecord) bool { return slices.Contains(r.Channels, "meituan") }},
	{"uses_taobao", func(r *tagRecord) bool { return slices.Contains(r.Channels, "taobao") }},
	{"is_lapsed", func(r *tagRecord) bool { return r.Lapsed }},
}

// refreshRule is one of refresh20's tags: its CEL rule, whose leaves are
// indexed fields and manual tags so that it pushes down, and the same rule
// by hand for the closure peer.
type refreshRule struct {
	name, rule string
	fn         func(r *tagRecord) bool
}

func tier1(city string) bool {
	switch city {
	case "上海", "北京", "广州", "深圳":
		return true
	}
	return false
}

// refreshRules are twenty tags a pharmacy chain's CRM team would keep:
// age and value bands, places and channels, chronic patients by value.
var refreshRules = []refreshRule{
	{"senior", `age >= 60`, func(r *tagRecord) bool { return r.Age >= 60 }},
	{"young_adult", `age >= 18 && age < 35`, func(r *tagRecord) bool { return r.Age >= 18 && r.Age < 35 }},
	{"high_value", `spend_365d >= 200000`, func(r *tagRecord) bool { return r.Spend365d >= 200000 }},
	{"mid_value", `spend_365d >= 50000 && spend_365d < 200000`, func(r *tagRecord) bool { return r.Spend365d >= 50000 && r.Spend365d < 200000 }},
	{"low_value", `spend_365d < 50000`, func(r *tagRecord) bool { return r.Spend365d < 50000 }},
	{"female_senior", `gender == "F" && age >= 60`, func(r *tagRecord) bool { return r.Gender == "F" && r.Age >= 60 }},
	{"tier1_city", `city in ["上海", "北京", "广州", "深圳"]`, func(r *tagRecord) bool { return tier1(r.City) }},
	{"chongqing", `city == "重庆"`, func(r *tagRecord) bool { return r.City == "重庆" }},
	{"joined_wechat", `channel == "wechat"`, func(r *tagRecord) bool { return r.Channel == "wechat" }},
	{"joined_store", `channel == "store"`, func(r *tagRecord) bool { return r.Channel == "store" }},
	{"diabetic_senior", `has_tag("cond_diabetes") && age >= 60`, func(r *tagRecord) bool { return slices.Contains(r.Conditions, "diabetes") && r.Age >= 60 }},
	{"cardio_risk", `has_tag("cond_hypertension") && has_tag("cond_hyperlipidemia")`, func(r *tagRecord) bool {
		return slices.Contains(r.Conditions, "hypertension") && slices.Contains(r.Conditions, "hyperlipidemia")
	}},
	{"chronic_any", `has_tag("cond_hypertension") || has_tag("cond_diabetes") || has_tag("cond_hyperlipidemia") || has_tag("cond_copd")`,
		func(r *tagRecord) bool {
			return slices.Contains(r.Conditions, "hypertension") || slices.Contains(r.Conditions, "diabetes") || slices.Contains(r.Conditions, "hyperlipidemia") || slices.Contains(r.Conditions, "copd")
		}},
	{"copd_active", `has_tag("cond_copd") && !has_tag("is_lapsed")`, func(r *tagRecord) bool { return slices.Contains(r.Conditions, "copd") && !r.Lapsed }},
	{"o2o_female", `has_tag("uses_meituan") && gender == "F"`, func(r *tagRecord) bool { return slices.Contains(r.Channels, "meituan") && r.Gender == "F" }},
	{"winback", `has_tag("is_lapsed") && spend_365d >= 100000`, func(r *tagRecord) bool { return r.Lapsed && r.Spend365d >= 100000 }},
	{"online_vip", `(has_tag("uses_wechat") || has_tag("uses_taobao")) && spend_365d >= 150000`, func(r *tagRecord) bool {
		return (slices.Contains(r.Channels, "wechat") || slices.Contains(r.Channels, "taobao")) && r.Spend365d >= 150000
	}},
	{"tier1_chronic", `city in ["上海", "北京", "广州", "深圳"] && (has_tag("cond_diabetes") || has_tag("cond_hypertension"))`,
		func(r *tagRecord) bool {
			return tier1(r.City) && (slices.Contains(r.Conditions, "diabetes") || slices.Contains(r.Conditions, "hypertension"))
		}},
	{"prime_male", `gender == "M" && age >= 45 && age < 65 && spend_365d >= 100000`, func(r *tagRecord) bool {
		return r.Gender == "M" && r.Age >= 45 && r.Age < 65 && r.Spend365d >= 100000
	}},
	{"young_wechat", `has_tag("uses_wechat") && !has_tag("uses_taobao") && age < 40`, func(r *tagRecord) bool {
		return slices.Contains(r.Channels, "wechat") && !slices.Contains(r.Channels, "taobao") && r.Age < 40
	}},
}

// refreshClosure is refresh20 by hand: every rule for every member, the
// answer a bit mask per member.
func refreshClosureImpl(d *tagData) harness.Impl {
	run := func(full bool) harness.Answer {
		var ans harness.Answer
		if full {
			ans.Values = make([]int64, len(d.recs))
		}
		for i := range d.recs {
			r := &d.recs[i]
			var mask int64
			for b, rule := range refreshRules {
				if rule.fn(r) {
					mask |= 1 << b
					ans.Count++
				}
			}
			if full {
				ans.Values[i] = mask
			}
		}
		return ans
	}
	return harness.Impl{
		Name: "closure",
		Run:  func(context.Context) (harness.Answer, error) { return run(false), nil },
		Full: func(context.Context) (harness.Answer, error) { return run(true), nil },
	}
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
				"matches: `" + ruleText + "`. cdpkit: tags.Evaluator over tags.Records, the per-member path (this rule " +
				"runs compiled to closures; rules the compiler lacks run on cel-go). exprlang: " +
				"expr-lang compiled against the record's struct type, with a reused VM. celmap: cel-go with a map " +
				"activation built per member. closure: the rule hand-written in Go."},
			{Suite: "tags", Case: "load", Text: "cdpkit: load the indexed fields of every record into a segment.Index " +
				"(Schema.LoadIndex) and import the manual tags, ready for push-down."},
			{Suite: "tags", Case: "refresh20", Text: "refresh twenty tags over all members into the index (age and " +
				"spend bands, cities, sign-up channels, chronic patients by age or value, built from indexed fields and " +
				"manual tags imported from the host's data). cdpkit pushes every rule down to bitmap plans over the " +
				"index; cdpkit-interp is the same refresh told not to (RefreshOptions.NoPushDown), evaluating each rule " +
				"member by member over the records; closure evaluates the twenty rules by hand over Go structs. The " +
				"answer is each member's set of tags."},
		},
		Goals: []harness.Goal{
			{Suite: "tags", Case: "rule_eval", Peer: "exprlang", MinRatio: 1, Text: "not slower than expr-lang"},
			{Suite: "tags", Case: "rule_eval", Peer: "closure", MinRatio: 1.0 / 3, Text: "within 3× of a hand-written closure"},
			{Suite: "tags", Case: "refresh20", Peer: "cdpkit-interp", MinRatio: 20, Text: "push-down ≥ 20× faster than the same rules interpreted per member"},
		},
	}
}

func runTags(ctx context.Context, env *Env) error {
	d, err := genTags(ctx, env)
	if err != nil {
		return err
	}
	cdp, err := newTagsCdpkit(ctx, env, d)
	if err != nil {
		return err
	}
	rule, err := cdp.ruleImpl()
	if err != nil {
		return err
	}
	ex, err := exprImpl(d)
	if err != nil {
		return err
	}
	cm, err := celMapImpl(d)
	if err != nil {
		return err
	}
	r := env.Runner
	if err := r.Run(ctx, harness.Case{Suite: "tags", Name: "rule_eval", Members: env.Members,
		Impls: []harness.Impl{rule, ex, cm, closureImpl(d)}}); err != nil {
		return err
	}
	// Loading the index for push-down (the indexed fields and the manual
	// tags) is timed as the suite's load.
	var rf *refresher
	loaded, err := r.Loads(ctx, "tags", env.Members, []harness.Load{{Impl: harness.Reference,
		Run: func(ctx context.Context) (harness.Answer, error) {
			var err error
			rf, err = cdp.newRefresher(ctx, d)
			if err != nil {
				return harness.Answer{}, err
			}
			return harness.Answer{Count: int64(rf.ix.View().MemberCount())}, nil
		},
		Held: func() int64 { return int64(rf.ix.View().MemoryBytes()) },
	}})
	if err != nil || !loaded[harness.Reference] {
		return err
	}
	return r.Run(ctx, harness.Case{Suite: "tags", Name: "refresh20", Members: env.Members,
		Impls: []harness.Impl{rf.impl(harness.Reference, false), rf.impl("cdpkit-interp", true), refreshClosureImpl(d)}})
}
