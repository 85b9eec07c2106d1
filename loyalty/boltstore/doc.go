// Package boltstore is the durable loyalty.Store: one bbolt file, with
// group commit.
//
// Every loyalty.Ledger operation ends in Store.Commit, which returns only
// once the operation is on disk (bbolt syncs the file when a write
// transaction commits). Syncing once per operation would cap throughput
// at the disk's sync rate, so Commit hands its writes to a single
// committer goroutine that drains every commit waiting at that moment into
// one bbolt transaction, syncs once, and then releases all their callers:
// while one batch syncs, the next one gathers. Latency stays about one or
// two syncs, and throughput grows with the number of concurrent callers
// (operations on different members; the Ledger serialises each member).
// The callers a commit releases come back a moment later with their next
// operation, so the committer holds a batch open for them (at most as long
// as the last commit took, Options.MaxGather at most): otherwise the
// callers split into cohorts that take turns, each sync carrying half of
// them.
//
// The cost of a batch is the pages it dirties: each operation writes its
// member's leaf and its transaction ID's leaf, about 2.3 pages (9 KiB) an
// operation once members are spread over a large file, so at 10,000
// operations a second the disk takes about 90 MiB/s of page writes plus
// two syncs a batch.
//
// The callers' reads are bbolt read transactions, which run in parallel
// with the committer: an operation reads its member's account (and
// document); it does not read the transaction index first, since the
// committer, which looks each ID up anyway, refuses one already recorded.
// Reads and the committer's lookups go through one cursor each, whose
// path from the root is reused rather than allocated per lookup.
//
// Layout: bucket "tx" maps transaction IDs to their records; bucket "m"
// holds, under a 4-byte big-endian member ID prefix, the account ("a"),
// documents ("d" + key) and entries ("e" + 8-byte sequence number), so
// one operation dirties few pages and a member's entries read in order.
//
// A Store is safe for concurrent use. Only one process may open a file at
// a time (bbolt holds a file lock).
//
// # Caveats
//
// A crash loses no acknowledged commit and never leaves part of one: a
// batch is one bbolt transaction. Commits in the batch of a failed sync
// all fail, and none of them is applied.
package boltstore
