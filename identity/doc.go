// Package identity resolves a customer's many identifiers (phone, WeChat
// OpenID and UnionID, Alipay ID, member card, platform and device IDs) into
// one person with a dense uint32 ID: OneID.
//
// The host declares identifier kinds with a normaliser, blocked values, a
// per-person limit and a priority. A Resolver takes observations (the
// identifiers seen together in one event), links and merges persons under
// those rules so that a shared store phone or tablet cannot glue thousands of
// customers into one "blob person", records the evidence behind every merge
// and rejected link, and can split a person by removing bad evidence and
// replaying the rest, or erase a person entirely.
package identity
