package tags

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Clock is an evaluation's "now": the as-of time rules are evaluated at and
// the tenant's time zone, in which calendar days and date parts are counted.
// Runs with the same Clock and data give identical results.
type Clock struct {
	AsOf     time.Time
	Location *time.Location
}

func (c Clock) validate() error {
	if c.Location == nil || c.AsOf.IsZero() {
		return ErrNoClock
	}
	return nil
}

// zones caches loaded time zones: time.LoadLocation reads and parses the
// zone database on every call (and so do CEL's named-zone functions).
var zones sync.Map // string -> *time.Location

// LoadLocation is time.LoadLocation with a process-wide cache: each zone is
// read from the zone database once. Safe for concurrent use.
func LoadLocation(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("load time zone %q: %w", name, err)
	}
	actual, _ := zones.LoadOrStore(name, l)
	return actual.(*time.Location), nil
}

// daysFromCivil returns the number of days from 1970-01-01 to the proleptic
// Gregorian date y-m-d (H. Hinnant, "chrono-Compatible Low-Level Date
// Algorithms", days_from_civil).
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// DayNumber returns the calendar day of t in loc, counted from 1970-01-01
// (day 0). It is the value an AsDay field holds in the index.
func DayNumber(t time.Time, loc *time.Location) int64 {
	y, m, d := t.In(loc).Date()
	return daysFromCivil(int64(y), int(m), d)
}

// dayCache computes calendar days in one location fast: it remembers the
// offset of the last zone period seen (time.Time.ZoneBounds), so that most
// timestamps need one addition and one division instead of a zone lookup
// and a date conversion. Not safe for concurrent use.
type dayCache struct {
	loc        *time.Location
	start, end int64 // the period [start, end) in Unix seconds
	offset     int64
	ok         bool
}

func (c *dayCache) day(ts time.Time) int64 {
	u := ts.Unix()
	if !c.ok || u < c.start || u >= c.end {
		lt := ts.In(c.loc)
		_, off := lt.Zone()
		s, e := lt.ZoneBounds()
		c.start, c.end, c.offset, c.ok = math.MinInt64, math.MaxInt64, int64(off), true
		if !s.IsZero() {
			c.start = s.Unix()
		}
		if !e.IsZero() {
			c.end = e.Unix()
		}
	}
	return floorDiv(u+c.offset, 86400)
}

// floorDiv divides rounding toward negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// timeFuncs evaluates the time functions for one Clock. It is built once
// per evaluator, so the as-of day is computed once, not per member.
type timeFuncs struct {
	days    dayCache
	asOf    time.Time
	loc     *time.Location
	asOfDay int64
	asOfY   int
	asOfM   time.Month
	asOfD   int
}

func newTimeFuncs(c Clock) timeFuncs {
	local := c.AsOf.In(c.Location)
	y, m, d := local.Date()
	return timeFuncs{
		days: dayCache{loc: c.Location},
		asOf: c.AsOf, loc: c.Location,
		asOfDay: daysFromCivil(int64(y), int(m), d),
		asOfY:   y, asOfM: m, asOfD: d,
	}
}

func (t *timeFuncs) daysSince(ts time.Time) int64 { return t.asOfDay - t.days.day(ts) }

func (t *timeFuncs) daysUntil(ts time.Time) int64 { return t.days.day(ts) - t.asOfDay }

// hoursSince is whole hours elapsed, rounded down (negative for a future ts).
// The difference of two CEL timestamps always fits a time.Duration's range
// in seconds, so it is computed in seconds to avoid Sub's saturation.
func (t *timeFuncs) hoursSince(ts time.Time) int64 {
	secs := t.asOf.Unix() - ts.Unix()
	ns := int64(t.asOf.Nanosecond()) - int64(ts.Nanosecond())
	if ns < 0 {
		secs--
	}
	return floorDiv(secs, 3600)
}

// yearsSince is completed years from ts to the as-of date, in local dates:
// a birthday on Feb 29 completes a year on Mar 1 in common years.
func (t *timeFuncs) yearsSince(ts time.Time) int64 {
	y, m, d := ts.In(t.loc).Date()
	n := int64(t.asOfY - y)
	if t.asOfM < m || (t.asOfM == m && t.asOfD < d) {
		n--
	}
	return n
}

// inLast reports as-of - d <= ts <= as-of.
func (t *timeFuncs) inLast(ts time.Time, d time.Duration) (bool, error) {
	if d < 0 {
		return false, errNegWindow
	}
	if ts.After(t.asOf) {
		return false, nil
	}
	// as-of - ts <= d, compared as (seconds, nanoseconds): Sub saturates
	// for spans beyond ~292 years, which CEL timestamps can reach.
	secs := t.asOf.Unix() - ts.Unix()
	ns := int64(t.asOf.Nanosecond()) - int64(ts.Nanosecond())
	if ns < 0 {
		secs--
		ns += 1e9
	}
	dSecs, dNs := int64(d/time.Second), int64(d%time.Second)
	return secs < dSecs || (secs == dSecs && ns <= dNs), nil
}

func (t *timeFuncs) year(ts time.Time) int64 { return int64(ts.In(t.loc).Year()) }

func (t *timeFuncs) month(ts time.Time) int64 { return int64(ts.In(t.loc).Month()) }

func (t *timeFuncs) day(ts time.Time) int64 { return int64(ts.In(t.loc).Day()) }

func (t *timeFuncs) weekday(ts time.Time) int64 { return int64(ts.In(t.loc).Weekday()) }

func (t *timeFuncs) hour(ts time.Time) int64 { return int64(ts.In(t.loc).Hour()) }

func (t *timeFuncs) dayOfYear(ts time.Time) int64 { return int64(ts.In(t.loc).YearDay()) }

// durationOf is n units (24-hour days, hours), erroring on overflow.
func durationOf(n int64, unit time.Duration) (time.Duration, error) {
	lim := int64(1<<63-1) / int64(unit)
	if n > lim || n < -lim {
		return 0, errDurOverflow
	}
	return time.Duration(n) * unit, nil
}
