// Package segment is the member index of cdpkit and the language operators
// use to pick audiences from it.
//
// An Index holds, for dense uint32 member IDs, one roaring bitmap per tag and
// per value of an enumerated tag, a bit-sliced index (BSI) per numeric
// attribute, and one bitmap per event type per day for activity windows.
// Audience expressions are written in CEL syntax (tag("vip") &&
// spend_90d >= 50000 && !active("purchase", "30d")), compiled once against
// the index's fields into a bitmap plan, and answered with whole-bitmap
// operations: counts, member bitmaps, ordered iteration, paging, TopN and
// sums within an audience, enter/exit diffs between versions, deterministic
// A/B splits and snapshots in the portable Roaring format.
package segment
