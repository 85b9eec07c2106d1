package synth

import (
	"cmp"
	"iter"
	"slices"
	"time"
)

// Sources of observations.
const (
	SourceStorePOS   = "store_pos"      // a till in a store: member card and phone
	SourceStoreKiosk = "store_kiosk"    // a store's self-service tablet, shared by all its visitors
	SourceWeChat     = "wechat_miniapp" // a WeChat mini program login or order
	SourceAlipay     = "alipay_miniapp" // the Alipay mini program
	SourceTaobao     = "taobao"         // a Taobao/Tmall order
	SourceJD         = "jd"             // a JD order
	SourceMeituan    = "meituan"        // a Meituan O2O delivery order
	SourceInsurer    = "insurer"        // an insurer's direct-billing claim
)

var channelSource = [numChannels]string{SourceStorePOS, SourceWeChat, SourceAlipay, SourceTaobao, SourceJD, SourceMeituan}

// Observation is the set of identifiers seen together in one event.
type Observation struct {
	EventID uint64
	// Member is the true member behind the event: what a perfect resolver
	// would answer. Resolvers must not read it; tests score them with it.
	Member uint32
	Source string
	Time   time.Time
	// IDs are the identifiers as the source reported them: possibly in a
	// non-canonical format, possibly junk. The slice is reused by the walk.
	IDs []Identifier
}

// Clone returns a copy of o that does not share IDs with the walk.
func (o Observation) Clone() Observation {
	o.IDs = slices.Clone(o.IDs)
	return o
}

// personIDs is which identifiers a member has, derived from their
// identity stream.
type personIDs struct {
	phone       bool
	second      bool // a second phone, used now and then
	card        bool
	mallApp     bool // also uses the mall mini program
	devices     int  // own devices, 0..3
	household   bool // first device shared with the previous member ID
	insurer     bool
	insurerSeen bool // the insurer reports this member
}

func (g *Generator) personIDs(r rng, m *Member) personIDs {
	var p personIDs
	p.phone = r.Float64() < 0.95
	p.second = r.Float64() < 0.04
	p.card = m.Channels.Has(ChannelStore) || r.Float64() < 0.5
	p.mallApp = r.Float64() < 0.3
	if m.Channels&^(1<<ChannelStore|1<<ChannelTaobao|1<<ChannelJD) != 0 {
		p.devices = 1 + r.IntN(2)
		p.household = r.Float64() < 0.03 && m.ID > 0
	}
	p.insurer = g.cfg.Profile == Pharmacy && m.Conditions != 0 && r.Float64() < 0.4
	return p
}

// Identifiers returns the canonical identifiers member id owns (phones as
// 11 digits), the ground truth against which resolution is scored. A
// household device shared with the previous member ID is listed under
// both: it truly belongs to two people.
func (g *Generator) Identifiers(id uint32) []Identifier {
	var mp, ip pcg
	var m Member
	g.member(&mp, id, &m)
	seedStream(&ip, g.cfg.Seed, streamIdentity, id)
	p := g.personIDs(newRNG(&ip), &m)
	var out []Identifier
	add := func(kind, value, scope string) { out = append(out, Identifier{kind, value, scope}) }
	if p.phone {
		add(KindPhone, memberPhone(id), "")
	}
	if p.second {
		add(KindPhone, secondPhone(id), "")
	}
	if p.card {
		add(KindMemberCard, memberCard(id), "")
	}
	if m.Channels.Has(ChannelWeChat) {
		add(KindWeChatUnionID, g.unionID(id), "")
		add(KindWeChatOpenID, g.openID(AppPharmacy, id), AppPharmacy)
		if p.mallApp {
			add(KindWeChatOpenID, g.openID(AppMall, id), AppMall)
		}
	}
	if m.Channels.Has(ChannelAlipay) {
		add(KindAlipayUID, alipayUID(id), "")
	}
	if m.Channels.Has(ChannelTaobao) {
		add(KindTaobaoID, g.taobaoID(id), "")
	}
	if m.Channels.Has(ChannelJD) {
		add(KindJDID, g.jdID(id), "")
	}
	if m.Channels.Has(ChannelMeituan) {
		add(KindMeituanID, meituanID(id), "")
	}
	for k := range p.devices {
		owner := uint64(id)<<2 | uint64(k)
		if k == 0 && p.household {
			owner = uint64(id-1) << 2
		}
		add(KindDeviceID, g.deviceID(saltDevice, owner), "")
	}
	if p.insurer {
		add(KindInsurerID, insurerID(id), "")
	}
	return out
}

// StorePhone returns the phone of a store's counter: the number cashiers
// type when a member gives none, which would glue members together.
func StorePhone(store uint32) string { return storePhone(store) }

// Observations walks the observations of every member, member by member in
// increasing ID order, each member's in time order.
func (g *Generator) Observations() iter.Seq[Observation] {
	return g.ObservationsRange(0, uint32(g.cfg.Members))
}

// ObservationsRange walks the observations of members lo..hi-1.
func (g *Generator) ObservationsRange(lo, hi uint32) iter.Seq[Observation] {
	hi = min(hi, uint32(g.cfg.Members))
	return func(yield func(Observation) bool) {
		w := obsWalk{g: g}
		for id := lo; id < hi; id++ {
			w.generate(id)
			for i := range w.events {
				e := &w.events[i]
				o := Observation{
					EventID: uint64(id)<<16 | uint64(i),
					Member:  id,
					Source:  e.source,
					Time:    time.Unix(g.start+e.sec, 0).In(g.cfg.Location),
					IDs:     w.ids[e.lo:e.hi],
				}
				if !yield(o) {
					return
				}
			}
		}
	}
}

type obsEvent struct {
	sec    int64 // seconds since Start
	source string
	lo, hi int
}

// obsWalk holds the buffers of one walk over observations.
type obsWalk struct {
	g       *Generator
	mp, ip  pcg
	m       Member
	events  []obsEvent
	ids     []Identifier
	scratch []Identifier
}

func (w *obsWalk) generate(id uint32) {
	g := w.g
	g.member(&w.mp, id, &w.m)
	m := &w.m
	seedStream(&w.ip, g.cfg.Seed, streamIdentity, id)
	r := newRNG(&w.ip)
	p := g.personIDs(r, m)
	w.events, w.ids = w.events[:0], w.ids[:0]

	reg := m.RegisteredAt.Sub(g.cfg.Start).Hours() / 24
	// Members are seen on their channels until End, lapsed or not: people
	// still open the app after they stop buying.
	when := func() float64 { return reg + float64(r.Float64()*(g.days-reg)) }

	phone := func() (Identifier, bool) {
		if !p.phone {
			return Identifier{}, false
		}
		v := memberPhone(id)
		if p.second && r.Float64() < 0.3 {
			v = secondPhone(id)
		}
		if r.Float64() < g.cfg.PhoneVariantShare {
			v = formatPhone(r, v)
		}
		return Identifier{Kind: KindPhone, Value: v}, true
	}
	device := func() (Identifier, bool) {
		if p.devices == 0 {
			return Identifier{}, false
		}
		k := r.IntN(p.devices)
		owner := uint64(id)<<2 | uint64(k)
		if k == 0 && p.household {
			owner = uint64(id-1) << 2
		}
		return Identifier{Kind: KindDeviceID, Value: g.deviceID(saltDevice, owner)}, true
	}

	// emit records an event on day (days since Start) at an hour the
	// channel trades at (registrations keep their exact time).
	emit := func(day float64, c Channel, source string, ids ...Identifier) {
		sec := timeOfDay(r, day, c)
		if day == reg {
			sec = int64(reg * 86400)
		}
		lo := len(w.ids)
		w.ids = append(w.ids, ids...)
		w.events = append(w.events, obsEvent{sec: sec, source: source, lo: lo, hi: len(w.ids)})
	}
	// event assembles the identifiers of one event from a channel.
	event := func(day float64, c Channel) {
		ids := w.scratch[:0]
		maybe := func(f func() (Identifier, bool), prob float64) {
			if r.Float64() < prob {
				if x, ok := f(); ok {
					ids = append(ids, x)
				}
			}
		}
		switch c {
		case ChannelStore:
			if p.card {
				ids = append(ids, Identifier{Kind: KindMemberCard, Value: memberCard(id)})
			}
			if r.Float64() < g.cfg.SharedPhoneShare {
				ids = append(ids, Identifier{Kind: KindPhone, Value: storePhone(m.Store)})
			} else {
				maybe(phone, 0.9)
			}
		case ChannelWeChat:
			app := AppPharmacy
			if p.mallApp && r.Float64() < 0.4 {
				app = AppMall
			}
			ids = append(ids,
				Identifier{Kind: KindWeChatOpenID, Value: g.openID(app, id), Scope: app},
				Identifier{Kind: KindWeChatUnionID, Value: g.unionID(id)})
			maybe(phone, 0.5)
			maybe(device, 0.3)
		case ChannelAlipay:
			ids = append(ids, Identifier{Kind: KindAlipayUID, Value: alipayUID(id)})
			maybe(phone, 0.6)
			maybe(device, 0.3)
		case ChannelTaobao:
			ids = append(ids, Identifier{Kind: KindTaobaoID, Value: g.taobaoID(id)})
			maybe(phone, 0.4)
		case ChannelJD:
			ids = append(ids, Identifier{Kind: KindJDID, Value: g.jdID(id)})
			maybe(phone, 0.4)
		case ChannelMeituan:
			ids = append(ids, Identifier{Kind: KindMeituanID, Value: meituanID(id)})
			maybe(phone, 0.7)
			maybe(device, 0.3)
		}
		w.scratch = ids
		emit(day, c, channelSource[c], ids...)
	}

	event(reg, m.Channel)
	for c := range numChannels {
		if !m.Channels.Has(c) {
			continue
		}
		// One to three more events per channel used (1 + Poisson(0.7),
		// capped), so members have 2-4 identifiers seen several times.
		n := 1
		for n < 3 && r.Float64() < 0.5 {
			n++
		}
		for range n {
			event(when(), c)
		}
	}
	if p.insurer {
		ids := []Identifier{{Kind: KindInsurerID, Value: insurerID(id)}}
		if x, ok := phone(); ok {
			ids = append(ids, x)
		}
		if p.card && r.Float64() < 0.3 {
			ids = append(ids, Identifier{Kind: KindMemberCard, Value: memberCard(id)})
		}
		emit(when(), ChannelWeChat, SourceInsurer, ids...)
	}
	if r.Float64() < g.cfg.SharedDeviceShare {
		kiosk := Identifier{Kind: KindDeviceID, Value: g.deviceID(saltKiosk, uint64(m.Store))}
		if p.card {
			emit(when(), ChannelStore, SourceStoreKiosk, kiosk, Identifier{Kind: KindMemberCard, Value: memberCard(id)})
		} else if x, ok := phone(); ok {
			emit(when(), ChannelStore, SourceStoreKiosk, kiosk, x)
		}
	}
	// Junk: replace one identifier of an observation with a junk value.
	for i := range w.events {
		e := &w.events[i]
		if e.hi > e.lo && r.Float64() < g.cfg.JunkShare {
			x := &w.ids[e.lo+r.IntN(e.hi-e.lo)]
			if x.Kind == KindPhone {
				x.Value = junkPhone[r.IntN(len(junkPhone))]
			} else {
				x.Value = junkGeneric[r.IntN(len(junkGeneric))]
			}
		}
	}
	slices.SortStableFunc(w.events, func(a, b obsEvent) int { return cmp.Compare(a.sec, b.sec) })
}

// KioskDevice returns the device ID of a store's self-service kiosk, a
// device seen with many members.
func (g *Generator) KioskDevice(store uint32) string { return g.deviceID(saltKiosk, uint64(store)) }
