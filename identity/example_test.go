package identity_test

import (
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/cdpkit/cdpkit/identity"
)

// A chain sees the same customer at the till, in a WeChat mini program and
// on Taobao; OneID joins them, and keeps a shared store phone from gluing
// strangers together.
func Example() {
	r, err := identity.New(identity.Config{Kinds: identity.DefaultKinds()})
	if err != nil {
		log.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	observe := func(event, source string, ids ...identity.Identifier) identity.Result {
		res, err := r.Observe(identity.Observation{EventID: event, Source: source, Time: at, Identifiers: ids})
		if err != nil {
			log.Fatal(err)
		}
		return res
	}
	card := identity.Identifier{Kind: identity.KindMemberCard, Value: "M0001"}
	phone := identity.Identifier{Kind: identity.KindPhone, Value: "+86 138-0013-8000"}
	openID := identity.Identifier{Kind: identity.KindWeChatOpenID, Scope: "wx5f3a9c0b1d2e4f60", Value: "oX7ab-Q2pLm9sK1vT3wY8zR4nC6d"}
	taobao := identity.Identifier{Kind: identity.KindTaobaoID, Value: "tb_2201384"}

	till := observe("pos-1001", "pos", card, phone)
	fmt.Println("till: person", till.Person, "created", till.Created)

	// The mini program sees the phone with an OpenID: attached.
	mp := observe("mp-77", "wechat", openID, identity.Identifier{Kind: identity.KindPhone, Value: "13800138000"})
	fmt.Println("mini program: person", mp.Person, "attached", mp.Attached)

	// Taobao is seen alone first, then with the card: the two persons
	// merge under the older one.
	tb := observe("tb-9", "taobao", taobao)
	joined := observe("crm-3", "crm", taobao, card)
	fmt.Println("taobao: person", tb.Person, "merged into", joined.Person)

	// A second customer gives the store's phone at the till: two member
	// cards cannot be one person, so the phone is dropped, not linked.
	other := observe("pos-1002", "pos", identity.Identifier{Kind: identity.KindMemberCard, Value: "M0002"}, phone)
	fmt.Println("second card: person", other.Person, "dropped", other.Dropped[0].Identifier, "limit", other.Dropped[0].Limits)

	ids, _ := r.Identifiers(tb.Person) // an alias still resolves
	for _, id := range ids {
		fmt.Println(" ", id)
	}
	// Output:
	// till: person 0 created true
	// mini program: person 0 attached 1
	// taobao: person 1 merged into 0
	// second card: person 2 dropped phone:13800138000 limit [member_card]
	//   member_card:M0001
	//   phone:13800138000
	//   wechat_openid[wx5f3a9c0b1d2e4f60]:oX7ab-Q2pLm9sK1vT3wY8zR4nC6d
	//   taobao_id:tb_2201384
}

// A mistaken observation joined two customers; removing it replays the
// rest of their evidence and gives both back their own IDs.
func ExampleResolver_SplitObservation() {
	r, _ := identity.New(identity.Config{Kinds: identity.DefaultKinds()})
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	obs := []identity.Observation{
		{EventID: "a", Time: at, Identifiers: []identity.Identifier{{Kind: identity.KindPhone, Value: "13800138000"}}},
		{EventID: "b", Time: at, Identifiers: []identity.Identifier{{Kind: identity.KindUnionID, Value: "oU-1"}}},
		{EventID: "typo", Time: at, Identifiers: []identity.Identifier{
			{Kind: identity.KindUnionID, Value: "oU-1"}, {Kind: identity.KindPhone, Value: "13800138000"}}},
	}
	if err := r.ObserveBatch(obs, nil); err != nil {
		log.Fatal(err)
	}
	fmt.Println("persons before:", r.Stats().Persons)
	res, err := r.SplitObservation("typo")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("before", res.Before, "after", res.After)
	p, _ := r.Lookup(identity.Identifier{Kind: identity.KindUnionID, Value: "oU-1"})
	fmt.Println("unionid is person", p)
	// Output:
	// persons before: 1
	// before [0] after [0 1]
	// unionid is person 1
}

// A host keeps tag bitmaps keyed by person ID in step with identity by
// applying each change to its index.
func ExampleChange_Rekey() {
	r, _ := identity.New(identity.Config{Kinds: identity.DefaultKinds()})
	tags := map[uint32][]string{}
	index := identity.RekeyFuncs{
		Merge: func(survivor, loser uint32) error {
			tags[survivor] = append(tags[survivor], tags[loser]...)
			delete(tags, loser)
			return nil
		},
		Remove: func(id uint32) error { delete(tags, id); return nil },
	}
	r.Subscribe(func(c identity.Change) {
		rederive, err := c.Rekey(index)
		if err != nil {
			log.Print(err)
		}
		fmt.Println(c.Kind, "re-derive", rederive)
	})
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	card := identity.Identifier{Kind: identity.KindMemberCard, Value: "M1"}
	phone := identity.Identifier{Kind: identity.KindPhone, Value: "13800138000"}
	a, _ := r.Observe(identity.Observation{Time: at, Identifiers: []identity.Identifier{card}})
	b, _ := r.Observe(identity.Observation{Time: at, Identifiers: []identity.Identifier{phone}})
	tags[uint32(a.Person)] = []string{"vip"}
	tags[uint32(b.Person)] = []string{"diabetes"}
	r.Observe(identity.Observation{EventID: "join", Time: at, Identifiers: []identity.Identifier{card, phone}})
	fmt.Println(tags)
	r.SplitObservation("join")
	fmt.Println(tags)
	// Output:
	// merged re-derive []
	// map[0:[vip diabetes]]
	// split re-derive [0 1]
	// map[]
}

func ExampleResolver_Explain() {
	r, _ := identity.New(identity.Config{Kinds: identity.DefaultKinds()})
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	r.ObserveBatch([]identity.Observation{
		{EventID: "pos-1", Source: "pos", Time: at, Identifiers: []identity.Identifier{
			{Kind: identity.KindMemberCard, Value: "M1"}, {Kind: identity.KindPhone, Value: "13800138000"}}},
		{EventID: "app-1", Source: "app", Time: at.Add(time.Hour), Identifiers: []identity.Identifier{
			{Kind: identity.KindDevice, Value: "IDFA-1"}, {Kind: identity.KindPhone, Value: "13800138000"}}},
		{EventID: "pos-2", Source: "pos", Time: at.Add(2 * time.Hour), Identifiers: []identity.Identifier{
			{Kind: identity.KindMemberCard, Value: "M2"}, {Kind: identity.KindPhone, Value: "13800138000"}}},
	}, nil)
	ex, _ := r.Explain(0)
	for _, s := range ex.Steps {
		fmt.Println(s.EventID, s.Source, s.Time.Format(time.Kitchen), "added", s.Added)
	}
	for _, s := range ex.Refused {
		fmt.Println(s.EventID, "refused", s.Dropped, "because of", s.Limits, "and went to person", s.Person)
	}
	// Output:
	// pos-1 pos 10:00AM added [member_card:M1 phone:13800138000]
	// app-1 app 11:00AM added [device_id:idfa-1]
	// pos-2 refused [phone:13800138000] because of [member_card] and went to person 1
}

func ExampleNormalizeCNMobile() {
	for _, v := range []string{"+86 138-0013-8000", "0086 13800138000", "１３８００１３８０００", "12345678901"} {
		n, err := identity.NormalizeCNMobile(nil, v)
		fmt.Printf("%q %q %v\n", v, n, err)
	}
	// Output:
	// "+86 138-0013-8000" "13800138000" <nil>
	// "0086 13800138000" "13800138000" <nil>
	// "１３８００１３８０００" "13800138000" <nil>
	// "12345678901" "" not a mobile number (want 1[3-9] then 9 digits)
}

// A bulk load reads observations into a Batch, which holds them in a few
// columns rather than millions of small structs, and resolves them in one
// call. Persons come back per observation; a bad line is reported by its
// position and the rest still load.
func ExampleResolver_Resolve() {
	r, err := identity.New(identity.Config{Kinds: identity.DefaultKinds()})
	if err != nil {
		log.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	lines := [][3]string{ // event, kind, value: as a host's export might hold them
		{"pos-1", identity.KindMemberCard, "M0001"},
		{"pos-2", identity.KindPhone, "138 0013 8000"},
		{"pos-3", "fax", "010-1234"},
		{"pos-4", identity.KindPhone, "+86 13800138000"},
	}
	var b identity.Batch
	for _, l := range lines {
		o := identity.Observation{EventID: l[0], Source: "pos", Time: at,
			Identifiers: []identity.Identifier{{Kind: l[1], Value: l[2]}}}
		if err := b.Add(o); err != nil {
			log.Fatal(err)
		}
	}
	persons := make([]identity.PersonID, b.Len())
	sum, err := r.Resolve(&b, persons)
	var be *identity.BatchError
	if errors.As(err, &be) {
		for _, e := range be.Errors {
			fmt.Println("skipped:", e)
		}
	}
	for i, p := range persons {
		if p == identity.NoPerson {
			fmt.Println(lines[i][0], "-> none")
			continue
		}
		fmt.Println(lines[i][0], "-> person", p)
	}
	fmt.Printf("created %d, resolved %d, failed %d\n", sum.Created, sum.Observations, sum.Failed)
	// Output:
	// skipped: observation 2 (event "pos-3"): identifier 0: "fax": unknown identifier kind
	// pos-1 -> person 0
	// pos-2 -> person 1
	// pos-3 -> none
	// pos-4 -> person 1
	// created 2, resolved 3, failed 1
}
