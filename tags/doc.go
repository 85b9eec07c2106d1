// Package tags defines member tags as CEL rules over a declared member
// schema and keeps the member bitmaps of every tag current in a
// segment.Index.
//
// A Schema declares the fields of the member record; rules are type-checked
// against it when a tag is defined, so typos and type errors surface with the
// rule name and line:column before anything runs. Tags are boolean rules,
// enumerated tags (ordered cases, first match wins), tags built on other tags
// (a DAG evaluated in topological order) and manual tags. Evaluation runs in
// batch over all members on all cores, or incrementally for one member, and
// rules whose leaves the index already holds are pushed down to bitmap
// operations instead of being interpreted member by member. Time functions
// take an explicit as-of time and the tenant's time zone.
package tags
