package suite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"

	"github.com/cdpkit/cdpkit/bench/harness"
	"github.com/cdpkit/cdpkit/internal/synth"
)

// noPerson labels the observations that carry no valid identifier: every
// implementation must leave them unresolved, and they form one group of the
// partition.
const noPerson = ^uint32(0)

// identityConfig is the chain the identity suite resolves. The shared store
// phones and store kiosks are left out: with them, cdpkit's per-kind limits
// rightly refuse links that plain connected components would follow, and
// the peers could not compute the same answer. Junk values and phone
// numbers in many formats stay in, so every implementation normalises and
// filters.
var identityConfig = synth.Config{SharedPhoneShare: -1, SharedDeviceShare: -1}

// idData is the identity suite's data in the peers' form: each
// observation's identifiers normalised, junk dropped and interned to dense
// node IDs, in compressed-sparse-row layout.
type idData struct {
	members int
	off     []uint32 // observation i's nodes are nodes[off[i]:off[i+1]]
	nodes   []uint32
	nNodes  int
}

func (d *idData) obs() int { return len(d.off) - 1 }

// peerNormalize returns the canonical form of an identifier for the peers,
// written independently of cdpkit's normalisers so that the answer check
// also checks them: mainland mobile numbers to 11 digits (country code
// +86, 0086 or 86 and separators removed), device IDs in lower case, other
// values trimmed. ok is false for an invalid value or a junk placeholder.
func peerNormalize(kind, value string) (string, bool) {
	v := strings.TrimSpace(value)
	switch kind {
	case synth.KindPhone:
		var b [24]byte
		d := b[:0]
		for _, c := range v {
			switch {
			case c >= '0' && c <= '9':
				if len(d) == len(b) {
					return "", false
				}
				d = append(d, byte(c))
			case c == ' ' || c == '-' || c == '+' || c == '(' || c == ')' || c == '.':
			default:
				return "", false
			}
		}
		switch {
		case len(d) == 15 && string(d[:4]) == "0086":
			d = d[4:]
		case len(d) == 13 && string(d[:2]) == "86":
			d = d[2:]
		}
		if len(d) != 11 || d[0] != '1' || d[1] < '3' || d[1] > '9' {
			return "", false
		}
		v = string(d)
	case synth.KindDeviceID:
		v = strings.ToLower(v)
	}
	if isJunk(v) {
		return "", false
	}
	return v, true
}

var junkValues = func() map[string]bool {
	m := map[string]bool{}
	for _, v := range synth.JunkValues() {
		m[strings.ToLower(v)] = true
	}
	return m
}()

func isJunk(v string) bool { return junkValues[strings.ToLower(v)] }

// idKey is a 128-bit hash of a normalised identifier (kind, scope, value):
// interning by hash keeps 10^8 identifiers in memory where their strings
// would not fit, and two 64-bit hashes under independent seeds make a
// collision (which would show as a mismatch, not a wrong figure) as likely
// as 2^-75 at 10^8 identifiers.
type idKey [2]uint64

type idHasher struct{ s1, s2 maphash.Seed }

func (h idHasher) key(id synth.Identifier, norm string) idKey {
	var a, b maphash.Hash
	a.SetSeed(h.s1)
	b.SetSeed(h.s2)
	for _, x := range []*maphash.Hash{&a, &b} {
		x.WriteString(id.Kind)
		x.WriteByte(0)
		x.WriteString(id.Scope)
		x.WriteByte(0)
		x.WriteString(norm)
	}
	return idKey{a.Sum64(), b.Sum64()}
}

// idChunk is one chunk of members' observations, hashed in parallel before
// the keys are interned in order.
type idChunk struct {
	counts []uint8 // valid identifiers per observation
	keys   []idKey
}

// genIdentity generates the observations, normalises and interns their
// identifiers for the peers and, when sink is not nil, hands each
// observation of chunk k (in member order within the chunk) to sink(k), so
// that cdpkit's side can keep them in its own form from the same walk.
func genIdentity(ctx context.Context, env *Env, sink func(k int) func(o *synth.Observation)) (*idData, error) {
	g, err := newGenerator(env, identityConfig)
	if err != nil {
		return nil, err
	}
	h := idHasher{maphash.MakeSeed(), maphash.MakeSeed()}
	n := env.Members
	task := env.Progress.Start(fmt.Sprintf("identity: generating observations of %s members", harness.FormatCount(int64(n))), int64(n))
	parts, err := perChunk(ctx, env, task, func(lo, hi uint32) (idChunk, error) {
		var c idChunk
		var keep func(o *synth.Observation)
		if sink != nil {
			keep = sink(int(lo) / chunkOf(env))
		}
		for o := range g.ObservationsRange(lo, hi) {
			if keep != nil {
				keep(&o)
			}
			k := 0
			for _, id := range o.IDs {
				if v, ok := peerNormalize(id.Kind, id.Value); ok {
					c.keys = append(c.keys, h.key(id, v))
					k++
				}
			}
			c.counts = append(c.counts, uint8(k))
		}
		// Cut the slices to size: at 10M members the slack of append's
		// doubling alone would be gigabytes.
		c.counts, c.keys = slices.Clone(c.counts), slices.Clone(c.keys)
		return c, nil
	})
	task.Done()
	if err != nil {
		return nil, err
	}
	d := &idData{members: n, off: []uint32{0}}
	intern := make(map[idKey]uint32)
	task = env.Progress.Start("identity: interning identifiers", int64(len(parts)))
	for i := range parts {
		c := &parts[i]
		at := 0
		for _, k := range c.counts {
			for _, key := range c.keys[at : at+int(k)] {
				node, ok := intern[key]
				if !ok {
					node = uint32(len(intern))
					intern[key] = node
				}
				d.nodes = append(d.nodes, node)
			}
			at += int(k)
			d.off = append(d.off, uint32(len(d.nodes)))
		}
		*c = idChunk{}
		task.Add(1)
	}
	task.Done()
	d.nNodes = len(intern)
	return d, nil
}

// mapUnionFind is the union-find a Go programmer writes first: parent and
// size in maps keyed by node, union by size, path halving.
type mapUnionFind struct {
	parent map[uint32]uint32
	size   map[uint32]uint32
}

func (u *mapUnionFind) find(x uint32) uint32 {
	p, ok := u.parent[x]
	if !ok {
		u.parent[x], u.size[x] = x, 1
		return x
	}
	for p != x {
		gp := u.parent[p]
		u.parent[x] = gp
		x, p = gp, u.parent[gp]
	}
	return x
}

func (u *mapUnionFind) union(a, b uint32) {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return
	}
	if u.size[ra] < u.size[rb] {
		ra, rb = rb, ra
	}
	u.parent[rb] = ra
	u.size[ra] += u.size[rb]
}

// unionFind resolves every observation and returns the person label of
// each (the root of its first node) and the number of persons.
func unionFind(d *idData) (labels []uint32, persons int64) {
	u := &mapUnionFind{parent: make(map[uint32]uint32), size: make(map[uint32]uint32)}
	for i := range d.obs() {
		ns := d.nodes[d.off[i]:d.off[i+1]]
		for _, x := range ns {
			u.union(ns[0], x)
		}
	}
	labels = make([]uint32, d.obs())
	for i := range labels {
		if d.off[i] == d.off[i+1] {
			labels[i] = noPerson
			continue
		}
		labels[i] = u.find(d.nodes[d.off[i]])
	}
	for x, p := range u.parent {
		if x == p {
			persons++
		}
	}
	return labels, persons
}

// loadDuckIdentity loads the edges: for each observation, one row from its
// first identifier to each of its identifiers (itself included, so an
// observation with one identifier still names its node), and the first
// node of each observation.
func loadDuckIdentity(ctx context.Context, env *Env, db *duck, d *idData) error {
	if err := db.exec(ctx, "CREATE TABLE edges (a UINTEGER, b UINTEGER); CREATE TABLE obs_first (obs UINTEGER, node UINTEGER)"); err != nil {
		return err
	}
	task := env.Progress.Start("identity: loading DuckDB edges", int64(len(d.nodes)))
	obsOf := make([]uint32, len(d.nodes))
	for i := range d.obs() {
		for j := d.off[i]; j < d.off[i+1]; j++ {
			obsOf[j] = uint32(i)
		}
	}
	err := db.appendRows(ctx, "edges", 2, len(d.nodes), task, func(j int, vals []driver.Value) {
		vals[0] = d.nodes[d.off[obsOf[j]]]
		vals[1] = d.nodes[j]
	})
	task.Done()
	if err != nil {
		return err
	}
	var firsts []int
	for i := range d.obs() {
		if d.off[i] < d.off[i+1] {
			firsts = append(firsts, i)
		}
	}
	return db.appendRows(ctx, "obs_first", 2, len(firsts), nil, func(k int, vals []driver.Value) {
		i := firsts[k]
		vals[0] = uint32(i)
		vals[1] = d.nodes[d.off[i]]
	})
}

// duckComponents computes connected components in SQL, the way an analyst
// who knows the literature would: label propagation with hooking and
// pointer jumping, after Shiloach and Vishkin (1982). Every node's label
// starts as the least ID among itself and its neighbours. Each round, every
// label (a node that heads a tree of nodes pointing at it) hooks onto the
// least label seen across the edges of its tree, then every node jumps to
// its label's label. Plain propagation (take the least neighbouring label)
// needs as many rounds as the longest path, hundreds on chains of merged
// profiles; hooking and jumping need a logarithmic number. Labels only
// decrease, so a round that leaves their sum unchanged changed nothing and
// ends the loop. It runs on one connection and leaves table lbl.
func duckComponents(ctx context.Context, conn *sql.Conn) (rounds int, err error) {
	exec := func(q string) error {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("duckdb: %w\n%s", err, q)
		}
		return nil
	}
	sum := func(table string) (int64, error) {
		var s sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT sum(label) FROM "+table).Scan(&s); err != nil {
			return 0, fmt.Errorf("duckdb: %w", err)
		}
		return s.Int64, nil
	}
	if err := exec(`CREATE OR REPLACE TABLE und AS
		SELECT a AS src, b AS dst FROM edges
		UNION ALL SELECT b, a FROM edges WHERE a <> b
		UNION ALL SELECT b, b FROM edges WHERE a <> b`); err != nil {
		return 0, err
	}
	if err := exec(`CREATE OR REPLACE TABLE lbl AS SELECT src AS id, min(dst) AS label FROM und GROUP BY src`); err != nil {
		return 0, err
	}
	prev, err := sum("lbl")
	if err != nil {
		return 0, err
	}
	for {
		rounds++
		if err := exec(`CREATE OR REPLACE TABLE nxt AS
			WITH hook AS (
				SELECT lu.label AS id, min(lv.label) AS label
				FROM und e JOIN lbl lu ON lu.id = e.src JOIN lbl lv ON lv.id = e.dst
				GROUP BY lu.label),
			h AS (
				SELECT l.id, least(l.label, coalesce(k.label, l.label)) AS label
				FROM lbl l LEFT JOIN hook k ON k.id = l.id)
			SELECT h.id, j.label FROM h JOIN h j ON j.id = h.label`); err != nil {
			return rounds, err
		}
		s, err := sum("nxt")
		if err != nil {
			return rounds, err
		}
		if err := exec(`DROP TABLE lbl; ALTER TABLE nxt RENAME TO lbl`); err != nil {
			return rounds, err
		}
		if s == prev {
			return rounds, nil
		}
		prev = s
	}
}

func duckResolveImpl(db *duck, d *idData) harness.Impl {
	run := func(ctx context.Context, full bool) (harness.Answer, error) {
		conn, err := db.db.Conn(ctx)
		if err != nil {
			return harness.Answer{}, err
		}
		defer conn.Close()
		if _, err := duckComponents(ctx, conn); err != nil {
			return harness.Answer{}, err
		}
		var persons int64
		if err := conn.QueryRowContext(ctx, "SELECT count(DISTINCT label) FROM lbl").Scan(&persons); err != nil {
			return harness.Answer{}, fmt.Errorf("duckdb: %w", err)
		}
		ans := harness.Answer{Count: persons}
		if !full {
			return ans, nil
		}
		ans.Partition = slices.Repeat([]uint32{noPerson}, d.obs())
		rows, err := conn.QueryContext(ctx, "SELECT o.obs, l.label FROM obs_first o JOIN lbl l ON l.id = o.node")
		if err != nil {
			return harness.Answer{}, fmt.Errorf("duckdb: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var obs, label uint32
			if err := rows.Scan(&obs, &label); err != nil {
				return harness.Answer{}, fmt.Errorf("duckdb: %w", err)
			}
			ans.Partition[obs] = label
		}
		return ans, rows.Err()
	}
	return harness.Impl{
		Name: "duckdb",
		Run:  func(ctx context.Context) (harness.Answer, error) { return run(ctx, false) },
		Full: func(ctx context.Context) (harness.Answer, error) { return run(ctx, true) },
	}
}

func unionFindImpl(d *idData) harness.Impl {
	return harness.Impl{
		Name: "unionfind",
		Run: func(context.Context) (harness.Answer, error) {
			_, persons := unionFind(d)
			return harness.Answer{Count: persons}, nil
		},
		Full: func(context.Context) (harness.Answer, error) {
			labels, persons := unionFind(d)
			return harness.Answer{Count: persons, Partition: labels}, nil
		},
	}
}

func identitySuite() Suite {
	return Suite{
		Name: "identity",
		Run:  runIdentity,
		Cases: []harness.CaseDoc{
			{Suite: "identity", Case: "load", Text: "duckdb: append the identity graph's edges (from each observation's first " +
				"identifier to each of its identifiers) and each observation's first node."},
			{Suite: "identity", Case: "resolve", Text: "resolve every observation of the chain (about 3.6 per member, 2 " +
				"identifiers each, phones in several formats, 3% junk values) into persons; the answer is the partition of " +
				"observations into persons. cdpkit resolves from the raw identifiers (normalising, blocking junk, interning); " +
				"the peers get them already normalised and interned to integers: unionfind is a union-find over maps, duckdb " +
				"computes connected components by SQL label propagation with hooking and pointer jumping (Shiloach–Vishkin). Shared store phones and kiosk " +
				"devices are left out of this data set, since cdpkit's per-kind limits would (rightly) refuse links that " +
				"plain connected components follow."},
		},
		Goals: []harness.Goal{
			{Suite: "identity", Case: "resolve", Peer: "duckdb", MinRatio: 20, Text: "≥ 20× faster than DuckDB connected components"},
			{Suite: "identity", Case: "resolve", Peer: "unionfind", MinRatio: 1.0 / 3, Text: "within 3× of a plain union-find over pre-interned integer IDs"},
		},
	}
}

func runIdentity(ctx context.Context, env *Env) error {
	cdp := newIDCdpkit(env)
	d, err := genIdentity(ctx, env, cdp.sink)
	if err != nil {
		return err
	}
	db, err := openDuck()
	if err != nil {
		return err
	}
	defer db.Close()
	r := env.Runner
	loaded, err := r.Loads(ctx, "identity", env.Members, []harness.Load{
		{Impl: "duckdb", Run: func(ctx context.Context) (harness.Answer, error) {
			if err := loadDuckIdentity(ctx, env, db, d); err != nil {
				return harness.Answer{}, err
			}
			n, err := db.int64(ctx, "SELECT count(*) FROM edges")
			return harness.Answer{Count: n}, err
		}, Held: db.memory},
	})
	if err != nil {
		return err
	}
	if err := cdp.seal(); err != nil {
		return err
	}
	if cdp.obs != d.obs() {
		return fmt.Errorf("identity: cdpkit holds %d observations, the peers %d", cdp.obs, d.obs())
	}
	impls := []harness.Impl{cdp.resolveImpl(d), unionFindImpl(d)}
	if loaded["duckdb"] {
		impls = append(impls, duckResolveImpl(db, d))
	}
	return r.Run(ctx, harness.Case{Suite: "identity", Name: "resolve", Members: env.Members, Impls: impls})
}
