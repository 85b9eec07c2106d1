package synth

import (
	"fmt"
	"iter"
	"math"
	"time"
)

// Gender of a member.
type Gender uint8

const (
	Female Gender = iota
	Male
)

func (g Gender) String() string {
	if g == Male {
		return "M"
	}
	return "F"
}

// Channel is where a member registers or orders.
type Channel uint8

const (
	ChannelStore   Channel = iota // a physical store's till
	ChannelWeChat                 // the chain's WeChat mini program
	ChannelAlipay                 // the chain's Alipay mini program
	ChannelTaobao                 // the chain's Taobao/Tmall shop
	ChannelJD                     // the chain's JD shop
	ChannelMeituan                // O2O delivery from a store via Meituan
	numChannels
)

var channelNames = [numChannels]string{"store", "wechat", "alipay", "taobao", "jd", "meituan"}

// String returns the channel's name: store, wechat, alipay, taobao, jd or
// meituan.
func (c Channel) String() string {
	if c < numChannels {
		return channelNames[c]
	}
	return fmt.Sprintf("Channel(%d)", uint8(c))
}

// Online reports whether the channel is not a physical store.
func (c Channel) Online() bool { return c != ChannelStore }

// AllChannels lists the channels in a fixed order.
func AllChannels() []Channel {
	return []Channel{ChannelStore, ChannelWeChat, ChannelAlipay, ChannelTaobao, ChannelJD, ChannelMeituan}
}

// Channels is a set of channels.
type Channels uint8

// Has reports whether c is in the set.
func (s Channels) Has(c Channel) bool { return s&(1<<c) != 0 }

func (s Channels) with(c Channel) Channels { return s | 1<<c }

// Condition is a chronic condition of a pharmacy member.
type Condition uint8

const (
	Hypertension Condition = iota
	Diabetes
	Hyperlipidemia
	COPD
	numConditions
)

var conditionNames = [numConditions]string{"hypertension", "diabetes", "hyperlipidemia", "copd"}

func (c Condition) String() string {
	if c < numConditions {
		return conditionNames[c]
	}
	return fmt.Sprintf("Condition(%d)", uint8(c))
}

// Category is the line-item category of the condition's medicine, e.g.
// "rx_hypertension".
func (c Condition) Category() string { return medCategories[c] }

var medCategories = [numConditions]string{"rx_hypertension", "rx_diabetes", "rx_hyperlipidemia", "rx_copd"}

// AllConditions lists the chronic conditions in a fixed order.
func AllConditions() []Condition { return []Condition{Hypertension, Diabetes, Hyperlipidemia, COPD} }

// Conditions is a set of chronic conditions.
type Conditions uint8

// Has reports whether c is in the set.
func (s Conditions) Has(c Condition) bool { return s&(1<<c) != 0 }

// Count returns the number of conditions in the set.
func (s Conditions) Count() int {
	n := 0
	for c := range numConditions {
		if s.Has(c) {
			n++
		}
	}
	return n
}

// Member is one generated member and the hidden parameters behind their
// behaviour (kept so tests can score models against the truth).
type Member struct {
	ID           uint32
	Age          int
	Gender       Gender
	City         string
	CityRank     int    // 0 is the largest city
	Store        uint32 // home store, 1..Stores
	Channel      Channel
	Channels     Channels // every channel the member uses, Channel included
	RegisteredAt time.Time
	// LapsedAt is when the member stopped buying for good; zero when the
	// member is still active at End.
	LapsedAt   time.Time
	Conditions Conditions // pharmacy only

	// OrdersPerDay is the member's rate of ordinary orders while active.
	OrdersPerDay float64
	// MeanOrderValue is the member's expected spend per ordinary order, in
	// fen (p/ν of the Gamma-Gamma model).
	MeanOrderValue float64
}

// Lapsed reports whether the member stopped buying before End.
func (m *Member) Lapsed() bool { return !m.LapsedAt.IsZero() }

// Generator produces the members, observations and orders of one chain. It
// is immutable and safe for concurrent use.
type Generator struct {
	cfg          Config
	days         float64 // length of [Start, End) in days
	secs         int64   // length of [Start, End) in seconds
	start        int64   // Start in Unix seconds
	meanSpan     float64 // expected active span of a member in days
	cities       categorical
	storesOfCity [][]uint32
	cityOfStore  []int // index by store ID; [0] unused
	regChannel   categorical
	lineCount    categorical
	lineCats     categorical
	lineNames    []string
}

// New returns a generator for cfg, or an error wrapping ErrConfig.
func New(cfg Config) (*Generator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &Generator{cfg: cfg}
	g.start = cfg.Start.Unix()
	g.secs = cfg.End.Unix() - g.start
	g.days = float64(g.secs) / 86400
	// Registration is uniform on [0, W) and a lapse, when it happens, is
	// uniform over the rest of the window, so E[span] = (1-L)·W/2 + L·W/4.
	g.meanSpan = float64((1-cfg.LapseShare)*g.days/2) + float64(cfg.LapseShare*g.days/4)
	g.cities = zipf(len(cities), cfg.CitySkew)
	g.allocateStores()
	g.lineCount = newCategorical(0.45, 0.30, 0.15, 0.10)
	if cfg.Profile == Pharmacy {
		g.regChannel = newCategorical(0.60, 0.20, 0.07, 0.02, 0.03, 0.08)
		g.lineNames = []string{"otc_cold", "otc_digestive", "otc_pain", "supplement", "personal_care", "medical_device", "tcm", "maternal_baby", "skincare"}
		g.lineCats = newCategorical(0.18, 0.10, 0.10, 0.18, 0.12, 0.08, 0.10, 0.06, 0.08)
	} else {
		g.regChannel = newCategorical(0.45, 0.22, 0.08, 0.10, 0.08, 0.07)
		g.lineNames = []string{"grocery", "fresh", "household", "beauty", "apparel", "electronics", "snacks"}
		g.lineCats = newCategorical(0.30, 0.20, 0.15, 0.10, 0.10, 0.05, 0.10)
	}
	return g, nil
}

// Config returns the generator's configuration with defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Categories returns the ordinary (non-medicine) line-item categories of
// the profile.
func (g *Generator) Categories() []string { return append([]string(nil), g.lineNames...) }

// CityOfStore returns the city of a store, or "" for an unknown store.
func (g *Generator) CityOfStore(store uint32) string {
	if store == 0 || int(store) >= len(g.cityOfStore) {
		return ""
	}
	return cities[g.cityOfStore[store]]
}

// allocateStores spreads stores over cities in proportion to the city
// weights (largest remainder), at least one per city while stores last.
func (g *Generator) allocateStores() {
	n := g.cfg.Stores
	counts := make([]int, len(cities))
	left := n
	for c := range counts {
		if left == 0 {
			break
		}
		counts[c] = 1
		left--
	}
	if left > 0 {
		rem := make([]float64, len(cities))
		given := 0
		for c := range counts {
			share := float64(g.cityWeight(c) * float64(left))
			counts[c] += int(share)
			given += int(share)
			rem[c] = share - math.Floor(share)
		}
		for ; given < left; given++ {
			best := 0
			for c := range rem {
				if rem[c] > rem[best] {
					best = c
				}
			}
			counts[best]++
			rem[best] = -1
		}
	}
	g.storesOfCity = make([][]uint32, len(cities))
	g.cityOfStore = make([]int, n+1)
	id := uint32(1)
	for c, k := range counts {
		for range k {
			g.storesOfCity[c] = append(g.storesOfCity[c], id)
			g.cityOfStore[id] = c
			id++
		}
	}
}

func (g *Generator) cityWeight(c int) float64 { return g.cities.weight(c) }

// Member returns member id. It panics if id is not below Config().Members,
// like an index out of range.
func (g *Generator) Member(id uint32) Member {
	var p pcg
	var m Member
	g.member(&p, id, &m)
	return m
}

// Members walks every member in increasing ID order.
func (g *Generator) Members() iter.Seq[Member] { return g.MembersRange(0, uint32(g.cfg.Members)) }

// MembersRange walks members lo..hi-1 (clamped to the generator's size) in
// increasing ID order.
func (g *Generator) MembersRange(lo, hi uint32) iter.Seq[Member] {
	hi = min(hi, uint32(g.cfg.Members))
	return func(yield func(Member) bool) {
		var p pcg
		var m Member
		for id := lo; id < hi; id++ {
			g.member(&p, id, &m)
			if !yield(m) {
				return
			}
		}
	}
}

func (g *Generator) member(p *pcg, id uint32, m *Member) {
	if int64(id) >= int64(g.cfg.Members) {
		panic(fmt.Sprintf("synth: member %d out of range [0, %d)", id, g.cfg.Members))
	}
	seedStream(p, g.cfg.Seed, streamMember, id)
	r := newRNG(p)
	cfg := &g.cfg
	*m = Member{ID: id}
	if cfg.Profile == Pharmacy {
		m.Age = int(normalClipped(r, 52, 16, 18, 95))
		if r.Float64() < 0.42 {
			m.Gender = Male
		}
	} else {
		m.Age = int(normalClipped(r, 38, 12, 16, 80))
		if r.Float64() < 0.38 {
			m.Gender = Male
		}
	}
	m.CityRank = g.cities.sample(r)
	stores := g.storesOfCity[m.CityRank]
	if len(stores) == 0 { // fewer stores than cities: shop in a larger city
		stores = g.storesOfCity[m.CityRank%g.cfg.Stores]
	}
	m.City = cities[m.CityRank]
	m.Store = stores[r.IntN(len(stores))]
	m.Channel = Channel(g.regChannel.sample(r))
	m.Channels = m.Channels.with(m.Channel)
	if r.Float64() < 0.35 {
		for range 1 + r.IntN(3) {
			m.Channels = m.Channels.with(Channel(g.regChannel.sample(r)))
		}
	}
	reg := float64(r.Float64() * g.days)
	m.RegisteredAt = g.at(reg)
	if r.Float64() < cfg.LapseShare {
		m.LapsedAt = g.at(reg + float64(r.Float64()*(g.days-reg)))
	}
	if cfg.Profile == Pharmacy {
		// Prevalence rises with age; rough shapes of Chinese adult
		// prevalence (hypertension about a quarter of adults, most of it
		// past 50), not a clinical model.
		base := min(max(0.02+float64(0.012*float64(m.Age-30)), 0.02), 0.75)
		for c, f := range [numConditions]float64{1, 0.45, 0.5, 0.15} {
			if r.Float64() < base*f {
				m.Conditions |= 1 << c
			}
		}
	}
	// Gamma(0.6) with mean 1 scales the mean rate: heavy-tailed frequency.
	m.OrdersPerDay = gamma(r, 0.6) / 0.6 * cfg.MeanOrders / g.meanSpan
	// Gamma-Gamma spend: ν ~ Gamma(q=3, rate γ), mean spend p/ν with p=3,
	// so E[p/ν] = pγ/(q-1) is the profile's mean order value.
	mean := 12000.0
	if cfg.Profile == Retail {
		mean = 18000
	}
	gammaRate := mean * 2 / 3
	nu := gamma3.sample(r) / gammaRate
	m.MeanOrderValue = 3 / nu
}

// at converts days since Start into a time in the chain's zone, to the
// second.
func (g *Generator) at(days float64) time.Time {
	sec := int64(days * 86400)
	return time.Unix(g.cfg.Start.Unix()+sec, 0).In(g.cfg.Location)
}

// cities are 60 of the largest Chinese cities by population, largest first;
// members are drawn from them by a Zipf law.
var cities = [...]string{
	"重庆", "上海", "北京", "成都", "广州", "深圳", "天津", "西安", "苏州", "郑州",
	"武汉", "杭州", "石家庄", "临沂", "东莞", "青岛", "长沙", "宁波", "哈尔滨", "合肥",
	"佛山", "南京", "济南", "沈阳", "昆明", "潍坊", "邯郸", "周口", "温州", "保定",
	"南阳", "长春", "菏泽", "泉州", "赣州", "南宁", "徐州", "商丘", "驻马店", "福州",
	"大连", "厦门", "无锡", "济宁", "唐山", "贵阳", "太原", "南昌", "沧州", "金华",
	"烟台", "常州", "嘉兴", "台州", "南通", "珠海", "中山", "惠州", "绍兴", "汕头",
}

// Cities returns the city names, largest first: CityRank indexes it.
func Cities() []string { return append([]string(nil), cities[:]...) }
