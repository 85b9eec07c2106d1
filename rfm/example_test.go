package rfm_test

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cdpkit/cdpkit/rfm"
)

// Score a handful of members and name their segments.
func Example() {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	asOf := time.Date(2024, 6, 30, 23, 59, 59, 0, loc)
	s, _ := rfm.New(5, rfm.Config{Location: loc, AsOf: asOf})

	buy := func(member uint32, month time.Month, day int, yuan int64) {
		t := time.Date(2024, month, day, 10, 0, 0, 0, loc)
		if err := s.Add(&rfm.Tx{Member: member, Time: t, Amount: yuan * 100}); err != nil {
			fmt.Println(err)
		}
	}
	for m := range 6 {
		buy(0, time.Month(1+m), 28, 300) // monthly, still buying
	}
	buy(1, 1, 5, 80)
	buy(1, 2, 5, 80)  // bought twice, long ago
	buy(2, 6, 29, 50) // new
	buy(3, 3, 1, 1200)
	buy(3, 4, 1, 900)
	buy(3, 5, 1, 700) // frequent and big, quiet for two months
	// member 4 bought nothing

	scores, _ := s.Score(nil) // 5 bins by rank, F = orders, M = net spend
	segments, _ := rfm.Grid().Assign(scores)
	for m := range uint32(5) {
		sum := s.Member(m)
		fmt.Printf("member %d: recency %3d orders %d spend %6.2f  RFM %-3s %s\n",
			m, sum.Recency, sum.Orders, float64(sum.Monetary)/100, scores.Code(m), segments.Name(m))
	}
	// Output:
	// member 0: recency   2 orders 6 spend 1800.00  RFM 343 Loyal Customers
	// member 1: recency 146 orders 2 spend 160.00  RFM 122 Hibernating
	// member 2: recency   1 orders 1 spend  50.00  RFM 411 Promising
	// member 3: recency  60 orders 3 spend 2800.00  RFM 234 At Risk
	// member 4: recency  -1 orders 0 spend   0.00  RFM
}

// Fit BG/NBD and Gamma-Gamma on the CDNOW sample, as Fader, Hardie & Lee
// did, and predict a customer's next 39 weeks.
func ExampleFitBGNBD() {
	f, err := os.Open("testdata/CDNOW_sample.txt") // master_id sample_id yyyymmdd cds dollars
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	// Calibration ends with 1997-09-30; sample IDs 1..2357 become members 0..2356.
	asOf := time.Date(1997, 10, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond)
	s, _ := rfm.New(2357, rfm.Config{AsOf: asOf})
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		col := strings.Fields(sc.Text())
		id, _ := strconv.Atoi(col[1])
		day, _ := time.Parse("20060102", col[2])
		dollars, _ := strconv.ParseFloat(col[4], 64)
		cents := int64(math.Round(dollars * 100))
		if err := s.Add(&rfm.Tx{Member: uint32(id - 1), Time: day, Amount: cents}); err != nil {
			fmt.Println(err)
		}
	}

	h := s.Histories(rfm.HistoryOptions{Unit: rfm.Week, SpendScale: 100})
	p, fit, err := rfm.FitBGNBD(context.Background(), h)
	if err != nil {
		fmt.Println(err)
		return
	}
	g, _, err := rfm.FitGammaGamma(context.Background(), h)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("BG/NBD r=%.3f alpha=%.3f a=%.3f b=%.3f LL=%.1f\n", p.R, p.Alpha, p.A, p.B, fit.LogLikelihood)
	fmt.Printf("Gamma-Gamma p=%.2f q=%.2f gamma=%.2f\n", g.P, g.Q, g.Gamma)

	m := rfm.Model{Purchases: p, Spend: &g}
	pr := m.Predict(h.Customer(0), rfm.ValueOptions{Horizon: 39, Rate: 0.01})
	fmt.Printf("customer 1: P(alive) %.2f, %.3f purchases of $%.2f in 39 weeks, CLV $%.2f\n",
		pr.PAlive, pr.ExpectedPurchases, pr.ExpectedSpend, pr.CLV)
	// Output:
	// BG/NBD r=0.243 alpha=4.414 a=0.793 b=2.426 LL=-9582.4
	// Gamma-Gamma p=6.25 q=3.74 gamma=15.44
	// customer 1: P(alive) 0.73, 1.226 purchases of $24.65 in 39 weeks, CLV $28.45
}
