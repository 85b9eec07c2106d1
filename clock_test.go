package cdpkit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cdpkit/cdpkit/segment"
)

// TestDayClock checks the cached clock against segment.DayOf across
// daylight-saving changes, midnights and dates before 1970.
func TestDayClock(t *testing.T) {
	for _, name := range []string{"Asia/Shanghai", "America/New_York", "Europe/London", "UTC"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		c := newDayClock(loc)
		for _, start := range []time.Time{
			time.Date(2024, 3, 9, 0, 0, 0, 0, loc), time.Date(2024, 10, 26, 0, 0, 0, 0, loc),
			time.Date(1969, 12, 30, 0, 0, 0, 0, loc),
		} {
			for h := range 24 * 4 {
				for _, m := range []int{0, 1, 59} {
					at := start.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute - time.Second)
					assert.Equal(t, int32(segment.DayOf(at, loc)), c.day(at), "%s %s", name, at)
				}
			}
		}
	}
}
