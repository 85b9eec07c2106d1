package rfm

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGridCoversEveryCell checks the grid against the table written out
// cell by cell (rows R 5..1, columns F 1..5), and that each of the 25
// R×F cells has exactly one name whatever M is.
func TestGridCoversEveryCell(t *testing.T) {
	want := [5][5]string{
		{NewCustomers, PotentialLoyalists, PotentialLoyalists, Champions, Champions},        // R=5
		{Promising, PotentialLoyalists, PotentialLoyalists, LoyalCustomers, LoyalCustomers}, // R=4
		{AboutToSleep, AboutToSleep, NeedAttention, LoyalCustomers, LoyalCustomers},         // R=3
		{Hibernating, Hibernating, AtRisk, AtRisk, CantLoseThem},                            // R=2
		{Hibernating, Hibernating, AtRisk, AtRisk, CantLoseThem},                            // R=1
	}
	g := Grid()
	used := map[string]bool{}
	for ri, row := range want {
		r := 5 - ri
		for fi, name := range row {
			for m := 1; m <= 5; m++ {
				assert.Equal(t, name, g.Name(r, fi+1, m), "R=%d F=%d M=%d", r, fi+1, m)
			}
			used[name] = true
		}
	}
	assert.Len(t, used, 10)
	assert.Len(t, g.Names(), 10)
	// Each cell is matched by exactly one rule (NewSegmenter checks it, but
	// say it here without relying on it).
	for r := 1; r <= 5; r++ {
		for f := 1; f <= 5; f++ {
			n := 0
			for _, rule := range GridRules() {
				if rule.R.contains(r) && rule.F.contains(f) {
					n++
				}
			}
			assert.Equal(t, 1, n, "R=%d F=%d", r, f)
		}
	}
	assert.Equal(t, "", g.Name(0, 1, 1))
	assert.Equal(t, "", g.Name(6, 1, 1))
}

func TestNewSegmenterErrors(t *testing.T) {
	_, err := NewSegmenter(2, []Rule{
		{Name: "recent", R: Range{2, 2}},
		{Name: "frequent", F: Range{2, 2}},
	}, "")
	require.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), `cell R=2 F=2 M=1 matched by "recent" and "frequent"`)
	assert.Contains(t, err.Error(), "cell R=1 F=1 M=1 matched by no rule")

	g, err := NewSegmenter(2, []Rule{{Name: "best", R: Range{2, 2}, F: Range{2, 2}, M: Range{2, 2}}}, "rest")
	require.NoError(t, err)
	assert.Equal(t, "best", g.Name(2, 2, 2))
	assert.Equal(t, "rest", g.Name(1, 2, 2))
	assert.Equal(t, []string{"best", "rest"}, g.Names())

	_, err = NewSegmenter(2, []Rule{{Name: "x", R: Range{1, 3}}}, "rest")
	assert.ErrorIs(t, err, ErrConfig, "range past bins")
	_, err = NewSegmenter(2, []Rule{{Name: " "}}, "")
	assert.ErrorIs(t, err, ErrConfig, "blank name")
	_, err = NewSegmenter(0, nil, "rest")
	assert.ErrorIs(t, err, ErrConfig)
}

func TestAssign(t *testing.T) {
	sc := &Scores{Bins: 5,
		R: []uint8{5, 1, 3, 0},
		F: []uint8{5, 5, 3, 0},
		M: []uint8{1, 1, 1, 0},
	}
	sg, err := Grid().Assign(sc)
	require.NoError(t, err)
	assert.Equal(t, Champions, sg.Name(0))
	assert.Equal(t, CantLoseThem, sg.Name(1))
	assert.Equal(t, NeedAttention, sg.Name(2))
	assert.Equal(t, "", sg.Name(3), "no purchase, no segment")
	assert.Equal(t, "", sg.Name(99))
	assert.Equal(t, []uint32{1}, slices.Collect(sg.Members(CantLoseThem)))
	counts := sg.Count()
	assert.Equal(t, 3, counts[0]+counts[1]+counts[2]+counts[3]+counts[4]+counts[5]+counts[6]+counts[7]+counts[8]+counts[9])

	_, err = Grid().Assign(&Scores{Bins: 3})
	assert.ErrorIs(t, err, ErrConfig)
}

// TestClasses works the Chinese eight classes by hand. As of Jan 31:
//
//	member  recency  orders  spend
//	0       0        3       600
//	1       10       1       300
//	2       20       2       100
//	3       10       2       200
//
// Means: recency 10, orders 2, spend 300. A value at the mean is high, so
// member 1 and 3 (recency 10) count as recent, member 2 and 3 (2 orders)
// as frequent, member 1 (300) as high spend.
func TestClasses(t *testing.T) {
	s, err := New(5, Config{AsOf: day(2024, 1, 31, time.UTC)})
	require.NoError(t, err)
	add := func(m uint32, d int, amount int64) {
		require.NoError(t, s.Add(&Tx{Member: m, Time: day(2024, 1, d, time.UTC), Amount: amount}))
	}
	add(0, 31, 200)
	add(0, 30, 200)
	add(0, 29, 200)
	add(1, 21, 300)
	add(2, 11, 50)
	add(2, 5, 50)
	add(3, 21, 100)
	add(3, 20, 100)
	sg := s.Classes(Orders, Total)
	assert.Equal(t, ImportantValue, sg.Name(0))
	assert.Equal(t, ImportantGrowth, sg.Name(1))
	assert.Equal(t, OrdinaryRetain, sg.Name(2))
	assert.Equal(t, OrdinaryValue, sg.Name(3))
	assert.Equal(t, "", sg.Name(4))
	assert.Len(t, sg.Names, 8)
}
