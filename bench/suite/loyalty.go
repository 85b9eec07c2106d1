package suite

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cdpkit/cdpkit/bench/harness"
	"github.com/cdpkit/cdpkit/internal/synth"
	"github.com/cdpkit/cdpkit/loyalty"
	"github.com/cdpkit/cdpkit/loyalty/boltstore"
)

// loyaltyProgram is a pharmacy chain's programme: a point a yuan, double on
// the WeChat mini program, pending for the 7-day return window, expiring at
// the end of the month a year on; three tiers by growth value.
const loyaltyProgram = `{
	"name": "bench pharmacy",
	"time_zone": "Asia/Shanghai",
	"earning": {"points_per_yuan": 1, "channel_multipliers": {"wechat": 2}, "pending_days": 7},
	"expiry": {"months": 12, "end_of": "month", "notice_days": 30},
	"tiers": [
		{"name": "member", "threshold": 0},
		{"name": "silver", "threshold": 2000, "multiplier": 1.2},
		{"name": "gold", "threshold": 8000, "multiplier": 1.5}
	],
	"growth": {"per_yuan": 1, "per_order": 10}
}`

// Concurrent callers applying transactions: a service handling requests
// from many tills and apps at once, which the durable store's group commit
// turns into few synced writes.
const loyaltyCallers = 256

// Transactions per timed run: two seconds at the design's peak of 10,000 a
// second; fewer in short runs.
const (
	loyaltyBatch      = 20_000
	loyaltyShortBatch = 300
)

// loyaltyData is the transaction stream: the chain's orders and refunds
// over the last days of the window, in time order, cut into one batch per
// call the runner can make. The ledger starts empty at the first of them,
// like a programme launched (or migrated) on that day.
type loyaltyData struct {
	batches [][]loyalty.Op
	days    int
}

// loyaltyOps converts one member's orders and refunds into ledger
// operations, leaving out refunds of orders before the stream starts.
func loyaltyOps(o *synth.Order, kept map[uint64]bool) (loyalty.Op, bool) {
	lines := make([]loyalty.Line, 0, len(o.Lines))
	for _, l := range o.Lines {
		amt := l.Amount
		if o.IsRefund() {
			amt = -amt
		}
		if i := slices.IndexFunc(lines, func(x loyalty.Line) bool { return x.Category == l.Category }); i >= 0 {
			lines[i].Paid += amt
		} else {
			lines = append(lines, loyalty.Line{Category: l.Category, Paid: amt})
		}
	}
	id := strconv.FormatUint(o.ID, 10)
	if o.IsRefund() {
		if !kept[o.RefundOf] {
			return nil, false
		}
		return loyalty.Refund{Tx: "r" + id, Member: o.Member, At: o.Time,
			OrderID: strconv.FormatUint(o.RefundOf, 10), Lines: lines}, true
	}
	kept[o.ID] = true
	return loyalty.Order{Tx: "o" + id, Member: o.Member, At: o.Time, OrderID: id,
		Channel: o.Channel.String(), Lines: lines}, true
}

func genLoyalty(ctx context.Context, env *Env, batch, batches int) (*loyaltyData, error) {
	g, err := newGenerator(env, synth.Config{})
	if err != nil {
		return nil, err
	}
	cfg := g.Config()
	need := batch * batches
	// About 17 orders per member over 1,096 days, fewer near the end as
	// members lapse: 1% of members a day is a safe floor, and a quarter
	// more days covers refunds dropped with their orders.
	days := int(math.Ceil(float64(need)/(0.01*float64(env.Members))*1.25)) + 1
	days = min(days, int(cfg.End.Sub(cfg.Start).Hours()/24))
	from := cfg.End.AddDate(0, 0, -days)
	task := env.Progress.Start(fmt.Sprintf("loyalty: generating the last %d days of orders of %s members", days,
		harness.FormatCount(int64(env.Members))), int64(env.Members))
	parts, err := perChunk(ctx, env, task, func(lo, hi uint32) ([]loyalty.Op, error) {
		var ops []loyalty.Op
		kept := map[uint64]bool{}
		for o := range g.OrdersRange(lo, hi) {
			if o.Time.Before(from) {
				continue
			}
			if op, ok := loyaltyOps(&o, kept); ok {
				ops = append(ops, op)
			}
		}
		return ops, nil
	})
	task.Done()
	if err != nil {
		return nil, err
	}
	all := slices.Concat(parts...)
	// Time order across members; a stable sort keeps each member's
	// operations in the order generated even at equal times.
	slices.SortStableFunc(all, func(a, b loyalty.Op) int { return a.Time().Compare(b.Time()) })
	if len(all) < need {
		return nil, fmt.Errorf("loyalty: %d transactions in the last %d days, need %d", len(all), days, need)
	}
	d := &loyaltyData{days: days}
	for i := range batches {
		d.batches = append(d.batches, all[i*batch:(i+1)*batch])
	}
	return d, nil
}

// applyBatch applies ops on loyaltyCallers goroutines, each member's
// operations on one goroutine and in stream order.
func applyBatch(ctx context.Context, l *loyalty.Ledger, ops []loyalty.Op, lat *harness.LatencyLog) error {
	queues := make([][]loyalty.Op, loyaltyCallers)
	for _, op := range ops {
		q := op.MemberID() % loyaltyCallers
		queues[q] = append(queues[q], op)
	}
	var wg sync.WaitGroup
	errs := make([]error, loyaltyCallers)
	for i, q := range queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, op := range q {
				start := time.Now()
				r, err := l.Apply(ctx, op)
				lat.Since(start)
				if err != nil {
					errs[i] = fmt.Errorf("%s of member %d: %w", op.TxID(), op.MemberID(), err)
					return
				}
				if r.Replayed {
					errs[i] = fmt.Errorf("%s of member %d was already applied", op.TxID(), op.MemberID())
					return
				}
			}
		}()
	}
	wg.Wait()
	return cmp.Or(errs...)
}

// ledgerImpl applies the next batch on each call.
func ledgerImpl(l *loyalty.Ledger, d *loyaltyData, batch int) harness.Impl {
	next := 0
	lat := &harness.LatencyLog{}
	return harness.Impl{
		Name:    harness.Reference,
		PerRun:  batch,
		Latency: lat,
		Run: func(ctx context.Context) (harness.Answer, error) {
			if next >= len(d.batches) {
				return harness.Answer{}, fmt.Errorf("no transactions left after %d batches", next)
			}
			b := d.batches[next]
			next++
			if err := applyBatch(ctx, l, b, lat); err != nil {
				return harness.Answer{}, err
			}
			return harness.Answer{Count: int64(len(b))}, nil
		},
	}
}

func loyaltySuite() Suite {
	return Suite{
		Name: "loyalty",
		Run:  runLoyalty,
		Cases: []harness.CaseDoc{
			{Suite: "loyalty", Case: "durable_tx", Text: fmt.Sprintf("time per transaction of the chain's orders and "+
				"refunds over the last days of the window, in time order, applied by %d concurrent callers (each member's "+
				"on one caller) to a Ledger on the bbolt store, whose group commit syncs each batch of waiting commits "+
				"once; a call returns when its transaction is on disk. Runs of %d transactions; the programme earns points "+
				"with channel and tier multipliers, a return window and expiry. The ledger starts empty at the first "+
				"transaction; the member count sets the population the orders come from.", loyaltyCallers, loyaltyBatch)},
			{Suite: "loyalty", Case: "memory_tx", Text: "the same on the in-memory store: the ledger's own cost, " +
				"without the disk."},
		},
		Goals: []harness.Goal{
			{Suite: "loyalty", Case: "durable_tx", MaxNS: 100_000, Text: "≥ 10,000 durable transactions a second (≤ 100 µs each)"},
		},
	}
}

func runLoyalty(ctx context.Context, env *Env) error {
	batch := loyaltyBatch
	if env.Short {
		batch = loyaltyShortBatch
	}
	runs := env.Runner.MaxRuns()
	// One stream for both cases: the durable ledger takes the first
	// batches, the in-memory one the same batches again on its own store.
	d, err := genLoyalty(ctx, env, batch, runs)
	if err != nil {
		return err
	}
	program, err := loyalty.ParseProgram([]byte(loyaltyProgram))
	if err != nil {
		return err
	}
	path := filepath.Join(env.TempDir, fmt.Sprintf("loyalty-%d-%d.db", env.Members, time.Now().UnixNano()))
	store, err := boltstore.Open(path, nil)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	durable := loyalty.NewLedger(program, store, nil)
	err = env.Runner.Run(ctx, harness.Case{Suite: "loyalty", Name: "durable_tx", Members: env.Members,
		Impls: []harness.Impl{ledgerImpl(durable, d, batch)}})
	if err == nil {
		err = audit(ctx, "durable_tx", durable)
	}
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	mem := loyalty.NewMemStore()
	defer mem.Close()
	inMemory := loyalty.NewLedger(program, mem, nil)
	if err := env.Runner.Run(ctx, harness.Case{Suite: "loyalty", Name: "memory_tx", Members: env.Members,
		Impls: []harness.Impl{ledgerImpl(inMemory, d, batch)}}); err != nil {
		return err
	}
	return audit(ctx, "memory_tx", inMemory)
}

// audit recomputes every balance from the ledger's entries after a case, so
// that a ledger that went fast by going wrong fails the run.
func audit(ctx context.Context, cas string, l *loyalty.Ledger) error {
	rep, err := l.Audit(ctx)
	if err != nil {
		return fmt.Errorf("loyalty/%s: audit: %w", cas, err)
	}
	if !rep.OK() {
		return fmt.Errorf("loyalty/%s: audit found the ledger inconsistent: %+v", cas, rep)
	}
	return nil
}
