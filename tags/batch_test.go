package tags

import (
	"context"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func records(recs []*Record) iter.Seq[*Record] {
	return func(yield func(*Record) bool) {
		for _, r := range recs {
			if !yield(r) {
				return
			}
		}
	}
}

// reusing yields every record through one reused Record, as a producer
// that decodes rows into a buffer would.
func reusing(s *Schema, recs []*Record) iter.Seq[*Record] {
	return func(yield func(*Record) bool) {
		buf := s.NewRecord(0)
		for _, r := range recs {
			if err := buf.CopyFrom(r); err != nil {
				panic(err)
			}
			if !yield(buf) {
				return
			}
		}
	}
}

func batchFixture(t testing.TB, n int) (*Set, []*Record, Clock) {
	s := testSchema()
	set := NewSet(s, nil)
	require.NoError(t, set.Define(
		Definition{Name: "busy", Rule: "i1 > 3 || i2 >= 5"},
		Definition{Name: "strange", Rule: "i1 / i2 > 0"},
		Definition{Name: "band", Cases: []Case{{When: "i2 >= 5", Value: "top"}, {When: "i2 >= 0", Value: "mid"}}, Default: "low"},
		Definition{Name: "busy_not_top", Rule: `has_tag("busy") && !has_tag("band", "top")`},
		Definition{Name: "word", Expr: `s1 == "" ? "none" : s1`, Values: []string{"none", "a", "b", "miniapp", "药店", "Ab", "mini", "diabetes"}},
	))
	loc := mustLoc(t, "Asia/Shanghai")
	r := rand.New(rand.NewPCG(7, 7))
	recs := make([]*Record, n)
	for i := range recs {
		// IDs with gaps and across several 2^16 containers.
		recs[i] = randRecord(r, s, uint32(i*37), loc)
	}
	return set, recs, Clock{AsOf: time.Date(2024, 3, 10, 12, 0, 0, 0, loc), Location: loc}
}

// naive evaluates one member at a time with a fresh Evaluator, the
// reference the parallel batch is compared with.
func naive(t testing.TB, set *Set, recs []*Record, c Clock) map[string]map[uint32]int {
	run, err := newRun(set.cur.Load(), c, nil, nil)
	require.NoError(t, err)
	out := map[string]map[uint32]int{}
	for _, tg := range run.tags {
		out[tg.Name()] = map[uint32]int{}
	}
	for _, rec := range recs {
		m := run.newMemberEval()
		m.eval(rec)
		for i, tg := range run.tags {
			if m.out[i].value >= 0 {
				out[tg.Name()][rec.ID] = m.out[i].value
			}
		}
	}
	return out
}

func TestBatchMatchesNaive(t *testing.T) {
	set, recs, clock := batchFixture(t, 3000)
	want := naive(t, set, recs, clock)
	run, err := newRun(set.cur.Load(), clock, nil, nil)
	require.NoError(t, err)
	for _, workers := range []int{1, 3} {
		out, err := run.batch(context.Background(), set.schema, reusing(set.schema, recs), workers, nil)
		require.NoError(t, err)
		assert.Equal(t, len(recs), out.evaluated)
		for i, tg := range run.tags {
			got := map[uint32]int{}
			for v, bm := range out.bitmaps[i] {
				it := bm.Iterator()
				for it.HasNext() {
					id := it.Next()
					_, dup := got[id]
					require.False(t, dup, "member %d has two values of %s", id, tg.Name())
					got[id] = v
				}
			}
			assert.Equal(t, want[tg.Name()], got, "tag %s with %d workers", tg.Name(), workers)
			st := out.stats[i]
			assert.Equal(t, len(recs), st.Members)
			assert.Equal(t, len(want[tg.Name()]), st.Tagged)
		}
	}
}

func TestBatchRerunIdentical(t *testing.T) {
	set, recs, clock := batchFixture(t, 2000)
	run, err := newRun(set.cur.Load(), clock, nil, nil)
	require.NoError(t, err)
	a, err := run.batch(context.Background(), set.schema, records(recs), 2, nil)
	require.NoError(t, err)
	b, err := run.batch(context.Background(), set.schema, records(recs), 3, nil)
	require.NoError(t, err)
	for i := range run.tags {
		for v := range a.bitmaps[i] {
			assert.True(t, a.bitmaps[i][v].Equals(b.bitmaps[i][v]))
			ab, err := a.bitmaps[i][v].ToBytes()
			require.NoError(t, err)
			bb, err := b.bitmaps[i][v].ToBytes()
			require.NoError(t, err)
			assert.Equal(t, ab, bb, "serialised bitmaps are identical bit for bit")
		}
		assert.Equal(t, a.stats[i], b.stats[i], "stats, samples included, do not depend on scheduling")
	}
}

func TestBatchErrorsCounted(t *testing.T) {
	set, recs, clock := batchFixture(t, 2000)
	run, err := newRun(set.cur.Load(), clock, []string{"strange"}, nil)
	require.NoError(t, err)
	out, err := run.batch(context.Background(), set.schema, records(recs), 2, nil)
	require.NoError(t, err)
	st := out.stats[0]
	// Count by hand what "i1 / i2 > 0" does member by member.
	var missing, errs, tagged int
	var firstErr []uint32
	kinds := map[uint32]ErrorKind{}
	for _, rec := range recs {
		i1, ok1 := rec.Value(0)
		i2, ok2 := rec.Value(1)
		switch {
		case !ok1 || !ok2:
			missing++
		case i2.(int64) == 0:
			errs++
			firstErr = append(firstErr, rec.ID)
			kinds[rec.ID] = ErrDivideByZero
		case i1.(int64) == math.MinInt64 && i2.(int64) == -1:
			errs++
			firstErr = append(firstErr, rec.ID)
			kinds[rec.ID] = ErrOverflow
		case i1.(int64)/i2.(int64) > 0:
			tagged++
		}
	}
	assert.Equal(t, missing, st.Missing)
	assert.Equal(t, errs, st.Errors)
	assert.Equal(t, tagged, st.Tagged)
	require.Len(t, st.Samples, SampleErrors)
	slices.Sort(firstErr)
	for i, s := range st.Samples {
		assert.Equal(t, firstErr[i], s.Member, "samples are the lowest member IDs")
		assert.Equal(t, kinds[s.Member], s.Err.Kind)
		assert.Contains(t, s.Error(), `tag "strange"`)
	}
}

func TestBatchBadRecords(t *testing.T) {
	set, recs, clock := batchFixture(t, 10)
	other := semanticsSchema(t).NewRecord(99)
	seq := func(yield func(*Record) bool) {
		for i, r := range recs {
			if i == 3 && !yield(nil) {
				return
			}
			if i == 5 && (!yield(other) || !yield(recs[0])) {
				return
			}
			if !yield(r) {
				return
			}
		}
	}
	run, err := newRun(set.cur.Load(), clock, nil, nil)
	require.NoError(t, err)
	out, err := run.batch(context.Background(), set.schema, seq, 2, nil)
	require.NoError(t, err)
	assert.Equal(t, len(recs), out.evaluated, "the good records are all evaluated")
	require.Equal(t, 3, out.badCount)
	assert.Contains(t, out.bad[0].Error(), "nil")
	assert.ErrorIs(t, out.bad[1], ErrSchemaMismatch)
	assert.Contains(t, out.bad[2].Error(), "duplicate")
}

func TestBatchCancelAndProgress(t *testing.T) {
	set, recs, clock := batchFixture(t, 5000)
	run, err := newRun(set.cur.Load(), clock, nil, nil)
	require.NoError(t, err)
	var seen []int
	_, err = run.batch(context.Background(), set.schema, records(recs), 2, func(n int) { seen = append(seen, n) })
	require.NoError(t, err)
	require.NotEmpty(t, seen)
	assert.True(t, slices.IsSorted(seen))
	assert.Equal(t, len(recs), seen[len(seen)-1])

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = run.batch(ctx, set.schema, records(recs), 2, nil)
	assert.ErrorIs(t, err, context.Canceled)
}
