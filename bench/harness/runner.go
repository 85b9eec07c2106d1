package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"
)

// Reference is the name of the implementation every other one is checked
// against and compared with: the ratio column divides by its median.
const Reference = "cdpkit"

// Result is one implementation's figures for one case at one size: a line of
// the -json output. MedianNS, MinNS and MaxNS are per operation; a timed run
// performs Ops operations. Bytes is, for a load case, the memory the
// implementation holds after loading and, for any other case, the sampled
// peak of the Go heap above its level before the runs.
type Result struct {
	Suite    string `json:"suite"`
	Case     string `json:"case"`
	Members  int    `json:"members"`
	Impl     string `json:"impl"`
	MedianNS int64  `json:"median_ns"`
	MinNS    int64  `json:"min_ns"`
	MaxNS    int64  `json:"max_ns"`
	Runs     int    `json:"runs"`
	Ops      int    `json:"ops"`
	Bytes    int64  `json:"bytes"`
	// P99NS is the 99th percentile of one operation's latency over the
	// timed runs, for implementations that time each operation of a
	// concurrent batch (Impl.Latency); zero and left out otherwise.
	P99NS int64 `json:"p99_ns,omitempty"`
}

// Impl is one way of doing a case's work: cdpkit's, or a peer's.
type Impl struct {
	// Name is "cdpkit", "cdpkit-<path>" or the peer's name (duckdb,
	// exprlang, celmap, closure, scan, unionfind, memfloor).
	Name string
	// Run does the work once and returns what it found. It is timed.
	Run func(ctx context.Context) (Answer, error)
	// Full, when set, returns the complete answer to check (the members
	// behind a count, say) without being timed; Run's answer is checked
	// otherwise. It is called once, after the warm-up run.
	Full func(ctx context.Context) (Answer, error)
	// PerRun, when above zero, is the number of operations one call of Run
	// performs (the transactions of a batch, say): times are reported per
	// operation, and Run is never repeated within a timed run, since such a
	// batch is usually consumed by running it.
	PerRun int
	// Latency, when set, is where Run records the latency of each single
	// operation it performs; the runner clears it after the warm-up and
	// reports its 99th percentile with the timed runs (Result.P99NS).
	Latency *LatencyLog
}

// Case is one piece of work done by several implementations on the same
// data. The first implementation is the reference the others are checked
// against; it is cdpkit's whenever cdpkit can do the work.
type Case struct {
	Suite   string
	Name    string
	Members int
	Impls   []Impl
}

// Load is one implementation's loading of a suite's data, timed once: the
// DuckDB appender, building a cdpkit index, filling plain-Go slices.
type Load struct {
	Impl string
	// Run loads the data and returns what was loaded (a row count, say) so
	// loads can be checked against each other.
	Run func(ctx context.Context) (Answer, error)
	// Held, when set, reports the memory the loaded data holds outside the
	// Go heap (DuckDB's buffer manager); the Go heap's growth is used
	// otherwise.
	Held func() int64
}

// Options tune how long each implementation is run. The zero value means
// the defaults given on each field.
type Options struct {
	// Runs, when above zero, is the exact number of timed runs of every
	// implementation, overriding Budget, MinRuns and MaxRuns.
	Runs int
	// Budget is the time each implementation's timed runs of one case aim
	// to fill. Default 5s.
	Budget time.Duration
	// MinRuns is the fewest timed runs taken unless even that many would
	// take over four budgets. Default 3.
	MinRuns int
	// MaxRuns caps the timed runs. Default 15.
	MaxRuns int
	// MinRunTime is the shortest a timed run should last: work quicker than
	// that is repeated Ops times within a run. Default 20ms.
	MinRunTime time.Duration
	// Log receives a line per case and implementation as it is measured.
	// Nil means no log.
	Log io.Writer
	// Skip names peers not to load or run (DuckDB at a size where it would
	// take hours, say). The reference is never skipped.
	Skip []string
}

func (o Options) skips(impl string) bool {
	return impl != Reference && slices.Contains(o.Skip, impl)
}

func (o Options) withDefaults() Options {
	if o.Budget <= 0 {
		o.Budget = 5 * time.Second
	}
	if o.MinRuns <= 0 {
		o.MinRuns = 3
	}
	if o.MaxRuns <= 0 {
		o.MaxRuns = 15
	}
	o.MaxRuns = max(o.MaxRuns, o.MinRuns)
	if o.MinRunTime <= 0 {
		o.MinRunTime = 20 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// MismatchError reports a peer whose answer differs from the reference's.
// Its figures are not reported.
type MismatchError struct {
	Suite, Case string
	Members     int
	Impl, Ref   string
	Err         error
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s/%s at %d members: %s disagrees with %s: %v", e.Suite, e.Case, e.Members, e.Impl, e.Ref, e.Err)
}

func (e *MismatchError) Unwrap() error { return e.Err }

// Runner measures cases and collects their results. It is not safe for
// concurrent use: cases are measured one at a time, on purpose, so that they
// do not compete for the cores.
type Runner struct {
	opt      Options
	emit     func(Result)
	results  []Result
	failures []error
}

// NewRunner returns a runner; emit, when not nil, receives each result as
// soon as its case is done (for streaming -json lines).
func NewRunner(opt Options, emit func(Result)) *Runner {
	return &Runner{opt: opt.withDefaults(), emit: emit}
}

// Results returns every result so far in the order measured.
func (r *Runner) Results() []Result { return slices.Clone(r.results) }

// MaxRuns returns the most calls of Run an implementation with PerRun set
// can get in a case: the warm-up and the timed runs. A case whose Run
// consumes data (transactions that may not be replayed) prepares this many
// batches.
func (r *Runner) MaxRuns() int {
	if r.opt.Runs > 0 {
		return 1 + r.opt.Runs
	}
	return 1 + r.opt.MaxRuns
}

// Failures returns the mismatches and implementation errors so far. A run
// with failures must exit non-zero.
func (r *Runner) Failures() []error { return slices.Clone(r.failures) }

func (r *Runner) fail(err error) {
	r.failures = append(r.failures, err)
	fmt.Fprintf(r.opt.Log, "FAIL %v\n", err)
}

func (r *Runner) report(res Result) {
	r.results = append(r.results, res)
	if r.emit != nil {
		r.emit(res)
	}
}

// Loads runs each load once, in order, measuring its time and the memory
// its data holds, checks every load's answer against the first one's and
// reports them as case "load". It returns the loads that succeeded and
// agreed, by implementation name, so a suite can leave out the cases of an
// implementation whose data is wrong. Only a cancelled context is returned
// as an error.
func (r *Runner) Loads(ctx context.Context, suite string, members int, loads []Load) (map[string]bool, error) {
	ok := make(map[string]bool, len(loads))
	var ref *Answer
	var refName string
	for _, l := range loads {
		if err := ctx.Err(); err != nil {
			return ok, err
		}
		if r.opt.skips(l.Impl) {
			fmt.Fprintf(r.opt.Log, "%s/load %d: %s skipped\n", suite, members, l.Impl)
			continue
		}
		fmt.Fprintf(r.opt.Log, "%s/load %d: %s\n", suite, members, l.Impl)
		before := settledHeap()
		start := time.Now()
		ans, err := l.Run(ctx)
		elapsed := time.Since(start)
		if err != nil {
			if ctx.Err() != nil {
				return ok, ctx.Err()
			}
			r.fail(fmt.Errorf("%s/load at %d members: %s: %w", suite, members, l.Impl, err))
			continue
		}
		held := settledHeap() - before
		if l.Held != nil {
			held = l.Held()
		}
		if ref == nil {
			ref, refName = &ans, l.Impl
		} else if err := Check(*ref, ans); err != nil {
			r.fail(&MismatchError{Suite: suite, Case: "load", Members: members, Impl: l.Impl, Ref: refName, Err: err})
			continue
		}
		ok[l.Impl] = true
		ns := elapsed.Nanoseconds()
		r.report(Result{Suite: suite, Case: "load", Members: members, Impl: l.Impl,
			MedianNS: ns, MinNS: ns, MaxNS: ns, Runs: 1, Ops: 1, Bytes: max(held, 0)})
	}
	return ok, nil
}

// contender is an implementation being measured in a case.
type contender struct {
	Impl
	ops, runs int
	times     []time.Duration // per run, ops operations each
	peak      int64
}

// Run measures a case: a warm-up run of each implementation, whose answer
// (Full's when set) is checked against the reference's, then timed runs
// taken in rounds, each round visiting the implementations in a rotated
// order, so that a slow drift of the machine (another process, a thermal
// limit) hits all of them alike. Every timed run's count is checked again.
// A mismatch or an error drops the implementation from the case and is
// recorded as a failure; only a cancelled context is returned.
func (r *Runner) Run(ctx context.Context, c Case) error {
	if len(c.Impls) == 0 {
		return nil
	}
	var want Answer
	var cs []*contender
	for i, im := range c.Impls {
		if err := ctx.Err(); err != nil {
			return err
		}
		if i > 0 && r.opt.skips(im.Name) {
			fmt.Fprintf(r.opt.Log, "%s/%s %d: %s skipped\n", c.Suite, c.Name, c.Members, im.Name)
			continue
		}
		fmt.Fprintf(r.opt.Log, "%s/%s %d: warm-up %s\n", c.Suite, c.Name, c.Members, im.Name)
		settledHeap()
		start := time.Now()
		ans, err := im.Run(ctx)
		warm := time.Since(start)
		if err == nil && im.Full != nil {
			ans, err = im.Full(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.fail(fmt.Errorf("%s/%s at %d members: %s: %w", c.Suite, c.Name, c.Members, im.Name, err))
			if i == 0 {
				// Without the reference nothing can be checked.
				return nil
			}
			continue
		}
		if i == 0 {
			want = ans
		} else if err := Check(want, ans); err != nil {
			r.fail(&MismatchError{Suite: c.Suite, Case: c.Name, Members: c.Members, Impl: im.Name, Ref: c.Impls[0].Name, Err: err})
			continue
		}
		if im.Latency != nil {
			im.Latency.reset()
		}
		ct := &contender{Impl: im}
		ct.ops, ct.runs = r.plan(warm)
		if im.PerRun > 0 {
			ct.ops = 1
		}
		cs = append(cs, ct)
	}

	for round := 0; ; round++ {
		active := 0
		for k := range cs {
			ct := cs[(round+k)%len(cs)]
			if ct.runs == 0 || len(ct.times) >= ct.runs {
				continue
			}
			active++
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := r.timed(ctx, c, ct, want.Count); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				r.fail(err)
				ct.runs, ct.times = 0, nil
			}
		}
		if active == 0 {
			break
		}
	}

	for _, ct := range cs {
		if len(ct.times) == 0 {
			continue
		}
		r.report(summarize(c, ct))
	}
	return nil
}

// plan picks the operations per run and the number of runs from the
// warm-up's time.
func (r *Runner) plan(warm time.Duration) (ops, runs int) {
	o := r.opt
	warm = max(warm, time.Microsecond)
	ops = 1
	if warm < o.MinRunTime {
		ops = int(min((o.MinRunTime+warm-1)/warm, 1_000_000))
	}
	if o.Runs > 0 {
		return ops, o.Runs
	}
	run := warm * time.Duration(ops)
	runs = int(o.Budget / run)
	if runs < o.MinRuns && run*time.Duration(o.MinRuns) <= 4*o.Budget {
		runs = o.MinRuns
	}
	return ops, min(max(runs, 1), o.MaxRuns)
}

// timed performs one timed run of ct: ops operations back to back after a
// garbage collection, with the heap sampled throughout.
func (r *Runner) timed(ctx context.Context, c Case, ct *contender, count int64) error {
	base := settledHeap()
	s := startHeapSampler()
	start := time.Now()
	for range ct.ops {
		ans, err := ct.Run(ctx)
		if err != nil {
			s.stop()
			return fmt.Errorf("%s/%s at %d members: %s: %w", c.Suite, c.Name, c.Members, ct.Name, err)
		}
		if ans.Count != count {
			s.stop()
			return &MismatchError{Suite: c.Suite, Case: c.Name, Members: c.Members, Impl: ct.Name, Ref: "its warm-up",
				Err: fmt.Errorf("count %d, want %d", ans.Count, count)}
		}
	}
	ct.times = append(ct.times, time.Since(start))
	ct.peak = max(ct.peak, s.stop()-base)
	return nil
}

func summarize(c Case, ct *contender) Result {
	ops := ct.ops * max(ct.PerRun, 1)
	per := make([]int64, len(ct.times))
	for i, t := range ct.times {
		per[i] = t.Nanoseconds() / int64(ops)
	}
	sort.Slice(per, func(i, j int) bool { return per[i] < per[j] })
	res := Result{
		Suite: c.Suite, Case: c.Name, Members: c.Members, Impl: ct.Name,
		MedianNS: median(per), MinNS: per[0], MaxNS: per[len(per)-1],
		Runs: len(per), Ops: ops, Bytes: max(ct.peak, 0),
	}
	if ct.Latency != nil {
		if p, ok := ct.Latency.Percentile(99); ok {
			res.P99NS = p.Nanoseconds()
		}
	}
	return res
}

// median of sorted values; the mean of the middle two for an even count.
func median(sorted []int64) int64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// ErrFailed is returned by a run that recorded failures.
var ErrFailed = errors.New("benchmark failed: a peer disagreed with cdpkit or an implementation returned an error")
