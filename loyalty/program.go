package loyalty

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is a programme's rules as a plain struct, the form it takes in
// JSON. NewProgram validates it into a Program. Zero values mean the
// documented defaults, so a minimal config is a time zone, an earning rate
// and a tier table.
type Config struct {
	// Name identifies the programme in messages.
	Name string `json:"name,omitempty"`
	// TimeZone is the IANA zone in which days, months and years end
	// ("Asia/Shanghai"); empty means UTC. Location, when set, wins.
	TimeZone string         `json:"time_zone,omitempty"`
	Location *time.Location `json:"-"`

	Earning EarningRules `json:"earning"`
	Expiry  ExpiryPolicy `json:"expiry"`
	// AllowNegative lets a refund that claws back points already spent
	// drive the available balance below zero. When false the shortfall is
	// recorded as a debt and the balance stays at zero. Either way the
	// next points to become available pay the shortfall first.
	AllowNegative bool `json:"allow_negative,omitempty"`

	// Tiers in ascending order of threshold; the first is the base tier
	// and must have threshold 0. A programme without tiers has one
	// implicit base tier named "member".
	Tiers  []Tier      `json:"tiers,omitempty"`
	Growth GrowthRules `json:"growth"`

	Cards       []CardProduct    `json:"cards,omitempty"`
	StoredValue StoredValueRules `json:"stored_value"`

	History HistoryRules `json:"history"`
}

// HistoryRules bound how far back an operation may reach. They are
// business rules (a refund after the return window is refused) and they
// are what keeps every account's stored state bounded: lots and growth
// days that no operation the rules still accept can reach are compacted
// away (see the package documentation), so the cost of an operation
// depends on the member's recent activity, not on their whole history.
//
// Both limits are measured from an account's clock: the latest time of any
// operation recorded on it. The clock only moves forward, so a late
// operation cannot reopen a window that later operations closed.
type HistoryRules struct {
	// RefundDays an order can be refunded, and a redemption reversed,
	// after it was placed: a Refund or Reverse whose time — or the
	// account's clock, if later — is RefundDays days or more after the
	// order's or redemption's time (same wall-clock time in the
	// programme's zone) fails with ErrRefundWindowClosed. 0 means the
	// default, 366; the maximum is 36600.
	RefundDays int `json:"refund_days,omitempty"`
	// LateDays an operation's time may lie before the account's clock:
	// an operation dated earlier than that fails with ErrTooLate. It
	// bounds the growth history an account keeps (the growth window plus
	// LateDays). 0 means the default, 366; the maximum is 36600.
	LateDays int `json:"late_days,omitempty"`
}

// Defaults and bounds of HistoryRules.
const (
	DefaultRefundDays = 366
	DefaultLateDays   = 366
	maxHistoryDays    = 36600
)

// EarningRules say how many points an order earns: eligible net paid fen ×
// PointsPerYuan / 100, rounded down, times the product of the multipliers
// that apply (tier, channel, paid card, campaigns).
type EarningRules struct {
	PointsPerYuan int64 `json:"points_per_yuan"`
	// ExcludedCategories earn no points and no growth value (prescription
	// drugs paid by medical insurance, gift cards, tobacco…).
	ExcludedCategories []string `json:"excluded_categories,omitempty"`
	// ChannelMultipliers by channel name; channels not listed earn 1×.
	ChannelMultipliers map[string]Multiplier `json:"channel_multipliers,omitempty"`
	Campaigns          []Campaign            `json:"campaigns,omitempty"`
	// PendingDays holds new points as pending for this many days (the
	// return window) before they can be spent; 0 makes them available at
	// once.
	PendingDays int `json:"pending_days,omitempty"`
}

// Campaign multiplies the points of orders placed in [From, To) through
// the listed channels on lines of the listed categories (empty lists match
// everything). Matching campaigns stack by multiplication.
type Campaign struct {
	Name string `json:"name"`
	// From and To are RFC 3339 instants, or "2006-01-02" or
	// "2006-01-02T15:04:05" read in the programme's zone.
	From       string     `json:"from"`
	To         string     `json:"to"`
	Channels   []string   `json:"channels,omitempty"`
	Categories []string   `json:"categories,omitempty"`
	Multiplier Multiplier `json:"multiplier"`
}

// ExpiryPolicy: points earned at t expire Months months later, at the end
// of that day, month or year in the programme's zone. Months 0 means points
// never expire.
type ExpiryPolicy struct {
	Months int `json:"months,omitempty"`
	// EndOf is "day" (default), "month" or "year".
	EndOf string `json:"end_of,omitempty"`
	// NoticeDays before expiry an EventPointsExpiringSoon is raised, once
	// per lot; 0 raises none.
	NoticeDays int `json:"notice_days,omitempty"`
}

// Tier is one level of the programme.
type Tier struct {
	Name string `json:"name"`
	// Threshold is the growth value needed to reach the tier.
	Threshold int64 `json:"threshold"`
	// Multiplier on earned points; zero means 1×.
	Multiplier Multiplier `json:"multiplier,omitempty"`
}

// GrowthRules say how growth value accrues and how tiers follow it.
// Members are upgraded as soon as their growth value reaches a higher
// tier; they are downgraded only by an Evaluate operation.
type GrowthRules struct {
	// PerYuan growth value per yuan of eligible net paid (rounded down per
	// order) and PerOrder for each order with a positive payment.
	PerYuan  int64 `json:"per_yuan,omitempty"`
	PerOrder int64 `json:"per_order,omitempty"`
	// Window is "rolling" (the last Months months, default 12) or
	// "calendar_year".
	Window string `json:"window,omitempty"`
	Months int    `json:"months,omitempty"`
	// RetentionMonths a member keeps a tier after reaching it, whatever
	// the growth value, before an evaluation may downgrade them.
	RetentionMonths int `json:"retention_months,omitempty"`
	// Downgrade is "one_tier" (default: one level down at most) or
	// "to_supported" (straight to the tier the growth value supports).
	Downgrade string `json:"downgrade,omitempty"`
}

// CardProduct is a paid membership card. A member pays Fee for a period of
// Months; at its end, if the member saved less than the fee, the
// difference is refunded (the guarantee).
type CardProduct struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Fee    int64  `json:"fee"`
	Months int    `json:"months"`
	// PointsMultiplier applies to orders while the card is active; zero
	// means 1×.
	PointsMultiplier Multiplier `json:"points_multiplier,omitempty"`
	Benefits         []string   `json:"benefits,omitempty"`
	// CoolingOffDays after purchase a cancellation refunds the fee less
	// the savings so far; later cancellations refund nothing.
	CoolingOffDays int `json:"cooling_off_days,omitempty"`
}

// StoredValueRules govern prepaid balances.
type StoredValueRules struct {
	// Bonuses: a top-up of at least Min fen gets Bonus fen extra; the
	// largest matching Min applies.
	Bonuses []TopUpBonus `json:"bonuses,omitempty"`
	// SpendOrder is "principal_first" (default), "bonus_first" or
	// "proportional".
	SpendOrder string `json:"spend_order,omitempty"`
	// ForfeitBonusOnWithdraw removes bonus in proportion to the principal
	// withdrawn (all of it when all principal goes). Only principal is
	// ever paid out.
	ForfeitBonusOnWithdraw bool `json:"forfeit_bonus_on_withdraw,omitempty"`
}

// TopUpBonus is one rung of the top-up bonus ladder.
type TopUpBonus struct {
	Min   int64 `json:"min"`
	Bonus int64 `json:"bonus"`
}

// Multiplier is a non-negative decimal factor with at most four decimal
// places, held exactly in basis points (1.5 is 15000). In JSON it is a
// number: 1.5.
type Multiplier int64

// bp is 1× in basis points.
const bp = 10000

// ParseMultiplier reads a decimal such as "1.5" or "2".
func ParseMultiplier(s string) (Multiplier, error) {
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") || len(frac) > 4 || strings.ContainsAny(whole+frac, "+-eE") {
		return 0, fmt.Errorf("multiplier %q: want a decimal like 1.5 with at most 4 decimals", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 1000 {
		return 0, fmt.Errorf("multiplier %q: out of range 0..1000", s)
	}
	f := int64(0)
	if frac != "" {
		f, err = strconv.ParseInt(frac+strings.Repeat("0", 4-len(frac)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("multiplier %q: bad decimals", s)
		}
	}
	return Multiplier(w*bp + f), nil
}

// String writes the multiplier as a decimal without trailing zeros.
func (m Multiplier) String() string {
	s := fmt.Sprintf("%d.%04d", int64(m)/bp, int64(m)%bp)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// MarshalJSON writes the multiplier as a JSON number.
func (m Multiplier) MarshalJSON() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalJSON reads a JSON number exactly, without going through float64.
func (m *Multiplier) UnmarshalJSON(b []byte) error {
	v, err := ParseMultiplier(string(bytes.Trim(b, `"`)))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// orOne treats an unset multiplier as 1×.
func (m Multiplier) orOne() Multiplier {
	if m == 0 {
		return bp
	}
	return m
}

// ProgramError lists every problem found in a Config.
type ProgramError struct {
	Problems []string
}

// Error lists the problems.
func (e *ProgramError) Error() string {
	return "invalid loyalty programme: " + strings.Join(e.Problems, "; ")
}

// Program is a validated, immutable programme. It is safe for concurrent
// use.
type Program struct {
	cfg       Config
	loc       *time.Location
	excluded  map[string]bool
	campaigns []campaign
	cards     map[string]CardProduct
	endOf     string
	window    string
	growthMon int
	downgrade string
	spend     string
	bonuses   []TopUpBonus // by Min descending
	refund    int          // HistoryRules.RefundDays with the default applied
	late      int          // HistoryRules.LateDays with the default applied
	rates     sync.Map     // [2]uint64{num, den} → its string (see fracString)
	maxRate   float64      // no line's rate exceeds it (see earnsBelowMax)
	expiry    atomic.Pointer[expiryMemo]
	zone      atomic.Pointer[zoneSpan] // the last zone span used (see zoneAt)
	windows   [8]atomic.Uint64         // recent windowStart answers, by day (see windowStart)
}

type campaign struct {
	Campaign
	from, to   time.Time
	channels   map[string]bool
	categories map[string]bool
}

// Spending orders and other enumerations as they appear in JSON.
const (
	EndOfDay   = "day"
	EndOfMonth = "month"
	EndOfYear  = "year"

	WindowRolling      = "rolling"
	WindowCalendarYear = "calendar_year"

	DowngradeOneTier     = "one_tier"
	DowngradeToSupported = "to_supported"

	SpendPrincipalFirst = "principal_first"
	SpendBonusFirst     = "bonus_first"
	SpendProportional   = "proportional"
)

// NewProgram validates c and returns the compiled programme, or a
// *ProgramError naming every bad field.
func NewProgram(c Config) (*Program, error) {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	p := &Program{cfg: c, excluded: map[string]bool{}, cards: map[string]CardProduct{}}

	p.loc = c.Location
	if p.loc == nil {
		if c.TimeZone == "" {
			p.loc = time.UTC
		} else if loc, err := time.LoadLocation(c.TimeZone); err != nil {
			bad("time_zone %q: %v", c.TimeZone, err)
			p.loc = time.UTC
		} else {
			p.loc = loc
		}
	}

	e := c.Earning
	if e.PointsPerYuan < 0 || e.PointsPerYuan > 10000 {
		bad("earning.points_per_yuan %d: want 0..10000", e.PointsPerYuan)
	}
	if e.PendingDays < 0 || e.PendingDays > 366 {
		bad("earning.pending_days %d: want 0..366", e.PendingDays)
	}
	for _, cat := range e.ExcludedCategories {
		p.excluded[cat] = true
	}
	for ch, m := range e.ChannelMultipliers {
		if m <= 0 {
			bad("earning.channel_multipliers[%q] %s: must be positive", ch, m)
		}
	}
	for i, cp := range e.Campaigns {
		name := fmt.Sprintf("earning.campaigns[%d]", i)
		if cp.Name != "" {
			name += fmt.Sprintf(" (%s)", cp.Name)
		}
		from, err1 := parseInstant(cp.From, p.loc)
		to, err2 := parseInstant(cp.To, p.loc)
		switch {
		case err1 != nil:
			bad("%s.from: %v", name, err1)
		case err2 != nil:
			bad("%s.to: %v", name, err2)
		case !from.Before(to):
			bad("%s: from %s is not before to %s", name, cp.From, cp.To)
		}
		if cp.Multiplier <= 0 {
			bad("%s.multiplier: must be positive", name)
		}
		p.campaigns = append(p.campaigns, campaign{Campaign: cp, from: from, to: to,
			channels: setOf(cp.Channels), categories: setOf(cp.Categories)})
	}

	x := c.Expiry
	p.endOf = x.EndOf
	if p.endOf == "" {
		p.endOf = EndOfDay
	}
	if p.endOf != EndOfDay && p.endOf != EndOfMonth && p.endOf != EndOfYear {
		bad("expiry.end_of %q: want day, month or year", x.EndOf)
	}
	if x.Months < 0 || x.Months > 600 {
		bad("expiry.months %d: want 0..600", x.Months)
	}
	if x.NoticeDays < 0 || x.NoticeDays > 366 {
		bad("expiry.notice_days %d: want 0..366", x.NoticeDays)
	}
	if x.Months > 0 && e.PendingDays > 28*x.Months {
		bad("earning.pending_days %d: points would expire before they become available (expiry.months %d)", e.PendingDays, x.Months)
	}

	if len(c.Tiers) == 0 {
		p.cfg.Tiers = []Tier{{Name: "member"}}
	} else {
		p.cfg.Tiers = slices.Clone(c.Tiers)
	}
	names := map[string]bool{}
	for i, t := range p.cfg.Tiers {
		switch {
		case t.Name == "":
			bad("tiers[%d]: empty name", i)
		case names[t.Name]:
			bad("tiers[%d]: duplicate name %q", i, t.Name)
		}
		names[t.Name] = true
		if i == 0 && t.Threshold != 0 {
			bad("tiers[0] (%s): the base tier's threshold must be 0, not %d", t.Name, t.Threshold)
		}
		if i > 0 && t.Threshold <= p.cfg.Tiers[i-1].Threshold {
			bad("tiers[%d] (%s): threshold %d must exceed the previous tier's %d", i, t.Name, t.Threshold, p.cfg.Tiers[i-1].Threshold)
		}
		if t.Multiplier < 0 {
			bad("tiers[%d] (%s): negative multiplier", i, t.Name)
		}
	}

	g := c.Growth
	if g.PerYuan < 0 || g.PerYuan > 10000 || g.PerOrder < 0 || g.PerOrder > 1e9 {
		bad("growth.per_yuan (0..10000) or growth.per_order (0..10^9) out of range")
	}
	p.window = g.Window
	if p.window == "" {
		p.window = WindowRolling
	}
	p.growthMon = g.Months
	switch p.window {
	case WindowRolling:
		if p.growthMon == 0 {
			p.growthMon = 12
		}
		if p.growthMon < 1 || p.growthMon > 60 {
			bad("growth.months %d: want 1..60", g.Months)
		}
	case WindowCalendarYear:
		if g.Months != 0 {
			bad("growth.months: not used with a calendar_year window")
		}
	default:
		bad("growth.window %q: want rolling or calendar_year", g.Window)
	}
	if g.RetentionMonths < 0 || g.RetentionMonths > 120 {
		bad("growth.retention_months %d: want 0..120", g.RetentionMonths)
	}
	p.downgrade = g.Downgrade
	if p.downgrade == "" {
		p.downgrade = DowngradeOneTier
	}
	if p.downgrade != DowngradeOneTier && p.downgrade != DowngradeToSupported {
		bad("growth.downgrade %q: want one_tier or to_supported", g.Downgrade)
	}

	for i, cp := range c.Cards {
		switch {
		case cp.ID == "":
			bad("cards[%d]: empty id", i)
		case p.cards[cp.ID].ID != "":
			bad("cards[%d]: duplicate id %q", i, cp.ID)
		}
		if cp.Fee < 0 {
			bad("cards[%d] (%s): negative fee", i, cp.ID)
		}
		if cp.Months < 1 || cp.Months > 120 {
			bad("cards[%d] (%s): months %d: want 1..120", i, cp.ID, cp.Months)
		}
		if cp.PointsMultiplier < 0 || cp.CoolingOffDays < 0 {
			bad("cards[%d] (%s): negative points_multiplier or cooling_off_days", i, cp.ID)
		}
		p.cards[cp.ID] = cp
	}

	sv := c.StoredValue
	p.spend = sv.SpendOrder
	if p.spend == "" {
		p.spend = SpendPrincipalFirst
	}
	if p.spend != SpendPrincipalFirst && p.spend != SpendBonusFirst && p.spend != SpendProportional {
		bad("stored_value.spend_order %q: want principal_first, bonus_first or proportional", sv.SpendOrder)
	}
	for i, b := range sv.Bonuses {
		if b.Min <= 0 || b.Bonus < 0 {
			bad("stored_value.bonuses[%d]: min must be positive and bonus not negative", i)
		}
	}
	p.bonuses = slices.Clone(sv.Bonuses)
	slices.SortFunc(p.bonuses, func(a, b TopUpBonus) int { return int(sign(b.Min - a.Min)) })

	h := c.History
	p.refund, p.late = cmp.Or(h.RefundDays, DefaultRefundDays), cmp.Or(h.LateDays, DefaultLateDays)
	if h.RefundDays < 0 || h.RefundDays > maxHistoryDays {
		bad("history.refund_days %d: want 1..%d (0 for the default %d)", h.RefundDays, maxHistoryDays, DefaultRefundDays)
	}
	if h.LateDays < 0 || h.LateDays > maxHistoryDays {
		bad("history.late_days %d: want 1..%d (0 for the default %d)", h.LateDays, maxHistoryDays, DefaultLateDays)
	}

	if len(probs) > 0 {
		return nil, &ProgramError{Problems: probs}
	}
	p.maxRate = p.rateBound()
	return p, nil
}

// rateBound is the product of the largest multiplier of each kind that
// may apply to a line (each at least 1×), so no line's rate exceeds it.
func (p *Program) rateBound() float64 {
	f := func(m Multiplier) float64 { return max(1, float64(m)/bp) }
	var tier, channel, card float64 = 1, 1, 1
	for _, t := range p.cfg.Tiers {
		tier = max(tier, f(t.Multiplier.orOne()))
	}
	for _, m := range p.cfg.Earning.ChannelMultipliers {
		channel = max(channel, f(m))
	}
	for _, c := range p.cards {
		card = max(card, f(c.PointsMultiplier))
	}
	r := tier * channel * card
	for _, c := range p.campaigns {
		r *= f(c.Multiplier)
	}
	return r
}

// earnsBelowMax reports whether an order with these lines surely earns
// less than maxPoints, whatever the member's tier, channel, card and
// campaigns; half of it leaves room for float64 rounding.
func (p *Program) earnsBelowMax(lines []Line) bool {
	var paid float64
	for _, l := range lines {
		paid += float64(max(0, l.Paid))
	}
	return paid*float64(p.cfg.Earning.PointsPerYuan)/100*p.maxRate < maxPoints/2
}

func sign(v int64) int64 {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

func setOf(xs []string) map[string]bool {
	if len(xs) == 0 {
		return nil
	}
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// parseInstant reads RFC 3339, or a zone-less date or date-time in loc.
func parseInstant(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time or a 2006-01-02[T15:04:05] local time", s)
}

// ParseProgram reads a programme from JSON. Unknown fields are errors, and
// a syntax error names its line and column.
func ParseProgram(data []byte) (*Program, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, jsonError(data, dec, err)
	}
	if dec.More() {
		return nil, errors.New("programme JSON: more than one value")
	}
	return NewProgram(c)
}

// jsonError adds a line:column to a JSON decoding error.
func jsonError(data []byte, dec *json.Decoder, err error) error {
	off := dec.InputOffset()
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	line, col := lineCol(data, off)
	return fmt.Errorf("%d:%d: %w", line, col, err)
}

func lineCol(data []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// Config returns the programme's rules with defaults filled in.
func (p *Program) Config() Config {
	c := p.cfg
	c.Location = p.loc
	if c.TimeZone == "" {
		c.TimeZone = p.loc.String()
	}
	c.Expiry.EndOf = p.endOf
	c.Growth.Window = p.window
	c.Growth.Downgrade = p.downgrade
	if p.window == WindowRolling {
		c.Growth.Months = p.growthMon
	}
	c.StoredValue.SpendOrder = p.spend
	c.History = HistoryRules{RefundDays: p.refund, LateDays: p.late}
	return c
}

// Location is the zone in which the programme's days end.
func (p *Program) Location() *time.Location { return p.loc }

// Tiers returns the tier table, base tier first.
func (p *Program) Tiers() []Tier { return slices.Clone(p.cfg.Tiers) }

// Card returns the paid card product with the given ID.
func (p *Program) Card(id string) (CardProduct, bool) {
	c, ok := p.cards[id]
	return c, ok
}

// ExpiresAt returns the instant at which points earned at t expire: the
// lot is usable strictly before it. Zero means never.
func (p *Program) ExpiresAt(t time.Time) time.Time {
	m := p.cfg.Expiry.Months
	if m == 0 {
		return time.Time{}
	}
	l := t.In(p.loc)
	y, mo, d := l.Date()
	// The expiry depends only on the day points are earned on, and a
	// replay earns many lots a day: remember the last day's.
	today := civil(y, mo, d)
	if e := p.expiry.Load(); e != nil && e.day == today {
		return e.at
	}
	y, mo, d = addMonths(y, mo, d, m)
	var at time.Time
	switch p.endOf {
	case EndOfMonth:
		at = time.Date(y, mo+1, 1, 0, 0, 0, 0, p.loc)
	case EndOfYear:
		at = time.Date(y+1, 1, 1, 0, 0, 0, 0, p.loc)
	default:
		at = time.Date(y, mo, d+1, 0, 0, 0, 0, p.loc)
	}
	p.expiry.Store(&expiryMemo{day: today, at: at})
	return at
}

// expiryMemo is the expiry of points earned on one day.
type expiryMemo struct {
	day day
	at  time.Time
}

// addMonths moves a civil date n months, clamping the day to the target
// month's length (Jan 31 + 1 month is Feb 28 or 29, not Mar 3 as
// time.AddDate would normalise it).
func addMonths(y int, m time.Month, d, n int) (int, time.Month, int) {
	total := y*12 + int(m-1) + n
	y, m = total/12, time.Month(total%12+1)
	if last := daysIn(y, m); d > last {
		d = last
	}
	return y, m, d
}

func daysIn(y int, m time.Month) int {
	if m == time.February {
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return int(30 + (0x15AA>>m)&1) // 31 days in months 1, 3, 5, 7, 8, 10, 12
}

// addMonthsTime is addMonths on an instant, keeping its wall clock in loc.
func addMonthsTime(t time.Time, n int, loc *time.Location) time.Time {
	l := t.In(loc)
	y, m, d := l.Date()
	y, m, d = addMonths(y, m, d, n)
	return time.Date(y, m, d, l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), loc)
}

// day is a civil date in the programme's zone as days since 1970-01-01.
type day int32

func (p *Program) dayOf(t time.Time) day {
	// The local day starts at midnight local time: shift the instant by
	// the zone's offset at that instant and count whole days.
	sec := t.Unix()
	return day(floorDiv(sec+int64(p.zoneAt(sec, t).offset), 86400))
}

// zoneSpan is a stretch of time over which the programme's zone keeps
// one offset (and name): time.Time.ZoneBounds, in Unix seconds.
type zoneSpan struct {
	start, end int64 // [start, end)
	offset     int
}

func (z *zoneSpan) has(sec int64) bool { return z != nil && z.start <= sec && sec < z.end }

// zoneAt returns the span of the zone around t (sec is t.Unix()). The
// last one found is remembered: most zones keep one offset for years, or
// change it twice a year, and a replay moves forward in time.
func (p *Program) zoneAt(sec int64, t time.Time) *zoneSpan {
	if z := p.zone.Load(); z.has(sec) {
		return z
	}
	lt := t.In(p.loc)
	start, end := lt.ZoneBounds()
	_, off := lt.Zone()
	z := &zoneSpan{start: math.MinInt64, end: math.MaxInt64, offset: off}
	if !start.IsZero() {
		z.start = start.Unix()
	}
	if !end.IsZero() {
		z.end = end.Unix()
	}
	p.zone.Store(z)
	return z
}

// addDays is t.In(p.loc).AddDate(0, 0, n): the same wall-clock time n
// days on in the programme's zone. Where the zone keeps one offset from t
// to the result, that is exactly n × 24 hours on, without AddDate's
// calendar arithmetic — unless the result's wall-clock time also exists
// (or is skipped) in a neighbouring span, which only happens within a
// day or so of the span's ends: there AddDate decides.
func (p *Program) addDays(t time.Time, n int) time.Time {
	const margin = 2 * 86400 // seconds; offsets never change by more than a day
	u := t.Add(time.Duration(n) * 24 * time.Hour)
	if z, usec := p.zoneAt(t.Unix(), t), u.Unix(); z.has(usec-margin) && z.has(usec+margin) {
		return u.In(p.loc)
	}
	return t.In(p.loc).AddDate(0, 0, n)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// civil returns the day of a date of the proleptic Gregorian calendar;
// d may run past the month's end (or below 1), as with time.Date. It is
// Howard Hinnant's days_from_civil
// (https://howardhinnant.github.io/date_algorithms.html), which avoids
// the time package on the hot path.
func civil(y int, m time.Month, d int) day {
	yy := int64(y)
	if m <= time.February {
		yy--
	}
	era := floorDiv(yy, 400)
	yoe := yy - era*400
	mp := (int64(m) + 9) % 12 // March is 0
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return day(era*146097 + doe - 719468)
}

// date is civil's inverse (Hinnant's civil_from_days).
func (d day) date() (int, time.Month, int) {
	z := int64(d) + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	dd := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	y := yoe + era*400
	if m <= 2 {
		y++
	}
	return int(y), time.Month(m), int(dd)
}

// windowStart returns the first day counted in the growth window that ends
// with (and includes) last. Operations ask it for the same few days over
// and over, so the last answer is remembered.
func (p *Program) windowStart(last day) day {
	slot := &p.windows[uint32(last)%uint32(len(p.windows))]
	if v := slot.Load(); v != 0 && day(v>>32) == last {
		return day(int32(uint32(v)))
	}
	y, m, d := last.date()
	var first day
	if p.window == WindowCalendarYear {
		first = civil(y, 1, 1)
	} else {
		y, m, d = addMonths(y, m, d, -p.growthMon)
		first = civil(y, m, d) + 1
	}
	// A slot holds last<<32 | first, 0 when empty (which also leaves
	// 1970-01-01 of a calendar-year window uncached).
	slot.Store(uint64(uint32(last))<<32 | uint64(uint32(first)))
	return first
}

// tierFor returns the index of the highest tier growth g reaches.
func (p *Program) tierFor(g int64) int {
	t := 0
	for i, tier := range p.cfg.Tiers {
		if g >= tier.Threshold {
			t = i
		}
	}
	return t
}

// topUpBonus is the bonus a top-up of amount earns.
func (p *Program) topUpBonus(amount int64) int64 {
	for _, b := range p.bonuses {
		if amount >= b.Min {
			return b.Bonus
		}
	}
	return 0
}

// lineRate is the exact multiplier of one order line as a fraction.
func (p *Program) lineRate(tier int, channel string, card Multiplier, category string, at time.Time) *big.Rat {
	r := big.NewRat(int64(p.cfg.Tiers[tier].Multiplier.orOne()), bp)
	mul := func(m Multiplier) { r.Mul(r, big.NewRat(int64(m), bp)) }
	if m, ok := p.cfg.Earning.ChannelMultipliers[channel]; ok {
		mul(m)
	}
	if card != 0 {
		mul(card)
	}
	for _, c := range p.campaigns {
		if at.Before(c.from) || !at.Before(c.to) {
			continue
		}
		if c.channels != nil && !c.channels[channel] || c.categories != nil && !c.categories[category] {
			continue
		}
		mul(c.Multiplier)
	}
	return r
}

// pointsFor is floor(fen × ppy / 100 × rate), exactly.
func pointsFor(fen, ppy int64, rate *big.Rat) int64 {
	if fen <= 0 || ppy == 0 {
		return 0
	}
	num := new(big.Int).Mul(big.NewInt(fen), big.NewInt(ppy))
	num.Mul(num, rate.Num())
	den := new(big.Int).Mul(big.NewInt(100), rate.Denom())
	q := num.Quo(num, den)
	if !q.IsInt64() {
		return 1<<63 - 1
	}
	return q.Int64()
}
