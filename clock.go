package cdpkit

import "time"

// A dayClock turns instants into calendar day numbers (days since
// 1970-01-01 in its location, as segment.Day counts them), caching the
// zone period of the last lookup so that a stream of times costs a
// division each. It is not safe for concurrent use; each worker has its
// own.
type dayClock struct {
	loc        *time.Location
	start, end int64 // zone period [start, end) in Unix seconds
	offset     int64 // seconds east of UTC in that period
}

func newDayClock(loc *time.Location) dayClock { return dayClock{loc: loc, start: 1, end: 0} }

func (c *dayClock) day(t time.Time) int32 {
	unix := t.Unix()
	if unix < c.start || unix >= c.end {
		lt := t.In(c.loc)
		_, off := lt.Zone()
		c.offset = int64(off)
		s, e := lt.ZoneBounds()
		c.start, c.end = -1<<63, 1<<63-1
		if !s.IsZero() {
			c.start = s.Unix()
		}
		if !e.IsZero() {
			c.end = e.Unix()
		}
	}
	d := unix + c.offset
	if d < 0 && d%86400 != 0 {
		return int32(d/86400 - 1)
	}
	return int32(d / 86400)
}
