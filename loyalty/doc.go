// Package loyalty runs a member programme: tiers by growth value, a points
// ledger with lots, expiry and refunds, paid membership with its money-back
// guarantee, and stored-value accounts.
//
// There are few types. A Config is the programme's rules as a plain struct
// (or JSON, via ParseProgram); NewProgram validates it into an immutable
// Program. A Ledger applies operations — Order, Refund, Redeem, Reverse,
// Adjust, Settle, Evaluate, BuyCard, RenewCard, CancelCard, TopUp, Spend,
// RefundSpend, Withdraw and Merge, all implementing Op — to members'
// accounts kept in a Store, and returns a Receipt: the append-only Entries
// the operation wrote, the Events it raised and the Totals after it;
// ApplyBatch applies a slice of them, for replays. Balance reads a member's position at any as-of time; Audit recomputes
// every balance from the entries and compares.
//
// Points live in lots, one per order (or positive adjustment), each with
// its own pending period and expiry (N months on, to the end of that day,
// month or year in the programme's zone). Redemptions take the
// earliest-expiring lots first and record which; a refund reverses the
// points its lines earned (recomputed on what is left of the order, so
// partial refunds add up exactly) and restores points paid on the order to
// their original lots, where already-expired ones expire again at once.
// Points that were spent before their order was refunded are taken from
// other lots or, failing that, recorded as a debt the next points pay
// off. Every operation first settles the account to its own time:
// pending points mature, lots expire, notices go out, ended card periods
// settle. Settle and Evaluate, run over all members by SettleAll and
// EvaluateAll, do the same for members with no activity.
//
// Every operation carries a transaction ID. Applying an ID again returns
// the original Receipt (Replayed set); the same ID with different content
// fails with a *ConflictError; a failed operation records nothing.
// Money is int64 fen, points int64, members dense uint32, and time always
// explicit: nothing reads the clock.
//
// When identity resolution finds that two member IDs are one person,
// Merge moves the loser's account into the survivor's in one atomic
// commit — lots with their expiry, debt, growth by day, card periods,
// stored value — writing merge_out and merge_in entries on both ledgers,
// and closes the loser: operations naming it fail with a *MergedError that
// names the survivor. The loser's orders, redemptions and spends stay
// refundable through the survivor.
//
// HistoryRules bound how far back an operation may reach: refunds and
// reversals within RefundDays of their order or redemption, operations
// dated at most LateDays before the account's latest one (both default to
// 366 days). They keep accounts bounded: after each operation the account
// drops the lots and growth days that nothing the rules accept can reach
// any more. The entries are never touched, and every receipt, balance
// and audit is the same as without this compaction (Options.NoCompaction).
//
// # Concurrency and cost
//
// A Program is immutable and a Ledger is safe for concurrent use:
// operations on one member are serialised from reading the account to the
// commit (a Merge holds both members) and operations on different members
// run in parallel. The durable store (package loyalty/boltstore, on
// bbolt) batches concurrent commits into one synced transaction, so each
// call returns once its entries are on disk while throughput grows with
// concurrency. There an operation decodes its member's account, changes
// it and writes it back whole, so its CPU cost grows with what the
// account holds — the lots with points left or within the refund window,
// the purchase days of one growth window plus LateDays, and the card
// periods — and stays flat however long the member's history
// (BenchmarkApplyWithHistory).
//
// NewMemStore keeps everything in memory, for tests and for replays. A
// Ledger on a MemStore keeps each account decoded between operations and
// changes it in place, and the store appends entries, documents and
// transaction records to chunked logs in their encoded form: an operation
// decodes and re-encodes nothing but its own records, allocates little
// beyond its Receipt, and leaves about half a kilobyte per order in
// memory (BenchmarkReplay). ApplyBatch replays a slice of operations
// with members spread over all cores and builds no receipts, which makes
// it the cheapest way to load history.
//
// An operation on a survivor that names an order, redemption or spend it
// does not hold reads one record per member merged into it.
//
// # Caveats
//
// Operations apply in arrival order; their times drive windows and expiry
// but do not reorder them, so an order that arrives late earns a lot with
// its own (earlier) expiry and does not revise earlier redemptions. An
// operation dated more than HistoryRules.LateDays before the account's
// latest one is refused (ErrTooLate), and a Balance as of such a time
// shows growth value only from the days the account still holds. Events
// reach the Notifier after the commit; a crash in between loses the call
// but not the events, which the replayed Receipt carries again.
//
// A MemStore keeps every entry, document and transaction record for
// good, as a durable store does: a replay's memory grows with the number
// of operations, not of members. In an ApplyBatch, as between concurrent
// Apply calls, which of two operations on different members sharing a
// transaction ID is recorded depends on timing.
//
// Merges are final: an identity split does not move points back. If a
// survivor and a loser recorded the same order ID, a refund of it through
// the survivor finds the survivor's own order. Card periods are never
// compacted (Balance lists them all); a monthly card adds twelve a year.
package loyalty
