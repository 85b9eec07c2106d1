package rfm

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

func day(y int, m time.Month, d int, loc *time.Location) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

func TestSummariesHandWorked(t *testing.T) {
	asOf := time.Date(2024, 3, 31, 23, 59, 59, 0, shanghai)
	s, err := New(4, Config{Location: shanghai, AsOf: asOf, From: day(2024, 1, 1, shanghai)})
	require.NoError(t, err)
	at := func(m time.Month, d, h int) time.Time { return time.Date(2024, m, d, h, 0, 0, 0, shanghai) }
	txs := []Tx{
		// member 0: two orders on Mar 1 (one day), one on Mar 10 online,
		// a refund of 500 linked to order 7
		{Member: 0, Time: at(3, 1, 9), Amount: 1000, Order: 1},
		{Member: 0, Time: at(3, 1, 18), Amount: 2000, Order: 2},
		{Member: 0, Time: at(3, 10, 12), Amount: 3000, Order: 3, Channel: Online},
		{Member: 0, Time: at(3, 12, 12), Amount: -500, RefundOf: 3},
		// member 1: before the window, then at the very end of the as-of
		// day, then one second after as-of
		{Member: 1, Time: at(1, 1, 0).Add(-time.Second), Amount: 999},
		{Member: 1, Time: asOf, Amount: 100},
		{Member: 1, Time: asOf.Add(time.Second), Amount: 100},
		// member 2: 2024-02-29 16:30 UTC is Mar 1 00:30 in Shanghai
		{Member: 2, Time: time.Date(2024, 2, 29, 16, 30, 0, 0, time.UTC), Amount: 50},
	}
	for i := range txs {
		require.NoError(t, s.Add(&txs[i]), "tx %d", i)
	}
	m0 := s.Member(0)
	assert.Equal(t, day(2024, 3, 1, shanghai), m0.First)
	assert.Equal(t, day(2024, 3, 10, shanghai), m0.Last)
	assert.Equal(t, 3, m0.Orders)
	assert.Equal(t, 2, m0.Days)
	assert.Equal(t, int64(6000), m0.Spend)
	assert.Equal(t, int64(500), m0.Refunded)
	assert.Equal(t, int64(5500), m0.Monetary)
	assert.Equal(t, 21, m0.Recency) // Mar 10 → Mar 31
	assert.Equal(t, []int{2, 1}, m0.Channels)

	m1 := s.Member(1)
	assert.Equal(t, 1, m1.Orders)
	assert.Equal(t, int64(100), m1.Spend)
	assert.Equal(t, 0, m1.Recency)

	m2 := s.Member(2)
	assert.Equal(t, day(2024, 3, 1, shanghai), m2.First, "local calendar day, not UTC")
	assert.Equal(t, 30, m2.Recency)

	m3 := s.Member(3)
	assert.Equal(t, 0, m3.Orders)
	assert.Equal(t, -1, m3.Recency)
	assert.True(t, m3.First.IsZero())

	st := s.Stats()
	assert.Equal(t, Stats{Read: 8, Purchases: 5, Refunds: 1, BeforeWindow: 1, AfterAsOf: 1}, st)
	assert.Equal(t, 3, s.Buyers())
	assert.Equal(t, day(2024, 3, 31, shanghai), s.AsOf())
}

func TestSummariesDaylightSaving(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	// 2024-03-10 is 23 hours long in New York; 2024-11-03 is 25.
	s, err := New(1, Config{Location: ny, AsOf: time.Date(2024, 11, 4, 0, 30, 0, 0, ny)})
	require.NoError(t, err)
	for _, tm := range []time.Time{
		time.Date(2024, 3, 9, 23, 30, 0, 0, ny),
		time.Date(2024, 3, 10, 0, 30, 0, 0, ny),
		time.Date(2024, 3, 10, 23, 30, 0, 0, ny),
		time.Date(2024, 11, 3, 0, 30, 0, 0, ny),
		time.Date(2024, 11, 3, 23, 30, 0, 0, ny), // 25 h after midnight
		time.Date(2024, 11, 4, 0, 10, 0, 0, ny),
	} {
		require.NoError(t, s.Add(&Tx{Member: 0, Time: tm, Amount: 1}))
	}
	m := s.Member(0)
	assert.Equal(t, 6, m.Orders)
	assert.Equal(t, 4, m.Days, "Mar 9, Mar 10, Nov 3, Nov 4")
	assert.Equal(t, day(2024, 3, 9, ny), m.First)
	assert.Equal(t, day(2024, 11, 4, ny), m.Last)
	assert.Equal(t, 0, m.Recency)
}

func TestSummariesBadRows(t *testing.T) {
	s, err := New(2, Config{AsOf: day(2024, 1, 31, time.UTC)})
	require.NoError(t, err)
	at := day(2024, 1, 5, time.UTC)
	cases := []struct {
		name string
		tx   Tx
		want error
	}{
		{"unknown member", Tx{Member: 2, Time: at, Amount: 1}, ErrUnknownMember},
		{"unlinked refund", Tx{Member: 0, Time: at, Amount: -1}, ErrUnlinkedRefund},
		{"bad channel", Tx{Member: 0, Time: at, Amount: 1, Channel: 2}, ErrBadChannel},
		{"negative supply", Tx{Member: 0, Time: at, Amount: 1, Lines: []Line{{Category: 1, DaysSupply: -3}}}, ErrBadLine},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.Add(&c.tx)
			require.ErrorIs(t, err, c.want)
			var te *TxError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, c.tx.Member, te.Member)
			assert.Equal(t, -1, te.Row)
		})
	}
	assert.Equal(t, 0, s.Buyers(), "rejected rows change nothing")
	assert.Equal(t, 4, s.Stats().Rejected)

	// A batch reports its bad rows with their row numbers and adds the rest.
	b := &Batch{
		Member: []uint32{0, 7, 1, 0},
		Time:   []int64{at.Unix(), at.Unix(), at.Unix(), at.Unix()},
		Amount: []int64{100, 100, -5, 200},
	}
	err = s.AddBatch(context.Background(), b)
	var be *BatchError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, 2, be.Count)
	require.Len(t, be.Rows, 2)
	assert.Equal(t, 1, be.Rows[0].Row)
	assert.ErrorIs(t, be.Rows[0], ErrUnknownMember)
	assert.Equal(t, 2, be.Rows[1].Row)
	assert.ErrorIs(t, err, ErrUnlinkedRefund)
	assert.Equal(t, int64(300), s.Member(0).Spend)
	assert.Equal(t, 2, s.Member(0).Orders)
}

func TestConfigErrors(t *testing.T) {
	_, err := New(1, Config{})
	assert.ErrorIs(t, err, ErrConfig, "as-of required")
	_, err = New(1, Config{AsOf: day(2024, 1, 1, time.UTC), From: day(2024, 2, 1, time.UTC)})
	assert.ErrorIs(t, err, ErrConfig, "window after as-of")
	_, err = New(1, Config{AsOf: day(2024, 1, 1, time.UTC), Channels: 17})
	assert.ErrorIs(t, err, ErrConfig)
	s, err := New(1, Config{AsOf: day(2024, 1, 1, time.UTC)})
	require.NoError(t, err)
	err = s.AddBatch(context.Background(), &Batch{Member: []uint32{0}, Time: nil, Amount: []int64{1}})
	assert.ErrorIs(t, err, ErrConfig)
}

// naiveSummary is the reference: every purchase day kept in a set.
type naiveSummary struct {
	orders   int
	days     map[int32]bool
	spend    int64
	refunded int64
	first    int32
	last     int32
	firstAmt int64
	chans    [2]int
}

// TestSummariesAgainstNaive feeds random transactions, in shuffled order
// within a few weeks (late arrivals), through Add and AddBatch and
// compares with a map-based reference.
func TestSummariesAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const members = 140_000           // three blocks, so AddBatch runs in parallel
	asOf := day(2025, 1, 2, shanghai) // after every transaction
	cfg := Config{Location: shanghai, AsOf: asOf, From: day(2024, 1, 1, shanghai)}
	a, err := New(members, cfg)
	require.NoError(t, err)
	b, err := New(members, cfg)
	require.NoError(t, err)
	ref := map[uint32]*naiveSummary{}
	var batch Batch
	for i := range 100_000 {
		m := uint32(rng.IntN(members))
		// mostly ordered in time, with some late by up to 50 days
		base := int64(i) * (366 * 86400 / 100_000)
		if rng.IntN(10) == 0 {
			base -= rng.Int64N(50 * 86400)
		}
		unix := day(2024, 1, 1, shanghai).Unix() + max(base, 0) + rng.Int64N(3600)
		amt := rng.Int64N(10_000)
		ch := Channel(rng.IntN(2))
		var refund uint64
		if rng.IntN(20) == 0 {
			refund, amt = uint64(i)+1, -amt
		}
		tx := Tx{Member: m, Time: time.Unix(unix, 0), Amount: amt, Channel: ch, RefundOf: refund}
		require.NoError(t, a.Add(&tx))
		batch.Member = append(batch.Member, m)
		batch.Time = append(batch.Time, unix)
		batch.Amount = append(batch.Amount, amt)
		batch.Channel = append(batch.Channel, ch)
		batch.RefundOf = append(batch.RefundOf, refund)

		r := ref[m]
		if r == nil {
			r = &naiveSummary{days: map[int32]bool{}, first: 1 << 30, last: -1 << 30}
			ref[m] = r
		}
		if refund != 0 {
			r.refunded += -amt
			continue
		}
		d := dayOf(tx.Time, shanghai)
		r.orders++
		r.days[d] = true
		r.spend += amt
		r.chans[ch]++
		if d < r.first {
			r.first, r.firstAmt = d, 0
		}
		if d == r.first {
			r.firstAmt += amt
		}
		r.last = max(r.last, d)
	}
	require.NoError(t, b.AddBatch(context.Background(), &batch))
	assert.Equal(t, a.Stats(), b.Stats())
	assert.Zero(t, a.Stats().Unordered, "late arrivals within 63 days are exact")
	assert.True(t, slices.Equal(a.orders, b.orders))
	assert.True(t, slices.Equal(a.days, b.days))
	assert.True(t, slices.Equal(a.spend, b.spend))
	// Plain comparisons: testify's reflection on 70,000 members is slow
	// under the race detector.
	for m, r := range ref {
		sa, sb := a.Member(m), b.Member(m)
		if !sameSummary(sa, sb) {
			t.Fatalf("member %d: Add gives %+v, AddBatch %+v", m, sa, sb)
		}
		want := Summary{Member: m, Orders: r.orders, Days: len(r.days), Spend: r.spend,
			Refunded: r.refunded, Monetary: r.spend - r.refunded, Recency: -1, Channels: r.chans[:]}
		if r.orders > 0 {
			want.First, want.Last = dateOf(r.first, shanghai), dateOf(r.last, shanghai)
			want.Recency = int(dayOf(asOf, shanghai) - r.last)
		}
		if !sameSummary(want, sa) {
			t.Fatalf("member %d: got %+v, want %+v", m, sa, want)
		}
		if r.orders > 0 && a.firstSpend[m] != r.firstAmt {
			t.Fatalf("member %d: first-day spend %d, want %d", m, a.firstSpend[m], r.firstAmt)
		}
	}
}

func TestSummariesLateArrivalBeyondMask(t *testing.T) {
	s, err := New(1, Config{AsOf: day(2024, 12, 31, time.UTC)})
	require.NoError(t, err)
	for _, d := range []time.Time{
		day(2024, 1, 1, time.UTC), day(2024, 3, 1, time.UTC), day(2024, 6, 1, time.UTC),
		day(2024, 1, 1, time.UTC),  // equals the first day: surely not new
		day(2023, 12, 1, time.UTC), // before the first day: surely new
		day(2024, 3, 1, time.UTC),  // 92 days before the last: cannot tell
	} {
		require.NoError(t, s.Add(&Tx{Member: 0, Time: d, Amount: 1}))
	}
	m := s.Member(0)
	assert.Equal(t, 6, m.Orders)
	assert.Equal(t, 5, m.Days, "4 distinct days, the ambiguous one counted again")
	assert.Equal(t, 1, s.Stats().Unordered)
	assert.Equal(t, day(2023, 12, 1, time.UTC), m.First)
}

func TestAddBatchCancelled(t *testing.T) {
	s, err := New(1, Config{AsOf: day(2024, 1, 1, time.UTC)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = s.AddBatch(ctx, &Batch{Member: []uint32{0}, Time: []int64{0}, Amount: []int64{1}})
	assert.True(t, errors.Is(err, context.Canceled))
}

func TestWritersInParallel(t *testing.T) {
	const members = 3 << 16
	s, err := New(members, Config{AsOf: day(2024, 1, 31, time.UTC)})
	require.NoError(t, err)
	ws := s.Writers(3)
	done := make(chan struct{})
	for _, w := range ws {
		go func() {
			lo, hi := w.Range()
			for m := lo; m < hi; m++ {
				assert.NoError(t, w.Add(&Tx{Member: uint32(m), Time: day(2024, 1, 2, time.UTC), Amount: int64(m)}))
			}
			assert.ErrorIs(t, w.Add(&Tx{Member: uint32((hi) % members), Time: day(2024, 1, 2, time.UTC)}), ErrOutOfRange)
			w.Close()
			done <- struct{}{}
		}()
	}
	for range ws {
		<-done
	}
	assert.Equal(t, members, s.Buyers())
	assert.Equal(t, int64(members-1), s.Member(members-1).Spend)
	assert.Equal(t, members, s.Stats().Purchases)
	assert.Equal(t, 3, s.Stats().Rejected)
}

func TestAdvance(t *testing.T) {
	s, err := New(1, Config{AsOf: day(2024, 1, 10, time.UTC)})
	require.NoError(t, err)
	require.NoError(t, s.Add(&Tx{Member: 0, Time: day(2024, 1, 12, time.UTC), Amount: 1}))
	assert.Equal(t, 0, s.Member(0).Orders, "after as-of: skipped")
	s.Advance(day(2024, 1, 20, time.UTC))
	require.NoError(t, s.Add(&Tx{Member: 0, Time: day(2024, 1, 12, time.UTC), Amount: 1}))
	assert.Equal(t, 8, s.Member(0).Recency)
	s.Advance(day(2024, 1, 1, time.UTC)) // backwards: ignored
	assert.Equal(t, 8, s.Member(0).Recency)
	s.Grow(3)
	assert.Equal(t, 3, s.Len())
	assert.Equal(t, 1, s.Member(0).Orders, "grow keeps what was there")
}

func sameSummary(a, b Summary) bool {
	return a.Member == b.Member && a.First.Equal(b.First) && a.Last.Equal(b.Last) &&
		a.Orders == b.Orders && a.Days == b.Days && a.Spend == b.Spend &&
		a.Refunded == b.Refunded && a.Monetary == b.Monetary && a.Recency == b.Recency &&
		slices.Equal(a.Channels, b.Channels)
}
