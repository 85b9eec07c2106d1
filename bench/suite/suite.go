package suite

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/cdpkit/cdpkit/bench/harness"
)

// Seed is the default seed of the generated data: the same for every run, so
// figures from different days describe the same members.
const Seed = 20261001

// Env is what a suite runs with.
type Env struct {
	// Seed selects the generated data.
	Seed uint64
	// Members is the number of members to generate.
	Members int
	// Runner measures the cases and collects their results.
	Runner *harness.Runner
	// Progress shows data generation and loading; nil shows nothing.
	Progress *harness.Progress
	// TempDir holds files a suite writes (the durable ledger); the caller
	// removes it.
	TempDir string
	// Short asks for the smallest work that still checks every peer, for
	// tests: fewer operations per case where a case has a count of its own.
	Short bool

	chunk int // members per generation chunk; 0 means defaultChunk
}

// Suite is a named group of cases sharing one data set.
type Suite struct {
	Name string
	// Run generates the suite's data, loads it into every implementation
	// and measures each case through env.Runner.
	Run func(ctx context.Context, env *Env) error
	// Cases describe what each case measures, for BENCHMARKS.md.
	Cases []harness.CaseDoc
	// Goals are the design's targets for the suite's cases.
	Goals []harness.Goal
}

// All returns every suite in the order they are run.
func All() []Suite {
	return []Suite{segmentSuite(), tagsSuite(), identitySuite(), rfmSuite(), loyaltySuite()}
}

// Names lists the suites' names.
func Names() []string {
	var out []string
	for _, s := range All() {
		out = append(out, s.Name)
	}
	return out
}

// Select returns the suites named in a comma-separated list, in the order
// All gives them; "all" or "" selects every suite.
func Select(list string) ([]Suite, error) {
	all := All()
	if list == "" || list == "all" {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.ContainsFunc(all, func(s Suite) bool { return s.Name == n }) {
			return nil, fmt.Errorf("unknown suite %q (have %s)", n, strings.Join(Names(), ", "))
		}
		want[n] = true
	}
	var out []Suite
	for _, s := range all {
		if want[s.Name] {
			out = append(out, s)
		}
	}
	return out, nil
}

// Docs returns the case descriptions of the given suites.
func Docs(ss []Suite) []harness.CaseDoc {
	var out []harness.CaseDoc
	for _, s := range ss {
		out = append(out, s.Cases...)
	}
	return out
}

// Goals returns the goals of the given suites.
func Goals(ss []Suite) []harness.Goal {
	var out []harness.Goal
	for _, s := range ss {
		out = append(out, s.Goals...)
	}
	return out
}

// PeerVersions names the peers' versions for the report: DuckDB's engine
// and the Go modules of every peer, as built into this binary.
func PeerVersions(ctx context.Context) []string {
	var out []string
	if db, err := openDuck(); err == nil {
		out = append(out, "DuckDB "+db.version(ctx))
		db.Close()
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/duckdb/duckdb-go/v2", "github.com/expr-lang/expr", "cel.dev/cel-go",
				"github.com/RoaringBitmap/roaring/v2", "go.etcd.io/bbolt":
				out = append(out, d.Path+" "+d.Version)
			}
		}
	}
	return out
}
