package cdpkit

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/loyalty"
	"github.com/cdpkit/cdpkit/tags"
)

// Config configures an Engine. The zero value is a working engine: UTC,
// identity's default kinds, two channels ("store" and "online"), windows
// of 30 and 90 days, lifetime value on, no host attributes and no loyalty
// programme.
type Config struct {
	// Location is the tenant's time zone: the calendar days of activity,
	// recency and windows, and the clock of tag rules. Nil means UTC.
	Location *time.Location

	// Identity configures OneID. Nil Kinds means identity.DefaultKinds().
	Identity identity.Config

	// Attributes declares the host's profile fields, which SetAttributes
	// and LoadAttributes fill and tag rules read beside the derived
	// fields (see DerivedFields). Fields indexed AsInt, AsEnum or AsDay
	// are also held in the index, so rules and audiences on them run as
	// bitmap operations. Nil means none.
	Attributes *tags.Schema

	// Channels names the order channels, at most 16, each a valid field
	// suffix (letters, digits, '_'). An order's Channel must be one of
	// them; empty means the first. Nil means {"store", "online"}.
	Channels []string

	// Windows are the trailing windows, in days, of the derived fields
	// orders_<N>d and spend_<N>d. The Engine keeps the orders of the
	// longest window (about 30 bytes each) to maintain them. Nil means
	// {30, 90}; an empty non-nil slice means none.
	Windows []int

	// Categories lists line-item categories that get a derived field
	// due_days_<category>: days until the member is due to buy in the
	// category again (when the days-supply bought runs out, for
	// medicine). Each must be a valid field suffix.
	Categories []string

	// Program is the loyalty programme; nil means no loyalty: no ledger,
	// no tier or points fields.
	Program *loyalty.Program
	// LoyaltyStore keeps the ledger; nil means an in-memory store (which
	// Snapshot saves). A durable store such as loyalty/boltstore keeps
	// its own file and is closed by Close.
	LoyaltyStore loyalty.Store
	// LoyaltyFrom is when the programme starts: orders and refunds dated
	// before it are recorded everywhere but the ledger. Use it to load
	// years of history while replaying only recent ones into points.
	LoyaltyFrom time.Time
	// Notifier receives the ledger's events (tier changes, points
	// expiring, card guarantees).
	Notifier loyalty.Notifier

	// NoLifetimeValue skips the BG/NBD and Gamma-Gamma fits at each
	// refresh, and with them the fields p_alive, alive_pct and clv.
	NoLifetimeValue bool

	// Tags configures the tag set (cost limits, workers, versions kept).
	Tags *tags.Config
}

// defaultChannels are the channels of a zero Config.
var defaultChannels = []string{"store", "online"}

// defaultWindows are the windows of a zero Config.
var defaultWindows = []int{30, 90}

// normalize fills defaults and checks the configuration.
func (c Config) normalize() (Config, error) {
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.Identity.Kinds == nil {
		c.Identity.Kinds = identity.DefaultKinds()
	}
	if c.Channels == nil {
		c.Channels = defaultChannels
	}
	c.Channels = slices.Clone(c.Channels)
	if len(c.Channels) == 0 || len(c.Channels) > 16 {
		return c, invalid("config: %d channels, want 1..16", len(c.Channels))
	}
	for i, ch := range c.Channels {
		if !validSuffix(ch) {
			return c, invalid("config: channel %q: want letters, digits and '_'", ch)
		}
		if slices.Index(c.Channels, ch) != i {
			return c, invalid("config: channel %q listed twice", ch)
		}
	}
	if c.Windows == nil {
		c.Windows = defaultWindows
	}
	c.Windows = slices.Clone(c.Windows)
	slices.Sort(c.Windows)
	c.Windows = slices.Compact(c.Windows)
	for _, w := range c.Windows {
		if w < 1 || w > 3660 {
			return c, invalid("config: window of %d days, want 1..3660", w)
		}
	}
	c.Categories = slices.Clone(c.Categories)
	for i, cat := range c.Categories {
		if !validSuffix(cat) {
			return c, invalid("config: category %q: want letters, digits and '_'", cat)
		}
		if slices.Index(c.Categories, cat) != i {
			return c, invalid("config: category %q listed twice", cat)
		}
	}
	return c, nil
}

func validSuffix(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// The names of the derived fields. Windows, channels and categories add
// fields named after them (see DerivedFields).
const (
	FieldOrders       = "orders_total"       // int: orders recorded (refunds not counted)
	FieldSpend        = "spend_total"        // int: net spend in fen, orders less refunds
	FieldPurchaseDays = "purchase_days"      // int: distinct calendar days with an order
	FieldFirstOrder   = "first_order_at"     // timestamp (indexed as a day): first order's day
	FieldLastOrder    = "last_order_at"      // timestamp (indexed as a day): last order's day
	FieldRecency      = "recency_days"       // int: days from the last order's day to the as-of day
	FieldChannels     = "channels"           // list(string): channels with at least one order
	FieldChannelsUsed = "channels_used"      // int: how many
	FieldRFMR         = "rfm_r"              // int 1..5: recency score, 5 = most recent
	FieldRFMF         = "rfm_f"              // int 1..5: frequency score
	FieldRFMM         = "rfm_m"              // int 1..5: monetary score
	FieldRFMSegment   = "rfm_segment"        // string (enum): the R×F grid segment, e.g. "Champions"
	FieldPAlive       = "p_alive"            // double: BG/NBD probability the member is still buying
	FieldAlivePct     = "alive_pct"          // int 0..100: the same, as a rounded percentage
	FieldCLV          = "clv"                // int: expected spend over the next 365 days, fen
	FieldNextPurchase = "next_purchase_days" // int: days until the expected next order (negative: overdue)
	FieldRefillDue    = "refill_due_days"    // int: days until the first days-supply runs out (negative: overdue)
	FieldTier         = "tier"               // string (enum): loyalty tier
	FieldPoints       = "points"             // int: available loyalty points
	FieldGrowth       = "growth"             // int: growth value in the programme's window
)

// Window fields, channel fields and category fields are named by these.
func windowOrdersField(days int) string { return "orders_" + strconv.Itoa(days) + "d" }
func windowSpendField(days int) string  { return "spend_" + strconv.Itoa(days) + "d" }
func channelField(ch string) string     { return "orders_" + ch }
func categoryField(cat string) string   { return "due_days_" + cat }

// The activity events the Engine records for orders.
const (
	EventPurchase = "purchase" // every order, on its calendar day
)

// channelEvent is the activity event of orders on one channel.
func channelEvent(ch string) string { return EventPurchase + ":" + ch }

// fieldClass says when a derived field changes.
type fieldClass uint8

const (
	// live fields are recomputed for a person whenever the person's data
	// changes (orders, merges), at the time of the change.
	live fieldClass = iota
	// population fields depend on everyone (scores, fitted models) and
	// change only at RefreshTags.
	population
)

// derivedField is one built-in field.
type derivedField struct {
	tags.Field
	class fieldClass
}

// derivedFields lists the built-in fields of an engine configured by c,
// in schema order.
func derivedFields(c Config) []derivedField {
	f := func(name string, typ tags.Type, ix tags.IndexAs, class fieldClass, doc string) derivedField {
		return derivedField{Field: tags.Field{Name: name, Type: typ, Index: ix, Doc: doc}, class: class}
	}
	out := []derivedField{
		f(FieldOrders, tags.Int, tags.AsInt, live, "orders recorded (refunds not counted)"),
		f(FieldSpend, tags.Int, tags.AsInt, live, "net spend in fen: orders less refunds"),
		f(FieldPurchaseDays, tags.Int, tags.AsInt, live, "distinct calendar days with an order"),
		f(FieldFirstOrder, tags.Timestamp, tags.AsDay, live, "the first order's day (local midnight)"),
		f(FieldLastOrder, tags.Timestamp, tags.AsDay, live, "the last order's day (local midnight)"),
		f(FieldRecency, tags.Int, tags.AsInt, live, "days from the last order's day to the as-of day"),
	}
	for _, w := range c.Windows {
		out = append(out,
			f(windowOrdersField(w), tags.Int, tags.AsInt, live, fmt.Sprintf("orders in the %d days ending on the as-of day", w)),
			f(windowSpendField(w), tags.Int, tags.AsInt, live, fmt.Sprintf("net spend in fen in the %d days ending on the as-of day", w)))
	}
	out = append(out,
		f(FieldChannels, tags.StringList, tags.NotIndexed, live, "channels with at least one order"),
		f(FieldChannelsUsed, tags.Int, tags.AsInt, live, "how many channels have an order"))
	for _, ch := range c.Channels {
		out = append(out, f(channelField(ch), tags.Int, tags.AsInt, live, fmt.Sprintf("orders on channel %s", ch)))
	}
	out = append(out,
		f(FieldRFMR, tags.Int, tags.AsInt, population, "recency score 1..5 (5: most recent), NTILE over buyers"),
		f(FieldRFMF, tags.Int, tags.AsInt, population, "frequency (orders) score 1..5"),
		f(FieldRFMM, tags.Int, tags.AsInt, population, "monetary (net spend) score 1..5"),
		f(FieldRFMSegment, tags.String, tags.AsEnum, population, "R×F grid segment: Champions, Loyal Customers, …"))
	if !c.NoLifetimeValue {
		out = append(out,
			f(FieldPAlive, tags.Double, tags.NotIndexed, live, "BG/NBD probability that the member is still buying"),
			f(FieldAlivePct, tags.Int, tags.AsInt, live, "p_alive as a rounded percentage 0..100"),
			f(FieldCLV, tags.Int, tags.AsInt, population, "expected spend in fen over the next 365 days (BG/NBD × Gamma-Gamma)"))
	}
	out = append(out,
		f(FieldNextPurchase, tags.Int, tags.AsInt, live, "days until the expected next order; negative when overdue"),
		f(FieldRefillDue, tags.Int, tags.AsInt, live, "days until the first days-supply bought runs out; negative when overdue"))
	for _, cat := range c.Categories {
		out = append(out, f(categoryField(cat), tags.Int, tags.AsInt, live,
			fmt.Sprintf("days until due to buy %s again; negative when overdue", cat)))
	}
	if c.Program != nil {
		out = append(out,
			f(FieldTier, tags.String, tags.AsEnum, live, "loyalty tier"),
			f(FieldPoints, tags.Int, tags.AsInt, live, "available loyalty points"),
			f(FieldGrowth, tags.Int, tags.AsInt, live, "growth value in the programme's window"))
	}
	return out
}

// DerivedFields returns the fields the Engine derives for every person
// under cfg, with their types, how the index holds them and what they
// mean. Host attribute fields must not reuse their names.
func DerivedFields(cfg Config) ([]tags.Field, error) {
	c, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	var out []tags.Field
	for _, d := range derivedFields(c) {
		out = append(out, d.Field)
	}
	return out, nil
}
