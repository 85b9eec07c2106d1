// Package harness measures benchmark cases and reports them: the part of
// cdpbench that knows nothing about cdpkit or its peers.
//
// A Case is one piece of work with several Impls, cdpkit's first. A Runner
// runs each once to warm up and checks its Answer against the first
// implementation's (a count, a member set, values per position or a
// partition), then takes timed runs in rounds that rotate the order of the
// implementations, with a garbage collection before each run and the Go heap
// sampled during it. Work quicker than a few milliseconds is repeated within
// a run. Loads are timed once each, with the memory their data holds.
//
// Results go out as JSON lines (WriteJSON, the contract in DESIGN.md), an
// aligned table (WriteTable), a log–log chart drawn as plain SVG (WriteSVG)
// and BENCHMARKS.md (WriteMarkdown). Progress shows how far data generation
// and loading have got on stderr.
//
// A Runner is used by one goroutine; cases run one after another so they do
// not compete for the cores.
package harness
