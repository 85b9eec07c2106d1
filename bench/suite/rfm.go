package suite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"slices"
	"time"

	"github.com/cdpkit/cdpkit/bench/harness"
	"github.com/cdpkit/cdpkit/internal/synth"
)

// rfmData is the rfm suite's transactions in columns, in member order and
// each member's in time order: what a host would hand to a bulk load.
type rfmData struct {
	members  int
	member   []uint32
	unix     []int64 // seconds
	amount   []int64 // fen; negative for a refund
	refundOf []uint64
	asOf     time.Time
	loc      *time.Location
}

func (d *rfmData) rows() int { return len(d.member) }

// rfmChunk is one chunk of members' orders.
type rfmChunk struct {
	member   []uint32
	unix     []int64
	amount   []int64
	refundOf []uint64
}

func genRFM(ctx context.Context, env *Env) (*rfmData, error) {
	g, err := newGenerator(env, synth.Config{})
	if err != nil {
		return nil, err
	}
	cfg := g.Config()
	n := env.Members
	task := env.Progress.Start(fmt.Sprintf("rfm: generating orders of %s members", harness.FormatCount(int64(n))), int64(n))
	parts, err := perChunk(ctx, env, task, func(lo, hi uint32) (rfmChunk, error) {
		var c rfmChunk
		for o := range g.OrdersRange(lo, hi) {
			c.member = append(c.member, o.Member)
			c.unix = append(c.unix, o.Time.Unix())
			c.amount = append(c.amount, o.Amount)
			c.refundOf = append(c.refundOf, o.RefundOf)
		}
		return c, nil
	})
	task.Done()
	if err != nil {
		return nil, err
	}
	total := 0
	for _, p := range parts {
		total += len(p.member)
	}
	d := &rfmData{members: n, asOf: cfg.End, loc: cfg.Location,
		member: make([]uint32, 0, total), unix: make([]int64, 0, total),
		amount: make([]int64, 0, total), refundOf: make([]uint64, 0, total)}
	for i := range parts {
		p := &parts[i]
		d.member = append(d.member, p.member...)
		d.unix = append(d.unix, p.unix...)
		d.amount = append(d.amount, p.amount...)
		d.refundOf = append(d.refundOf, p.refundOf...)
		*p = rfmChunk{}
	}
	return d, nil
}

// rfmCode packs a member's scores into one value, R·100 + F·10 + M, the
// three-digit code RFM tools print; 0 for a member without purchases.
func rfmCode(r, f, m int) int64 { return int64(r*100 + f*10 + m) }

// utcOffset is the as-of time zone's offset in seconds, for SQL day
// arithmetic: DuckDB's time zone support needs its ICU extension, which a
// machine without network access may not load. The chain's zone
// (Asia/Shanghai) has no daylight saving, so one offset holds for the whole
// window; loadDuckRFM refuses a zone where it does not.
func utcOffset(d *rfmData) (int64, error) {
	_, off := d.asOf.In(d.loc).Zone()
	for _, t := range []int64{slices.Min(d.unix), slices.Max(d.unix)} {
		if _, o := time.Unix(t, 0).In(d.loc).Zone(); o != off {
			return 0, fmt.Errorf("time zone %s changes offset within the data; the DuckDB peer needs a fixed offset", d.loc)
		}
	}
	return int64(off), nil
}

func loadDuckRFM(ctx context.Context, env *Env, db *duck, d *rfmData) error {
	if err := db.exec(ctx, "CREATE TABLE tx (member UINTEGER, ts BIGINT, amount BIGINT, refund_of UBIGINT)"); err != nil {
		return err
	}
	task := env.Progress.Start("rfm: loading DuckDB", int64(d.rows()))
	defer task.Done()
	return db.appendRows(ctx, "tx", 4, d.rows(), task, func(i int, vals []driver.Value) {
		vals[0], vals[1], vals[2], vals[3] = d.member[i], d.unix[i], d.amount[i], d.refundOf[i]
	})
}

// rfmSQL scores members the way cdpkit's rfm.Score does with its default
// configuration, written as an analyst would in SQL: per member, recency
// in local days from the last purchase day to the as-of day, frequency as
// orders (refunds are not orders) and monetary as net spend (refunds
// subtract); then NTILE(5) over each, ties broken by member ID, recent
// scoring high. Transactions after the as-of time are outside the window.
func rfmSQL(d *rfmData, off int64) string {
	asOf := d.asOf.Unix()
	asOfDay := (asOf + off) / 86400
	return fmt.Sprintf(`CREATE OR REPLACE TABLE rfm_scores AS
WITH s AS (
	SELECT member,
		%[3]d - max((ts + %[2]d) // 86400) FILTER (WHERE refund_of = 0) AS recency,
		count(*) FILTER (WHERE refund_of = 0) AS orders,
		sum(amount) AS net
	FROM tx
	WHERE ts <= %[1]d
	GROUP BY member
	HAVING count(*) FILTER (WHERE refund_of = 0) > 0
)
SELECT member,
	ntile(5) OVER (ORDER BY recency DESC, member) AS r,
	ntile(5) OVER (ORDER BY orders, member) AS f,
	ntile(5) OVER (ORDER BY net, member) AS m
FROM s`, asOf, off, asOfDay)
}

func duckRFMImpl(db *duck, d *rfmData, off int64) harness.Impl {
	q := rfmSQL(d, off)
	return harness.Impl{
		Name: "duckdb",
		Run: func(ctx context.Context) (harness.Answer, error) {
			if err := db.exec(ctx, q); err != nil {
				return harness.Answer{}, err
			}
			n, err := db.int64(ctx, "SELECT count(*) FROM rfm_scores")
			return harness.Answer{Count: n}, err
		},
		Full: func(ctx context.Context) (harness.Answer, error) {
			ans := harness.Answer{Values: make([]int64, d.members)}
			rows, err := db.db.QueryContext(ctx, "SELECT member, r, f, m FROM rfm_scores")
			if err != nil {
				return ans, fmt.Errorf("duckdb: %w", err)
			}
			defer rows.Close()
			for rows.Next() {
				var m uint32
				var r, f, mon int
				if err := rows.Scan(&m, &r, &f, &mon); err != nil {
					return ans, fmt.Errorf("duckdb: %w", err)
				}
				ans.Values[m] = rfmCode(r, f, mon)
				ans.Count++
			}
			return ans, rows.Err()
		},
	}
}

func rfmSuite() Suite {
	return Suite{
		Name: "rfm",
		Run:  runRFM,
		Cases: []harness.CaseDoc{
			{Suite: "rfm", Case: "load", Text: "duckdb: append the transactions (member, Unix time, amount, refunded order) " +
				"through the appender."},
			{Suite: "rfm", Case: "rfm_scores", Text: "from every transaction of the chain (about 17 per member over three " +
				"years, 2% refunds), compute each member's recency, frequency and net spend and score each 1–5 by rank. " +
				"cdpkit: rfm.New, AddBatch of the transactions in columns, Score with the default configuration. duckdb: " +
				"GROUP BY member and NTILE(5) over each measure into a table, from the transactions already loaded. " +
				"Answers must agree on every member's three scores."},
		},
		Goals: []harness.Goal{
			{Suite: "rfm", Case: "rfm_scores", Peer: "duckdb", MinRatio: 1, Text: "faster than DuckDB GROUP BY + NTILE"},
		},
	}
}

func runRFM(ctx context.Context, env *Env) error {
	d, err := genRFM(ctx, env)
	if err != nil {
		return err
	}
	off, err := utcOffset(d)
	if err != nil {
		return err
	}
	db, err := openDuck()
	if err != nil {
		return err
	}
	defer db.Close()
	r := env.Runner
	loaded, err := r.Loads(ctx, "rfm", env.Members, []harness.Load{
		{Impl: "duckdb", Run: func(ctx context.Context) (harness.Answer, error) {
			if err := loadDuckRFM(ctx, env, db, d); err != nil {
				return harness.Answer{}, err
			}
			n, err := db.int64(ctx, "SELECT count(*) FROM tx")
			return harness.Answer{Count: n}, err
		}, Held: db.memory},
	})
	if err != nil {
		return err
	}
	impls := []harness.Impl{rfmCdpkitImpl(d)}
	if loaded["duckdb"] {
		impls = append(impls, duckRFMImpl(db, d, off))
	}
	return r.Run(ctx, harness.Case{Suite: "rfm", Name: "rfm_scores", Members: env.Members, Impls: impls})
}
