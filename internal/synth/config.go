package synth

import (
	"errors"
	"fmt"
	"time"
)

// Profile is the kind of chain the generator imitates.
type Profile uint8

const (
	// Pharmacy is a drugstore chain: older members, chronic conditions and
	// medicine refills with a days-supply.
	Pharmacy Profile = iota
	// Retail is a general retail chain: younger members, no refills.
	Retail
)

func (p Profile) String() string {
	switch p {
	case Pharmacy:
		return "pharmacy"
	case Retail:
		return "retail"
	}
	return fmt.Sprintf("Profile(%d)", uint8(p))
}

// Config describes the chain to generate. The zero value, or a zero field,
// means the default given on the field.
type Config struct {
	// Seed selects the data; the same seed gives the same data. Default 0 is
	// a seed like any other.
	Seed uint64
	// Members is the number of members, IDs 0..Members-1. Default 100,000.
	Members int
	// Profile is the kind of chain. Default Pharmacy.
	Profile Profile
	// Start and End bound registrations and orders, [Start, End). End is the
	// natural as-of time of the data. Defaults 2023-10-01 and 2026-10-01,
	// midnight in Location.
	Start, End time.Time
	// Location is the chain's time zone; order times fall in its trading
	// hours. Default Asia/Shanghai (UTC+8, no daylight saving).
	Location *time.Location
	// MeanOrders is the mean number of ordinary (non-refill) orders per
	// member over the window. Default 10.
	MeanOrders float64
	// LapseShare is the share of members who stop buying before End.
	// Default 0.25. Use a negative value for none.
	LapseShare float64
	// RefundShare is the share of orders refunded later. Default 0.02. Use
	// a negative value for none.
	RefundShare float64
	// JunkShare is the share of observations that carry a junk value in
	// place of a real identifier. Default 0.03. Negative for none.
	JunkShare float64
	// SharedPhoneShare is the share of store observations where the store's
	// own phone was typed instead of the member's. Default 0.01. Negative for
	// none.
	SharedPhoneShare float64
	// SharedDeviceShare is the share of members seen once on their store's
	// self-service kiosk (a device shared by the whole store). Default 0.05.
	// Negative for none.
	SharedDeviceShare float64
	// PhoneVariantShare is the share of phone values written in a
	// non-canonical format. Default 0.2. Negative for none.
	PhoneVariantShare float64
	// Stores is the number of stores, spread over cities by their weight,
	// one per city at least while stores last. Default Members/2000, and
	// at least 60 so that every city has a store.
	Stores int
	// CitySkew is the Zipf exponent of the city distribution. Default 1.
	CitySkew float64
}

// ErrConfig is wrapped by every error New returns for a bad Config.
var ErrConfig = errors.New("synth: bad config")

func (c Config) withDefaults() (Config, error) {
	if c.Members == 0 {
		c.Members = 100_000
	}
	if c.Members < 0 || int64(c.Members) > 1<<32-1 {
		return c, fmt.Errorf("%w: Members %d out of range 1..%d", ErrConfig, c.Members, int64(1<<32-1))
	}
	if c.Profile > Retail {
		return c, fmt.Errorf("%w: unknown profile %d", ErrConfig, c.Profile)
	}
	if c.Location == nil {
		c.Location = shanghai()
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2023, 10, 1, 0, 0, 0, 0, c.Location)
	}
	if c.End.IsZero() {
		c.End = time.Date(2026, 10, 1, 0, 0, 0, 0, c.Location)
	}
	if !c.End.After(c.Start.Add(24 * time.Hour)) {
		return c, fmt.Errorf("%w: End %s must be more than a day after Start %s", ErrConfig, c.End, c.Start)
	}
	if c.MeanOrders == 0 {
		c.MeanOrders = 10
	}
	if c.MeanOrders < 0 || c.MeanOrders > 10_000 {
		return c, fmt.Errorf("%w: MeanOrders %g out of range (0, 10000]", ErrConfig, c.MeanOrders)
	}
	for _, s := range []struct {
		name string
		p    *float64
		def  float64
	}{
		{"LapseShare", &c.LapseShare, 0.25},
		{"RefundShare", &c.RefundShare, 0.02},
		{"JunkShare", &c.JunkShare, 0.03},
		{"SharedPhoneShare", &c.SharedPhoneShare, 0.01},
		{"SharedDeviceShare", &c.SharedDeviceShare, 0.05},
		{"PhoneVariantShare", &c.PhoneVariantShare, 0.2},
	} {
		switch {
		case *s.p == 0:
			*s.p = s.def
		case *s.p < 0:
			*s.p = 0
		case *s.p > 1:
			return c, fmt.Errorf("%w: %s %g is not a share in [0, 1]", ErrConfig, s.name, *s.p)
		}
	}
	if c.Stores == 0 {
		c.Stores = max(len(cities), c.Members/2000)
	}
	if c.Stores < 0 || c.Stores > 1_000_000 {
		return c, fmt.Errorf("%w: Stores %d out of range 1..1000000", ErrConfig, c.Stores)
	}
	if c.CitySkew == 0 {
		c.CitySkew = 1
	}
	if c.CitySkew < 0 || c.CitySkew > 5 {
		return c, fmt.Errorf("%w: CitySkew %g out of range (0, 5]", ErrConfig, c.CitySkew)
	}
	return c, nil
}

// shanghai returns Asia/Shanghai, or a fixed UTC+8 zone under the same name
// when the time zone database is not installed: China has kept UTC+8
// without daylight saving since 1991, so the two agree on every generated
// time.
func shanghai() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("Asia/Shanghai", 8*3600)
}
