package rfm

import "time"

// A clock turns Unix seconds into local calendar day numbers (days since
// 1970-01-01 in its location). It caches the zone period of the last
// lookup, so a stream of times in one period (all of them, for a zone
// without daylight saving) costs a division each. A clock is not safe for
// concurrent use; each writer has its own.
type clock struct {
	loc        *time.Location
	start, end int64 // zone period [start, end) in Unix seconds
	offset     int64 // seconds east of UTC in that period
}

func newClock(loc *time.Location) clock {
	return clock{loc: loc, start: 1, end: 0} // empty period: first lookup fills it
}

func (c *clock) day(unix int64) int32 {
	if unix < c.start || unix >= c.end {
		t := time.Unix(unix, 0).In(c.loc)
		_, off := t.Zone()
		c.offset = int64(off)
		s, e := t.ZoneBounds()
		c.start, c.end = minInt64, maxInt64
		if !s.IsZero() {
			c.start = s.Unix()
		}
		if !e.IsZero() {
			c.end = e.Unix()
		}
	}
	return int32(floorDiv(unix+c.offset, 86400))
}

const (
	minInt64 = -1 << 63
	maxInt64 = 1<<63 - 1
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// dayOf returns the local day number of t in loc.
func dayOf(t time.Time, loc *time.Location) int32 {
	c := newClock(loc)
	return c.day(t.Unix())
}

// dateOf returns local midnight of day number d in loc.
func dateOf(d int32, loc *time.Location) time.Time {
	return time.Date(1970, 1, 1+int(d), 0, 0, 0, 0, loc)
}
