// Package tags defines member tags ("用户标签") as CEL rules over a declared
// member schema and keeps the member bitmaps of every tag current in a
// segment.Index.
//
// There are a few types. A Schema declares the member record's fields and
// their types; a Record holds one member's values. A Set holds a tenant's
// tag Definitions, each compiled into a Tag: boolean rules, enumerated tags
// (ordered cases, first match wins, optional default; or an expression
// returning one of the declared values), tags built on other tags with
// has_tag (a DAG; a cycle is rejected naming it), and manual tags set by
// API. Rules are type-checked when defined: a typo in a field name,
// comparing a double with an int literal, or a rule of the wrong result
// type is a *CompileError with the rule's name and line:column.
//
// Data flows one way. Set.Refresh evaluates rule tags at a Clock (an
// explicit as-of time and the tenant's time zone) over an iter.Seq of
// Records on all cores and replaces the tags' bitmaps in the index in one
// transaction; readers see the old tags or the new, never a mix. Rules whose
// leaves the index already holds (fields declared AsInt, AsEnum or AsDay
// and loaded with Schema.LoadIndex, and other tags) are pushed down: they
// become segment plans, one bitmap operation per leaf for all members,
// instead of one evaluation per member; Set.Path and Set.Plans show which.
// Set.ApplyMember re-evaluates one member and reports the tags it gained
// and lost; Set.Explain says why a member has a tag; each refresh is a
// Version, and the previous one stays readable until released. For one rule
// without a Set, Schema.Compile and an Evaluator do the same per record.
//
// # Absent values
//
// A field a record does not set is absent, not zero. Reading it is a
// runtime error, exactly like an unbound variable in CEL: `orders_90d == 0`
// is neither true nor false for a member without orders_90d. CEL's && and ||
// absorb such errors when the other side decides (false && error is false,
// true || error is true); otherwise the rule errs and the member is left
// untagged, and the tag's Stats count it as Missing. present(field) tests
// for a value: write `!present(orders_90d) || orders_90d < 3` to treat
// absence as zero. The push-down path reproduces these semantics exactly:
// each sub-expression is evaluated to the bitmap of members for which it is
// true and the bitmap for which it is false (the rest err), and a
// comparison is false only for members that have a value. A property test
// checks that both paths give identical bitmaps on random rules and data.
//
// # Time
//
// days_since(ts), days_until(ts), hours_since(ts), years_since(ts),
// in_last(ts, duration) and as_of() read the evaluation's Clock, passed at
// evaluation time, never folded into the rule. days_since counts calendar
// days in the tenant's zone: from 2024-01-01 23:00 to 2024-03-01 00:30 in
// Asia/Shanghai is 60 days, and 23:30 on 2024-03-09 to 23:30 on 2024-03-10
// in America/New_York is one day although only 23 hours pass. year, month,
// day, weekday (0 is Sunday), hour and day_of_year give date parts in the
// tenant's zone; days(n) and hours(n) make durations. Zones come from
// LoadLocation, which loads each once.
//
// # Concurrency and costs
//
// Schema, Rule, Tag and Version are immutable and safe for concurrent use;
// a Set is safe for concurrent use, and a refresh works on the definitions
// it started with. An Evaluator belongs to one goroutine. Compiling a rule
// costs about half a millisecond (cel-go parses and checks it); most rules
// then run as Go closures compiled from the checked expression, tens of
// nanoseconds per member without allocation (PathCompiled). Rules with
// a comprehension nested in another, or functions the compiled path lacks,
// run on cel-go's interpreter under its cost limit (PathCEL, Config.CostLimit,
// DefaultCostLimit), which stops runaway rules with an ErrCostLimit for that
// member. Runtime errors never stop a batch; each tag keeps counts and the
// lowest member IDs as samples.
//
// # Caveats
//
// Pushed-down tags read attributes from the index, not from the records
// given to Refresh: load changed records with Schema.LoadIndex first, with
// the Location of the refresh's Clock. Double, list and map fields are not
// indexed, so rules on them run per member. Refresh copies each record
// before the sequence resumes, so a producer may reuse one Record, but list
// and map values are shared and must not change until Refresh returns.
package tags
