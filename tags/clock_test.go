package tags

import (
	"math/rand/v2"
	"testing"
	"time"

	"cel.dev/cel-go/common/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// evalInt evaluates an int-valued expression on both paths.
func evalInt(t *testing.T, s *Schema, c Clock, src string, rec *Record) (int64, *EvalError) {
	t.Helper()
	r, err := compileRule(s, nil, "t", "", src, types.IntType, 0)
	require.NoError(t, err)
	ev, err := NewEvaluator(c)
	require.NoError(t, err)
	out, cerr := ev.celEval(r, rec)
	require.NotNil(t, r.fast, "expected %q to compile", src)
	fv, ferr := r.fast.root.eval(&frame{rec: rec, tf: &ev.tf})
	if cerr != nil {
		require.Error(t, ferr)
		assert.Equal(t, cerr.Kind, ferr.(*EvalError).Kind)
		return 0, cerr
	}
	require.NoError(t, ferr)
	require.Equal(t, int64(out.(types.Int)), fv.(int64), "compiled and cel-go disagree on %s", src)
	return fv.(int64), nil
}

// TestCalendarDays checks calendar-day arithmetic in the tenant's zone.
// Expected values are counted on a calendar by hand.
func TestCalendarDays(t *testing.T) {
	s, err := NewSchema(Field{Name: "ts", Type: Timestamp})
	require.NoError(t, err)
	sh := mustLoc(t, "Asia/Shanghai")
	ny := mustLoc(t, "America/New_York")
	cases := []struct {
		name string
		ts   time.Time
		asOf time.Time
		loc  *time.Location
		expr string
		want int64
	}{
		// Jan 1 → Jan 31 is 30 days, → Feb 29 (2024 is a leap year) 59, → Mar 1 60.
		{"60 days in Shanghai", time.Date(2024, 1, 1, 23, 0, 0, 0, sh), time.Date(2024, 3, 1, 0, 30, 0, 0, sh), sh, "days_since(ts)", 60},
		// The same instants are Jan 1 15:00 and Feb 29 16:30 in UTC: 59 days.
		{"the same instants in UTC", time.Date(2024, 1, 1, 23, 0, 0, 0, sh), time.Date(2024, 3, 1, 0, 30, 0, 0, sh), time.UTC, "days_since(ts)", 59},
		// 23:30 EST on Mar 9 to 23:30 EDT on Mar 10: 23 hours, one calendar day.
		{"DST spring forward is one day", time.Date(2024, 3, 9, 23, 30, 0, 0, ny), time.Date(2024, 3, 10, 23, 30, 0, 0, ny), ny, "days_since(ts)", 1},
		{"DST spring forward is 23 hours", time.Date(2024, 3, 9, 23, 30, 0, 0, ny), time.Date(2024, 3, 10, 23, 30, 0, 0, ny), ny, "hours_since(ts)", 23},
		// 00:30 EDT Nov 3 to 23:30 EST Nov 3: same day, 24 hours (the 1 o'clock hour repeats).
		{"DST fall back is the same day", time.Date(2024, 11, 3, 0, 30, 0, 0, ny), time.Date(2024, 11, 3, 23, 30, 0, 0, ny), ny, "days_since(ts)", 0},
		{"DST fall back is 24 hours", time.Date(2024, 11, 3, 0, 30, 0, 0, ny), time.Date(2024, 11, 3, 23, 30, 0, 0, ny), ny, "hours_since(ts)", 24},
		{"a minute before midnight is yesterday", time.Date(2024, 3, 9, 23, 59, 0, 0, sh), time.Date(2024, 3, 10, 0, 0, 0, 0, sh), sh, "days_since(ts)", 1},
		{"future is negative", time.Date(2024, 3, 15, 8, 0, 0, 0, sh), time.Date(2024, 3, 10, 20, 0, 0, 0, sh), sh, "days_since(ts)", -5},
		{"days until", time.Date(2024, 3, 15, 8, 0, 0, 0, sh), time.Date(2024, 3, 10, 20, 0, 0, 0, sh), sh, "days_until(ts)", 5},
		// hours_since rounds down: 30 minutes in the future is hour -1.
		{"hours since rounds down", time.Date(2024, 3, 10, 12, 30, 0, 0, sh), time.Date(2024, 3, 10, 12, 0, 0, 0, sh), sh, "hours_since(ts)", -1},
		// Born Feb 29 2000: 23 on Feb 28 2024, 24 on Feb 29; in 2023 the year completes on Mar 1.
		{"age the day before a leap birthday", time.Date(2000, 2, 29, 9, 0, 0, 0, sh), time.Date(2024, 2, 28, 12, 0, 0, 0, sh), sh, "years_since(ts)", 23},
		{"age on a leap birthday", time.Date(2000, 2, 29, 9, 0, 0, 0, sh), time.Date(2024, 2, 29, 0, 0, 0, 0, sh), sh, "years_since(ts)", 24},
		{"age on Feb 28 of a common year", time.Date(2000, 2, 29, 9, 0, 0, 0, sh), time.Date(2023, 2, 28, 12, 0, 0, 0, sh), sh, "years_since(ts)", 22},
		{"age on Mar 1 of a common year", time.Date(2000, 2, 29, 9, 0, 0, 0, sh), time.Date(2023, 3, 1, 0, 0, 0, 0, sh), sh, "years_since(ts)", 23},
		// 06:59:59Z on Mar 10 2024 is 01:59:59 EST; one second later clocks jump to 03:00 EDT.
		{"hour before the gap", time.Date(2024, 3, 10, 6, 59, 59, 0, time.UTC), time.Date(2024, 3, 11, 0, 0, 0, 0, ny), ny, "hour(ts)", 1},
		{"hour after the gap", time.Date(2024, 3, 10, 7, 0, 0, 0, time.UTC), time.Date(2024, 3, 11, 0, 0, 0, 0, ny), ny, "hour(ts)", 3},
		{"weekday: Mar 10 2024 is a Sunday", time.Date(2024, 3, 10, 7, 0, 0, 0, time.UTC), time.Date(2024, 3, 11, 0, 0, 0, 0, ny), ny, "weekday(ts)", 0},
		{"day of year: 31 + 29 + 10", time.Date(2024, 3, 10, 7, 0, 0, 0, time.UTC), time.Date(2024, 3, 11, 0, 0, 0, 0, ny), ny, "day_of_year(ts)", 70},
		// 2024-12-31 20:00 in New York is already 2025 in Shanghai.
		{"year in the tenant's zone", time.Date(2024, 12, 31, 20, 0, 0, 0, ny), time.Date(2025, 1, 1, 0, 0, 0, 0, sh), sh, "year(ts)", 2025},
		{"month in the tenant's zone", time.Date(2024, 12, 31, 20, 0, 0, 0, ny), time.Date(2025, 1, 1, 0, 0, 0, 0, sh), sh, "month(ts)", 1},
		{"day in the tenant's zone", time.Date(2024, 12, 31, 20, 0, 0, 0, ny), time.Date(2025, 1, 1, 0, 0, 0, 0, sh), sh, "day(ts)", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := s.NewRecord(1)
			require.NoError(t, rec.Set("ts", c.ts))
			got, err := evalInt(t, s, Clock{AsOf: c.asOf, Location: c.loc}, c.expr, rec)
			require.Nil(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestInLast(t *testing.T) {
	s, err := NewSchema(Field{Name: "ts", Type: Timestamp})
	require.NoError(t, err)
	sh := mustLoc(t, "Asia/Shanghai")
	asOf := time.Date(2024, 3, 10, 12, 0, 0, 0, sh)
	ev, err := NewEvaluator(Clock{AsOf: asOf, Location: sh})
	require.NoError(t, err)
	cases := []struct {
		name string
		ts   time.Time
		rule string
		want bool
		err  ErrorKind
	}{
		{"exactly 30 days back is in", asOf.Add(-30 * 24 * time.Hour), "in_last(ts, days(30))", true, 0},
		{"a nanosecond more is out", asOf.Add(-30*24*time.Hour - 1), "in_last(ts, days(30))", false, 0},
		{"now is in", asOf, `in_last(ts, duration("1h"))`, true, 0},
		{"the future is not", asOf.Add(time.Second), `in_last(ts, duration("1h"))`, false, 0},
		{"a negative window errs", asOf, `in_last(ts, duration("-1h"))`, false, ErrBadValue},
		{"year 1 against a long window", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), `in_last(ts, duration("2562047h"))`, false, 0},
		{"as_of is the clock", asOf, `as_of() == ts`, true, 0},
		{"as_of minus a window", asOf.Add(-2 * time.Hour), `ts > as_of() - hours(3)`, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := s.NewRecord(1)
			require.NoError(t, rec.Set("ts", c.ts))
			r, err := s.Compile(c.name, c.rule)
			require.NoError(t, err)
			got, gerr := evalBoth(t, ev, r, rec)
			if c.err != 0 {
				require.NotNil(t, gerr)
				assert.Equal(t, c.err, gerr.Kind)
				return
			}
			require.Nil(t, gerr)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestDayNumber(t *testing.T) {
	// 1970-01-01 is day 0. 2024-01-01 is 54 years later with 13 leap days
	// (1972 ... 2020): 54*365 + 13 = 19723; Mar 1 adds 31 + 29.
	assert.Equal(t, int64(0), DayNumber(time.Date(1970, 1, 1, 12, 0, 0, 0, time.UTC), time.UTC))
	assert.Equal(t, int64(-1), DayNumber(time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), time.UTC))
	assert.Equal(t, int64(19723), DayNumber(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.UTC))
	assert.Equal(t, int64(19783), DayNumber(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), time.UTC))
	// The proleptic Gregorian year 1 starts 719162 days before 1970.
	assert.Equal(t, int64(-719162), DayNumber(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.UTC))
	// 16:00Z is already the next day in Shanghai.
	assert.Equal(t, int64(19784), DayNumber(time.Date(2024, 3, 1, 16, 0, 0, 0, time.UTC), mustLoc(t, "Asia/Shanghai")))
}

func TestLoadLocationCaches(t *testing.T) {
	a, err := LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	b, err := LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	assert.Same(t, a, b, "a zone is loaded once")
	_, err = LoadLocation("Mars/Olympus_Mons")
	assert.Error(t, err)
}

func TestClockRequired(t *testing.T) {
	_, err := NewEvaluator(Clock{})
	assert.ErrorIs(t, err, ErrNoClock)
	_, err = NewEvaluator(Clock{AsOf: time.Now()})
	assert.ErrorIs(t, err, ErrNoClock)
}

// TestDayCacheMatchesDayNumber checks the cached day computation against
// the date conversion, in zones with DST, half-hour and 45-minute offsets
// and local mean time before 1900 (offsets in seconds), on random and on
// consecutive timestamps (cache hits and misses).
func TestDayCacheMatchesDayNumber(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, name := range []string{"America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Asia/Shanghai", "UTC"} {
		loc := mustLoc(t, name)
		c := dayCache{loc: loc}
		ts := time.Date(1850, 1, 1, 0, 0, 0, 0, time.UTC)
		n := 20000
		if raceEnabled {
			n = 4000
		}
		for range n {
			var x time.Time
			if r.IntN(2) == 0 {
				x = time.Unix(r.Int64N(400*365*86400)-250*365*86400, r.Int64N(1e9))
			} else {
				ts = ts.Add(time.Duration(r.Int64N(int64(90 * time.Minute))))
				x = ts
			}
			require.Equal(t, DayNumber(x, loc), c.day(x), "%s at %s", name, x.In(loc))
		}
	}
}
