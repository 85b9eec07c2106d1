package segment_test

import (
	"bytes"
	"fmt"
	"log"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cdpkit/cdpkit/segment"
)

// A pharmacy chain's members: declare fields, load them in one
// transaction, then count an audience written as an expression.
func Example() {
	shanghai := time.FixedZone("CST", 8*3600)
	ix := segment.New(&segment.Options{Location: shanghai})
	today := time.Date(2024, 5, 10, 9, 0, 0, 0, shanghai)

	err := ix.Update(func(tx *segment.Tx) error {
		for name, kind := range map[string]segment.Kind{
			"chronic:diabetes": segment.KindTag,
			"tier":             segment.KindEnum,
			"spend_90d":        segment.KindInt, // fen
			"purchase":         segment.KindEvent,
		} {
			if err := tx.Declare(name, kind); err != nil {
				return err
			}
		}
		// Bulk loads take whole bitmaps or columns...
		if err := tx.ReplaceTag("chronic:diabetes", roaring.BitmapOf(1, 2, 3, 5, 8)); err != nil {
			return err
		}
		spend := []int64{0, 80000, 12000, 65000, 0, 51000, 0, 0, 990000}
		if err := tx.ReplaceIntColumn("spend_90d", spend, nil); err != nil {
			return err
		}
		// ...and single members change one at a time.
		for id, tier := range map[uint32]string{1: "gold", 3: "gold", 5: "silver", 8: "gold"} {
			if err := tx.SetEnum("tier", id, tier); err != nil {
				return err
			}
		}
		return tx.RecordActivity("purchase", today.AddDate(0, 0, -3), 3, 8)
	})
	if err != nil {
		log.Fatal(err)
	}

	audience, err := segment.Compile(
		`tag("chronic:diabetes") && tier == "gold" && spend_90d >= 50000 && !active("purchase", "7d")`,
		ix.View())
	if err != nil {
		log.Fatal(err)
	}
	v := ix.View().At(today)
	n, _ := v.Count(audience)
	bm, _ := v.Bitmap(audience)
	fmt.Println(n, bm.ToArray())
	// Output: 1 [1]
}

// Saved segments can be referenced by name and diffed between versions of
// the index, for journeys that trigger on members entering a segment.
func ExampleDiff() {
	ix := segment.New(nil)
	must(ix.Update(func(tx *segment.Tx) error {
		must(tx.Declare("refill_due", segment.KindTag))
		must(tx.Declare("contacted_7d", segment.KindTag))
		must(tx.AddTag("refill_due", 10, 11, 12))
		must(tx.AddTag("contacted_7d", 11))
		plan, err := segment.Compile(`refill_due && !contacted_7d`, tx)
		must(err)
		return tx.SaveSegment("to_remind", plan)
	}))
	yesterday := ix.View()
	must(ix.Update(func(tx *segment.Tx) error {
		must(tx.AddTag("refill_due", 13))
		return tx.AddTag("contacted_7d", 12)
	}))
	entered, exited, err := segment.Diff(yesterday, ix.View(), segment.Ref("to_remind"))
	must(err)
	fmt.Println("entered", entered.ToArray(), "exited", exited.ToArray())
	// Output: entered [13] exited [12]
}

// A 90/10 split keeps a hold-out group to measure a campaign against. The
// assignment hashes the member ID with the salt, so it never changes as the
// audience grows, and each salt gives an independent split.
func ExampleView_Split() {
	ix := segment.New(nil)
	must(ix.Update(func(tx *segment.Tx) error {
		must(tx.Declare("vip", segment.KindTag))
		all := roaring.New()
		all.AddRange(0, 100000)
		return tx.ReplaceTag("vip", all)
	}))
	split, err := segment.NewSplit("may-campaign",
		segment.Arm{Name: "treatment", Weight: 90}, segment.Arm{Name: "holdout", Weight: 10})
	must(err)
	groups, err := ix.View().Split(segment.Tag("vip"), split)
	must(err)
	for i, arm := range split.Arms() {
		fmt.Printf("%s: %.0f%%\n", arm.Name, float64(groups[i].GetCardinality())/1000)
	}
	// Output:
	// treatment: 90%
	// holdout: 10%
}

// TopN and IntStats describe an audience without exporting it.
func ExampleView_TopN() {
	ix := segment.New(nil)
	must(ix.Update(func(tx *segment.Tx) error {
		must(tx.Declare("city", segment.KindEnum))
		must(tx.Declare("basket", segment.KindInt))
		cities := []string{"Shanghai", "Beijing", "Shanghai", "Chengdu", "Shanghai", "Beijing"}
		for id, c := range cities {
			must(tx.SetEnum("city", uint32(id), c))
			must(tx.SetInt("basket", uint32(id), int64(1000*(id+1))))
		}
		return nil
	}))
	v := ix.View()
	top, _ := v.TopN(segment.All(), "city", 2)
	fmt.Println(top)
	st, _ := v.IntStats(segment.Enum("city", "Shanghai"), "basket")
	fmt.Println(st.Count, st.Sum, st.Min, st.Max, st.Mean())
	// Output:
	// [{Shanghai 3} {Beijing 2}]
	// 3 9000 1000 5000 3000
}

// Compile errors carry the line and column of the problem.
func ExampleCompile_error() {
	ix := segment.New(nil)
	must(ix.Update(func(tx *segment.Tx) error { return tx.Declare("vip", segment.KindTag) }))
	_, err := segment.Compile("vip &&\n  spend_90d >= 50000", ix.View())
	fmt.Println(err)
	// Output: 2:3: unknown field "spend_90d"
}

// A snapshot holds one version of the index; ReadSnapshot restores it.
func ExampleView_WriteTo() {
	ix := segment.New(nil)
	must(ix.Update(func(tx *segment.Tx) error {
		must(tx.Declare("vip", segment.KindTag))
		return tx.AddTag("vip", 1, 2, 3)
	}))
	var buf bytes.Buffer
	_, err := ix.View().WriteTo(&buf)
	must(err)
	back, err := segment.ReadSnapshot(&buf, nil)
	must(err)
	n, _ := back.View().Count(segment.Tag("vip"))
	fmt.Println(n, back.View().Version())
	// Output: 3 1
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
