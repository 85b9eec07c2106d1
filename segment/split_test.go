package segment

import (
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDiff(t *testing.T) {
	ix := smallIndex(t)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		return tx.SaveSegment("big_spenders", Cmp("spend", Ge, 100))
	}))
	before := ix.View() // 0 (52000), 1 (100), 70000 (99999)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.SetInt("spend", 1, 99))        // exits
		require.NoError(t, tx.SetInt("spend", 4, 500))       // enters
		require.NoError(t, tx.SetInt("spend", 200000, 1000)) // new member, enters
		return tx.RemoveMember(70000)                        // exits
	}))
	entered, exited, err := Diff(before, ix.View(), Ref("big_spenders"))
	require.NoError(t, err)
	assert.Equal(t, []uint32{4, 200000}, entered.ToArray())
	assert.Equal(t, []uint32{1, 70000}, exited.ToArray())

	// A redefinition between versions shows in the diff.
	mid := ix.View()
	require.NoError(t, ix.Update(func(tx *Tx) error {
		return tx.SaveSegment("big_spenders", Cmp("spend", Ge, 1000))
	}))
	entered, exited, err = Diff(mid, ix.View(), Ref("big_spenders"))
	require.NoError(t, err)
	assert.True(t, entered.IsEmpty())
	assert.Equal(t, []uint32{4}, exited.ToArray())

	_, _, err = Diff(before, ix.View(), Ref("nope"))
	assert.ErrorIs(t, err, ErrUnknownSegment)
}

func TestNewSplitValidates(t *testing.T) {
	for name, arms := range map[string][]Arm{
		"no arms":     nil,
		"no name":     {{"", 1}},
		"same name":   {{"a", 1}, {"a", 2}},
		"zero weight": {{"a", 1}, {"b", 0}},
	} {
		_, err := NewSplit("s", arms...)
		assert.ErrorIs(t, err, ErrInvalid, name)
	}
}

// TestSplitShares checks each arm's share against its weight on 400k
// members. The share of an arm of probability p over n members has standard
// deviation sqrt(p(1-p)/n) ≈ 0.0005 here, so 1% (the bound) is
// twenty deviations; 0.3% is still six.
func TestSplitShares(t *testing.T) {
	const n = 400000
	for _, arms := range [][]Arm{
		{{"treat", 90}, {"hold", 10}},
		{{"a", 1}, {"b", 1}, {"c", 2}},
		{{"x", 995}, {"y", 5}},
	} {
		s, err := NewSplit("campaign-2024-05", arms...)
		require.NoError(t, err)
		counts := make([]int, len(arms))
		for id := range uint32(n) {
			counts[s.Assign(id)]++
		}
		var total float64
		for _, a := range arms {
			total += float64(a.Weight)
		}
		for i, a := range arms {
			share := float64(counts[i]) / n
			assert.InDelta(t, float64(a.Weight)/total, share, 0.003, "arm %s of %v", a.Name, arms)
		}
	}
}

// TestSplitSaltsIndependent cross-tabulates two 50/50 splits with
// different salts over 200k members and applies Pearson's chi-squared test
// of independence (one degree of freedom): 10.83 is the 0.1% critical
// value, so related salts would fail and independent ones pass.
func TestSplitSaltsIndependent(t *testing.T) {
	const n = 200000
	for _, salts := range [][2]string{{"a", "b"}, {"exp1", "exp2"}, {"", "x"}} {
		s1, _ := NewSplit(salts[0], Arm{"l", 1}, Arm{"r", 1})
		s2, _ := NewSplit(salts[1], Arm{"l", 1}, Arm{"r", 1})
		var table [2][2]float64
		for id := range uint32(n) {
			table[s1.Assign(id)][s2.Assign(id)]++
		}
		chi2 := 0.0
		for i := range 2 {
			for j := range 2 {
				row := table[i][0] + table[i][1]
				col := table[0][j] + table[1][j]
				exp := row * col / n
				chi2 += (table[i][j] - exp) * (table[i][j] - exp) / exp
			}
		}
		assert.Less(t, chi2, 10.83, "salts %q: %v", salts, table)
	}
	// The same salt gives the same assignment: chi-squared would be huge.
	s1, _ := NewSplit("same", Arm{"l", 1}, Arm{"r", 1})
	s2, _ := NewSplit("same", Arm{"l", 1}, Arm{"r", 1})
	for id := range uint32(1000) {
		require.Equal(t, s1.Assign(id), s2.Assign(id))
	}
}

func TestSplitStableAsAudienceGrows(t *testing.T) {
	ix := New(nil)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.Declare("t", KindTag))
		rb := roaring.New()
		rb.AddRange(0, 50000)
		return tx.ReplaceTag("t", rb)
	}))
	s, err := NewSplit("holdout", Arm{"treat", 9}, Arm{"hold", 1})
	require.NoError(t, err)
	small, err := ix.View().Split(Tag("t"), s)
	require.NoError(t, err)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		rb := roaring.New()
		rb.AddRange(0, 120000)
		return tx.ReplaceTag("t", rb)
	}))
	big, err := ix.View().Split(Tag("t"), s)
	require.NoError(t, err)
	assert.Equal(t, uint64(50000), small[0].GetCardinality()+small[1].GetCardinality())
	for i := range small {
		assert.True(t, roaring.AndNot(small[i], big[i]).IsEmpty(), "arm %d: an early member moved", i)
	}
	assert.Equal(t, uint64(120000), big[0].GetCardinality()+big[1].GetCardinality())
	assert.InDelta(t, 0.1, float64(big[1].GetCardinality())/120000, 0.01)
	assert.Equal(t, "hold", s.AssignName(big[1].Minimum()))
}

func TestSplitHashReferenceValues(t *testing.T) {
	// Published values: the first SplitMix64 output for seed 0, and
	// FNV-1a's offset basis and its test vector for "a". A change of hash
	// would silently reshuffle every running experiment.
	assert.Equal(t, uint64(0xe220a8397b1dcdaf), mix64(0))
	assert.Equal(t, uint64(0xcbf29ce484222325), fnv64(""))
	assert.Equal(t, uint64(0xaf63dc4c8601ec8c), fnv64("a"))
}
