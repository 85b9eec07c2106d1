// Package segment is the member index of cdpkit and the language operators
// use to pick audiences from it.
//
// There are only a few types: Index, Tx, View, Plan and Split. An Index
// holds declared fields over dense uint32 member IDs — tags (a bitmap each),
// enums (a bitmap per value, at most one value per member), signed int64
// attributes (bit-sliced indexes with an existence bitmap) and event types
// (a bitmap per calendar day, in the index's location) — plus saved
// segments. Writes go through Index.Update, whose Tx declares fields, adds
// and removes single members, replaces whole fields from bitmaps or dense
// columns, merges and erases members, and saves segments; all of a
// transaction's changes appear at once when it returns nil. Index.View
// returns an immutable version: reading it, however long, never blocks
// writers and never sees them.
//
// A Plan is an audience: a boolean combination of tags, enum values, int
// comparisons, ranges and IN lists, activity windows and saved-segment
// references, built in Go (Tag, Cmp, And, Not, …) or compiled from a
// CEL-syntax expression by Compile:
//
//	tag("chronic:diabetes") && tier == "gold" && spend_90d >= 50000 &&
//	    !active("contacted", "7d") && segment("refill_due")
//
// Plans name fields rather than hold data; a View binds a plan to its
// bitmaps, checks names and kinds, and answers Count, Bitmap, IDs (an
// iter.Seq in increasing order), Page, TopN of an enum, IntStats (count,
// sum, min, max) of an attribute, Split into A/B arms and Export as
// portable Roaring bytes; Diff compares two views. View.WriteTo and
// ReadSnapshot (SaveFile and LoadFile for files) persist a version.
//
// # Concurrency
//
// Index, View, Plan and Split are safe for concurrent use. Writers take
// turns inside Update; a Tx belongs to its Update call and one goroutine.
// Views are copy-on-write versions: a transaction copies only the 64Ki-member
// chunks it changes, and publishing a version is one atomic pointer swap.
//
// # Costs
//
// Bitmaps are kept in roaring's layout (chunks of 2^16 members as sorted
// arrays or 8 KiB of bits), in containers of this package's own so that
// versions share chunks and so that a plan is evaluated chunk by chunk:
// every operator of an expression combines one chunk of its inputs in
// cache-resident scratch words, and chunks are spread over all cores. A
// count is never materialised: a single tag is answered from stored
// cardinalities, a negation as the universe less what it negates, and an
// AND fuses its last step with the popcount. AND terms run smallest first,
// negations become AND-NOTs, empty terms short-circuit, comparisons on one
// attribute merge into one range, and ranges are walked within the AND's
// running result. Int comparisons use O'Neil's bit-plane algorithm, whose
// cost grows with the bits of the values (7 planes for ages, about 24 for
// spend in fen), not with their count; a member leaves the walk once its
// comparison is decided, and on amd64 with AVX2 the per-plane step is
// assembly (build with -tags purego for the Go kernels alone). Chunks go
// to workers in small batches from a shared counter, the calling goroutine
// among them, so a core busy elsewhere delays no one; a query whose work is
// a few chunks (a 2-tag count up to about 1M members) runs on the caller
// alone. Each version keeps the plans it has prepared (bound and
// optimised), so asking the same Plan again costs no planning and, for a
// count, no allocation. A dense tag costs its raw bit size:
// 1.25 MB per 10M members. Bulk loads (ReplaceTag, ReplaceTagWords,
// ReplaceEnumColumn, ReplaceIntColumn) build chunks in parallel.
//
// # Caveats
//
//   - Negations are relative to the index's universe: every member any
//     field has held, plus those added with AddMembers, less erased ones.
//   - A member without a value of an int or enum field matches no
//     comparison on it, != included; !(x == 5) does match it.
//   - x in [18, 35] is CEL list membership (18 or 35); ranges are
//     between(x, 18, 35) or x >= 18 && x <= 35.
//   - Activity windows end on a view's as-of day (View.At); evaluating
//     active() on a view without one is ErrNoAsOf.
//   - Each Update copies the chunks it touches once, so many small writes
//     belong in one Update; a long-held view keeps the chunks changed since
//     in memory.
//   - Sums larger than int64 are ErrOverflow.
package segment
