// Package suite holds cdpbench's benchmark suites: for each of cdpkit's
// packages, the data it is measured on, the work each case does, cdpkit's
// way of doing it and the peers' ways.
//
// A Suite generates its data from internal/synth under a fixed seed (Seed),
// on all cores in chunks of members whose results are joined in member
// order, so that every run and every implementation sees the same members.
// It then loads the data into each implementation (timed as the "load"
// case: DuckDB through its appender, in process and in memory; cdpkit
// through its bulk paths) and hands each Case to a harness.Runner, which
// checks every peer's answer against cdpkit's and times them alternately.
//
// The peers are what a team would use instead of cdpkit: DuckDB (SQL over
// boolean and numeric columns, GROUP BY with NTILE, connected components by
// label propagation), expr-lang and cel-go for rules, and plain Go written
// the way a good Go programmer would (bit arrays ANDed and counted, []bool
// scans, a map-based union-find, hand-written closures). Each peer is given
// its data in its own natural form, prepared before timing; where a peer gets
// an easier job than cdpkit (identity's peers start from interned integers,
// cdpkit from raw strings) the case's description says so.
//
// Suites run one at a time and free their data before the next starts.
// At 10M members the rfm suite peaks at about 15 GiB resident (168M
// transactions, in Go columns and in DuckDB) and the identity suite at
// about 20 GiB (36M observations as cdpkit takes them, the peers' interned
// graph and DuckDB's copy); cdpbench sets a soft memory limit at 85% of the
// machine so that the collector works harder instead of doubling the heap.
// DuckDB's connected components are the slowest work by far: at 10M
// members a single run takes well over half an hour on two cores.
package suite
