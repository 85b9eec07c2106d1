package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cdpkit/cdpkit/identity"
)

func init() {
	register(&command{
		name:    "resolve",
		summary: "resolve identifier observations into persons (OneID): assignments, merge log, quality",
		usage:   "[flags] observations.jsonl|observations.csv|-",
		help: `
Resolves observations — the identifiers seen together in one event — into
persons with identity's rules: identifier kinds in priority order, each with
a normaliser, a per-person limit (optionally within a time window or per
scope) and blocked values. Input is JSON lines as 'cdpkit gen' writes them

  {"event":17,"source":"store_pos","time":"2025-03-01T10:00:00+08:00",
   "ids":[{"kind":"member_card","value":"600000104729"},
          {"kind":"wechat_openid","value":"oX7ab…","scope":"wx5f3c…"}],
   "true_member":4}

or CSV with a header naming event,time,kind,value and optionally
source,scope,true_member: one row per identifier, the consecutive rows of
one event making one observation. Times are RFC 3339, or a date or
"YYYY-MM-DD hh:mm:ss" in --tz. Observations are resolved in file order
(--sort: by time).

Writes to standard output (or --out) the person of every observation,
after all merges, as CSV event,person (--by event), or every identifier of
every person as kind,value,scope,person (--by identifier). --log writes the
merge log as JSON lines: merges, identifiers dropped with the limits that
would have been broken, and values rejected as blocked or invalid. A summary
goes to standard error. With --truth, observations carrying true_member
score the persons against the true members (pairwise precision and recall)
next to a plain union-find without limits, to show what the limits prevent.

Kinds default to identity.DefaultKinds plus insurer_id, accepting the names
cdpkit gen writes (wechat_unionid, device_id); --print-kinds writes them as a
kinds file to edit and pass back with --kinds (format in the README).

A line that cannot be read, an identifier of an undeclared kind (set aside,
the rest of the observation is resolved) and a malformed observation are
reported as FILE:LINE; the exit code is then 1, after all the rest has been
resolved and written. Values rejected by the rules are not errors.`,
		flags: func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) error {
			var a resolveArgs
			fs.StringVar(&a.format, "format", "auto", "input format: jsonl, csv or auto (jsonl when the first character is '{')")
			fs.StringVar(&a.tz, "tz", "UTC", "time zone of times without an offset")
			fs.StringVar(&a.kinds, "kinds", "", "identifier kinds `file` (JSON; default: identity.DefaultKinds plus insurer_id)")
			fs.BoolVar(&a.printKinds, "print-kinds", false, "print the kinds in use as a kinds file and exit")
			fs.StringVar(&a.out, "out", "", "write assignments to this `file` instead of standard output")
			fs.StringVar(&a.by, "by", "event", "assignments per event (event,person) or per identifier (kind,value,scope,person)")
			fs.StringVar(&a.log, "log", "", "write the merge log (JSON lines) to this `file`")
			fs.StringVar(&a.snapshot, "snapshot", "", "save the resolver to this `file` at the end")
			fs.StringVar(&a.from, "from", "", "continue from a resolver snapshot `file` (written with --snapshot under the same kinds)")
			fs.BoolVar(&a.sort, "sort", false, "resolve in time order (stable) rather than file order; reads the whole input first")
			fs.BoolVar(&a.truth, "truth", false, "score the persons against the input's true_member")
			return func(ctx context.Context, e *env, args []string) error {
				if a.printKinds {
					return printKinds(e, a.kinds)
				}
				if len(args) != 1 {
					return usagef("want one observations file (or - for standard input), got %d arguments", len(args))
				}
				if a.by != "event" && a.by != "identifier" {
					return usagef("--by %q: want event or identifier", a.by)
				}
				a.input = args[0]
				return resolve(ctx, e, &a)
			}
		},
	})
}

type resolveArgs struct {
	input, format, tz, kinds, out, by, log, snapshot, from string
	sort, truth, printKinds                                bool
}

func printKinds(e *env, path string) error {
	kc := defaultKinds()
	if path != "" {
		var err error
		if kc, err = loadKinds(path); err != nil {
			return err
		}
	}
	b, err := kc.kindsJSON()
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(b)
	return err
}

// resolveChunk is how many observations go to ObserveBatch at once: enough
// for it to normalise one part on another core while resolving the other.
const resolveChunk = 4096

// resolveRun is the state of one run.
type resolveRun struct {
	e     *env
	a     *resolveArgs
	kinds *kindsConfig
	r     *identity.Resolver
	bad   *badLines
	log   *json.Encoder

	// per observation, in input order
	events  []string
	persons []identity.PersonID
	truths  []int64
	usable  [][]string // identifier keys for the plain union-find (--truth)

	observations, noIdentifier, created, mergedAway, mergeEvents, rejected, blocked int
	drops                                                                           map[string]int
	setAside                                                                        map[string]int // undeclared kinds
}

func resolve(ctx context.Context, e *env, a *resolveArgs) error {
	loc, err := time.LoadLocation(a.tz)
	if err != nil {
		return usagef("--tz %q: %v", a.tz, err)
	}
	kc := defaultKinds()
	if a.kinds != "" {
		if kc, err = loadKinds(a.kinds); err != nil {
			return err
		}
	}
	var r *identity.Resolver
	if a.from != "" {
		r, err = identity.LoadSnapshot(a.from, kc.cfg)
		if errors.Is(err, identity.ErrConfigMismatch) {
			return fmt.Errorf("%s: %w (pass the --kinds the snapshot was written with)", a.from, err)
		}
	} else {
		r, err = identity.New(kc.cfg)
	}
	if err != nil {
		return err
	}

	var in io.Reader = e.stdin
	name := "stdin"
	if a.input != "-" {
		f, err := os.Open(a.input)
		if err != nil {
			return err
		}
		defer f.Close()
		in, name = f, a.input
	}
	run := &resolveRun{e: e, a: a, kinds: kc, r: r, bad: &badLines{w: e.stderr, path: name},
		drops: map[string]int{}, setAside: map[string]int{}}

	var logFile *os.File
	var logBuf *bufio.Writer
	if a.log != "" {
		if logFile, err = os.Create(a.log); err != nil {
			return err
		}
		defer logFile.Close()
		logBuf = bufio.NewWriterSize(logFile, 1<<16)
		run.log = json.NewEncoder(logBuf)
		run.log.SetEscapeHTML(false)
	}

	rd, err := newObsReader(in, name, a.format, loc)
	if err != nil {
		return err
	}
	if err := run.resolveAll(ctx, rd); err != nil {
		return err
	}
	if logBuf != nil {
		if err := errors.Join(logBuf.Flush(), logFile.Close()); err != nil {
			return fmt.Errorf("write %s: %w", a.log, err)
		}
	}
	if err := run.writeAssignments(); err != nil {
		return err
	}
	if a.snapshot != "" {
		if err := r.SaveSnapshot(a.snapshot); err != nil {
			return err
		}
	}
	run.summary()
	if a.truth {
		run.scoreTruth()
	}
	run.bad.more()
	if run.bad.n > 0 {
		return fmt.Errorf("%d problems in %s (reported above); the rest was resolved", run.bad.n, name)
	}
	return nil
}

// resolveAll resolves the observations rd reads, chunk by chunk, while
// the next chunks are read and decoded on other goroutines.
func (run *resolveRun) resolveAll(ctx context.Context, rd *obsReader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks, readErr := rd.chunks(ctx, resolveChunk, run.prevalidate)
	// ready waits for a chunk's decoding and reports its problems, in
	// file order.
	ready := func(c *obsChunk) []obsRecord {
		<-c.ready
		for _, m := range c.msgs {
			run.bad.report(m.line, "%s", m.msg)
		}
		for _, k := range c.setAside {
			run.setAside[k]++
		}
		return c.recs
	}
	feed := func(yield func([]obsRecord) bool) {
		if !run.a.sort {
			for c := range chunks {
				if !yield(ready(c)) {
					return
				}
			}
			return
		}
		var all []obsRecord
		for c := range chunks {
			all = append(all, ready(c)...)
		}
		slices.SortStableFunc(all, func(x, y obsRecord) int { return x.obs.Time.Compare(y.obs.Time) })
		for start := 0; start < len(all); start += resolveChunk {
			if !yield(all[start:min(start+resolveChunk, len(all))]) {
				return
			}
		}
	}
	var err error
	nextProgress := 1_000_000
	for recs := range feed {
		if err = ctx.Err(); err != nil {
			break
		}
		if err = run.observe(recs); err != nil {
			break
		}
		if run.observations >= nextProgress {
			fmt.Fprintf(run.e.stderr, "resolve: %d observations, %d persons\n", run.observations, run.r.Stats().Persons)
			nextProgress += 1_000_000
		}
	}
	cancel()
	for range chunks { // let the reader stop
	}
	if err != nil {
		return err
	}
	return readErr()
}

// prevalidate maps kind aliases to declared kinds and sets aside the
// identifiers identity would reject the whole observation for: an
// undeclared kind, a scope missing or given where the kind has none.
func (run *resolveRun) prevalidate(rec *obsRecord, c *obsChunk) {
	ids := rec.obs.Identifiers[:0]
	for i, id := range rec.obs.Identifiers {
		kind, ok := run.kinds.canonical(id.Kind)
		if !ok {
			c.report(rec.line, "identifier %d: kind %q is not declared (identifier set aside; see --kinds)", i+1, id.Kind)
			c.setAside = append(c.setAside, id.Kind)
			continue
		}
		id.Kind = kind
		scoped := false
		for _, k := range run.kinds.cfg.Kinds {
			if k.Name == kind {
				scoped = k.Scoped
			}
		}
		if scoped && id.Scope == "" {
			c.report(rec.line, "identifier %d: kind %q needs a scope (identifier set aside)", i+1, kind)
			continue
		}
		if !scoped && id.Scope != "" {
			c.report(rec.line, "identifier %d: kind %q takes no scope, got %q (identifier set aside)", i+1, kind, id.Scope)
			continue
		}
		ids = append(ids, id)
	}
	rec.obs.Identifiers = ids
}

type logID struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
	Scope string `json:"scope,omitempty"`
}

type logEntry struct {
	Line   int                 `json:"line"`
	Event  string              `json:"event"`
	Op     string              `json:"op"`
	Person *identity.PersonID  `json:"person,omitempty"`
	Merged []identity.PersonID `json:"merged,omitempty"`
	ID     *logID              `json:"id,omitempty"`
	Limits []string            `json:"limits,omitempty"`
	Reason string              `json:"reason,omitempty"`
}

// observe resolves one chunk and records what each observation did.
func (run *resolveRun) observe(chunk []obsRecord) error {
	obs := make([]identity.Observation, 0, len(chunk))
	idx := make([]int, 0, len(chunk)) // chunk position of each obs
	for i := range chunk {
		if len(chunk[i].obs.Identifiers) > 0 {
			obs = append(obs, chunk[i].obs)
			idx = append(idx, i)
		}
	}
	results := make([]identity.Result, len(obs))
	failed := map[int]error{}
	if err := run.r.ObserveBatch(obs, results); err != nil {
		var be *identity.BatchError
		if !errors.As(err, &be) {
			return err
		}
		for _, oe := range be.Errors {
			failed[oe.Index] = oe
		}
	}
	persons := make([]identity.PersonID, len(chunk))
	for i := range persons {
		persons[i] = identity.NoPerson
	}
	for j, res := range results {
		rec := &chunk[idx[j]]
		persons[idx[j]] = res.Person
		if res.Person == identity.NoPerson {
			err, known := failed[j]
			if !known && len(res.Rejected) < len(obs[j].Identifiers) {
				// Past the errors a BatchError keeps; a malformed
				// observation changes nothing, so asking again is safe.
				_, err = run.r.Observe(obs[j])
			}
			if err != nil && !errors.Is(err, identity.ErrNoIdentifier) {
				var oe *identity.ObservationError
				if errors.As(err, &oe) {
					err = oe.Err
				}
				run.bad.report(rec.line, "event %q: %v (observation skipped)", rec.obs.EventID, err)
				continue
			}
			run.noIdentifier++
		}
		if res.Created {
			run.created++
		}
		if len(res.Merged) > 0 {
			run.mergeEvents++
			run.mergedAway += len(res.Merged)
			run.logEntry(&logEntry{Line: rec.line, Event: rec.obs.EventID, Op: "merge", Person: &res.Person, Merged: res.Merged})
		}
		for _, d := range res.Dropped {
			for _, l := range d.Limits {
				run.drops[l]++
			}
			run.logEntry(&logEntry{Line: rec.line, Event: rec.obs.EventID, Op: "drop", Person: &res.Person,
				ID: &logID{d.Identifier.Kind, d.Identifier.Value, d.Identifier.Scope}, Limits: d.Limits})
		}
		for _, rj := range res.Rejected {
			run.rejected++
			if errors.Is(rj.Err, identity.ErrBlocked) {
				run.blocked++
			}
			e := &logEntry{Line: rec.line, Event: rec.obs.EventID, Op: "reject",
				ID: &logID{rj.Identifier.Kind, rj.Identifier.Value, rj.Identifier.Scope}, Reason: rj.Err.Error()}
			if res.Person != identity.NoPerson {
				e.Person = &res.Person
			}
			run.logEntry(e)
		}
	}
	for i := range chunk {
		rec := &chunk[i]
		run.observations++
		if run.a.by == "event" {
			run.events = append(run.events, rec.obs.EventID)
		}
		run.persons = append(run.persons, persons[i])
		if run.a.truth {
			run.truths = append(run.truths, rec.truth)
			run.usable = append(run.usable, run.unionKeys(rec, persons[i], results, idx, i))
		}
	}
	return nil
}

// unionKeys returns the identifiers a plain union-find would join an
// observation by: every usable one (normalised, not blocked), whatever the
// limits say.
func (run *resolveRun) unionKeys(rec *obsRecord, p identity.PersonID, results []identity.Result, idx []int, i int) []string {
	if p == identity.NoPerson {
		return nil
	}
	j, _ := slices.BinarySearch(idx, i)
	rejected := map[int]bool{}
	for _, rj := range results[j].Rejected {
		rejected[rj.Index] = true
	}
	var keys []string
	var buf []byte
	for n, id := range rec.obs.Identifiers {
		if rejected[n] {
			continue
		}
		norm := identity.NormalizeToken
		for _, k := range run.kinds.cfg.Kinds {
			if k.Name == id.Kind && k.Normalize != nil {
				norm = k.Normalize
			}
		}
		var err error
		if buf, err = norm(buf[:0], id.Value); err != nil {
			continue
		}
		keys = append(keys, id.Kind+"\x00"+id.Scope+"\x00"+string(buf))
	}
	return keys
}

func (run *resolveRun) logEntry(e *logEntry) {
	if run.log != nil {
		_ = run.log.Encode(e) // write errors surface at Flush
	}
}

func (run *resolveRun) writeAssignments() error {
	w := run.e.stdout
	var f *os.File
	if run.a.out != "" {
		var err error
		if f, err = os.Create(run.a.out); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := csv.NewWriter(bw)
	canon := func(p identity.PersonID) string {
		if p == identity.NoPerson {
			return ""
		}
		c, err := run.r.Canonical(p)
		if err != nil {
			return ""
		}
		return strconv.FormatUint(uint64(c), 10)
	}
	if run.a.by == "event" {
		cw.Write([]string{"event", "person"})
		for i, ev := range run.events {
			cw.Write([]string{ev, canon(run.persons[i])})
		}
	} else {
		cw.Write([]string{"kind", "value", "scope", "person"})
		for p := range run.r.Persons() {
			ids, err := run.r.Identifiers(p)
			if err != nil {
				return err
			}
			ps := strconv.FormatUint(uint64(p), 10)
			for _, id := range ids {
				cw.Write([]string{id.Kind, id.Value, id.Scope, ps})
			}
		}
	}
	cw.Flush()
	err := errors.Join(cw.Error(), bw.Flush())
	if f != nil {
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		return fmt.Errorf("write assignments: %w", err)
	}
	return nil
}

func (run *resolveRun) summary() {
	w := run.e.stderr
	st := run.r.Stats()
	fmt.Fprintf(w, "resolve: %d observations, %d persons (%d created, %d merged away by %d observations)\n",
		run.observations, st.Persons, run.created, run.mergedAway, run.mergeEvents)
	drops := 0
	for _, n := range run.drops {
		drops += n
	}
	fmt.Fprintf(w, "resolve: %d identifiers dropped to respect limits%s\n", drops, countList(run.drops))
	fmt.Fprintf(w, "resolve: %d values rejected (%d blocked, %d invalid); %d observations had no usable identifier\n",
		run.rejected, run.blocked, run.rejected-run.blocked, run.noIdentifier)
	if len(run.setAside) > 0 {
		fmt.Fprintf(w, "resolve: identifiers of undeclared kinds set aside%s\n", countList(run.setAside))
	}
	fmt.Fprintf(w, "resolve: %d identifiers held, %.1f bytes per identifier (%.1f MiB)\n",
		st.Identifiers, st.BytesPerIdentifier, float64(st.Memory.Total)/(1<<20))
}

// countList formats counts by name as ": a 3, b 1", largest first.
func countList(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	names := slices.Collect(maps.Keys(m))
	slices.SortFunc(names, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	for i, n := range names {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", n, m[n])
	}
	return b.String()
}
