package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cdpkit/cdpkit/segment"
	"github.com/cdpkit/cdpkit/tags"
)

func init() {
	register(&command{
		name:    "tags eval",
		summary: "evaluate tag rules (CEL) over member records: each member's tags, counts, explanations",
		usage:   "--schema schema.json --rules rules.json|rules.txt [flags] members.jsonl|members.csv|-",
		help: `
Compiles the tags of a rules file against the member schema, reads member
records and evaluates every tag at --as-of, pushing rules on indexed fields
down to bitmaps. Writes each member's tags to standard output (or --out), in
input order:

  --format csv    member,<tag>,<tag>,…  (true/false, or the enumerated value)
  --format long   member,tag,value      one row per tag a member has
  --format jsonl  {"member":7,"tags":{"active":true,"value":"high"}}

and the count of each tag on standard error. --index saves the index (the
tags and the indexed fields) as a segment snapshot for 'cdpkit segment'.
--explain MEMBER:TAG prints why a member has a tag or not instead (MEMBER
alone: every tag), and may be repeated.

Schema file: {"fields":[{"name":"orders_90d","type":"int","index":"int"},…]}
with types int, double, string, bool, timestamp, duration, list, map and
index int, enum or day. Rules file: JSON [{"name":…,"rule":…},…] or the text
form ([name] then rule:, case VALUE:, default:, expr:, values:, manual:,
category:, description: lines). Member records: JSON lines with the member
ID under "member" (--id) and the fields, or CSV with a header (lists a|b,
maps k=3|j=1, empty cells absent). Formats in full are in the README.

Rule compile errors are reported as rules.json:LINE: rule NAME: LINE:COL:
message, all of them, and stop the command (exit 1). A bad member record is
reported as members.jsonl:LINE and skipped; the rest is evaluated and
written, and the exit code is 1. Rules that fail for some members at run
time (a missing field, division by zero) leave them untagged and are
counted on standard error; they do not change the exit code.`,
		flags: func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) error {
			var a tagsArgs
			fs.StringVar(&a.schema, "schema", "", "member schema `file` (JSON)")
			fs.StringVar(&a.rules, "rules", "", "tag rules `file` (JSON or text)")
			fs.StringVar(&a.asOf, "as-of", "", "evaluate at this `time`: RFC 3339, or a day YYYY-MM-DD meaning its end (default: now)")
			fs.StringVar(&a.tz, "tz", "UTC", "the tenant's time zone: calendar days, date parts, times without an offset")
			fs.StringVar(&a.format, "format", "csv", "output: csv (one column per tag), long (member,tag,value) or jsonl")
			fs.StringVar(&a.out, "out", "", "write tags to this `file` instead of standard output")
			fs.StringVar(&a.inFormat, "input-format", "auto", "member records: jsonl, csv or auto (jsonl when the first character is '{')")
			fs.StringVar(&a.idKey, "id", "member", "`key` (JSON) or column (CSV) of the member ID")
			fs.StringVar(&a.manual, "manual", "", "manual tag assignments `file`: CSV member,tag[,value]")
			fs.StringVar(&a.index, "index", "", "save the index (tags and indexed fields) to this snapshot `file`")
			fs.Var(&a.explain, "explain", "print why `MEMBER:TAG` has the tag or not (MEMBER alone: every tag); repeatable")
			fs.BoolVar(&a.check, "check", false, "only compile the rules and report how each tag is evaluated")
			return func(ctx context.Context, e *env, args []string) error {
				if a.schema == "" || a.rules == "" {
					return usagef("--schema and --rules are required")
				}
				if a.check {
					if len(args) != 0 {
						return usagef("--check takes no members file")
					}
				} else if len(args) != 1 {
					return usagef("want one members file (or - for standard input), got %d arguments", len(args))
				}
				switch a.format {
				case "csv", "long", "jsonl":
				default:
					return usagef("--format %q: want csv, long or jsonl", a.format)
				}
				a.members = strings.Join(args, "")
				return tagsEval(ctx, e, &a)
			}
		},
	})
}

type tagsArgs struct {
	schema, rules, asOf, tz, format, out, inFormat, idKey, manual, index, members string
	explain                                                                       listFlag
	check                                                                         bool
}

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// parseAsOf reads an as-of time: RFC 3339, a local date-time, or a day
// (its last instant, so that the whole day counts, as in 'cdpkit rfm').
func parseAsOf(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Now().In(loc), nil
	}
	if d, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return d.AddDate(0, 0, 1).Add(-time.Nanosecond), nil
	}
	t, err := parseTime(s, "", loc)
	if err != nil {
		return time.Time{}, usagef("--as-of %q: want RFC 3339, YYYY-MM-DD hh:mm:ss or YYYY-MM-DD", s)
	}
	return t, nil
}

func tagsEval(ctx context.Context, e *env, a *tagsArgs) error {
	loc, err := tags.LoadLocation(a.tz)
	if err != nil {
		return usagef("--tz %q: %v", a.tz, err)
	}
	asOf, err := parseAsOf(a.asOf, loc)
	if err != nil {
		return err
	}
	clock := tags.Clock{AsOf: asOf, Location: loc}
	schema, err := loadSchema(a.schema)
	if err != nil {
		return err
	}
	src, errs := loadRules(a.rules)
	set := tags.NewSet(schema, nil)
	if src != nil {
		errs = append(errs, src.define(set)...)
	}
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintln(e.stderr, err)
		}
		return fmt.Errorf("%s: %s", a.rules, plural(len(errs), "problem"))
	}
	if a.check {
		return printTagPaths(e.stdout, set, src)
	}

	var in io.Reader = e.stdin
	name := "stdin"
	if a.members != "-" {
		f, err := os.Open(a.members)
		if err != nil {
			return err
		}
		defer f.Close()
		in, name = f, a.members
	}
	bad := &badLines{w: e.stderr, path: name}
	mi := &memberInput{path: name, format: a.inFormat, idKey: a.idKey, loc: loc, schema: schema, bad: bad}
	records, err := mi.readRecords(in)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "tags eval: %d members read from %s, as of %s\n", len(records), name, asOf.Format(time.RFC3339))

	ix := segment.New(&segment.Options{Location: loc})
	if _, err := schema.LoadIndex(ctx, ix, sliceSeq(records), loc); err != nil {
		return err
	}
	badManual := &badLines{w: e.stderr, path: a.manual}
	if a.manual != "" {
		f, err := os.Open(a.manual)
		if err != nil {
			return err
		}
		err = readAssignments(f, a.manual, set, ix, badManual)
		f.Close()
		if err != nil {
			return err
		}
		badManual.more()
	}

	if len(a.explain) > 0 {
		bad.more()
		return explainTags(e.stdout, set, src, ix.View(), clock, records, a.explain)
	}

	next := 1_000_000
	res, err := set.Refresh(ctx, ix, clock, sliceSeq(records), &tags.RefreshOptions{Progress: func(n int) {
		if n >= next {
			fmt.Fprintf(e.stderr, "tags eval: %d of %d members evaluated\n", n, len(records))
			next += 1_000_000
		}
	}})
	if err != nil {
		return err
	}
	for _, err := range res.BadRecords {
		fmt.Fprintf(e.stderr, "%s: %v (record skipped)\n", name, err)
	}
	view := ix.View()
	if err := writeTags(e.stdout, a, set, src, view, records); err != nil {
		return err
	}
	if err := printTagCounts(e.stderr, set, src, res, view, len(records)); err != nil {
		return err
	}
	if a.index != "" {
		if err := view.SaveFile(a.index); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "tags eval: index saved to %s\n", a.index)
	}
	bad.more()
	if n := bad.n + badManual.n + res.BadCount; n > 0 {
		return fmt.Errorf("%d bad records (reported above); the rest were evaluated", n)
	}
	return nil
}

// sliceSeq walks records in order.
func sliceSeq(records []*tags.Record) func(func(*tags.Record) bool) {
	return func(yield func(*tags.Record) bool) {
		for _, r := range records {
			if !yield(r) {
				return
			}
		}
	}
}

func printTagPaths(w io.Writer, set *tags.Set, src *ruleSource) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "tag\tkind\tevaluated\tvalues")
	for _, d := range src.defs {
		t, _ := set.Tag(d.Name)
		path := "manual"
		if p := set.Path(d.Name); p != 0 {
			path = p.String()
		}
		if why := t.Why(); why != "" {
			path += " (" + why + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Name, t.Kind(), path, strings.Join(t.Values(), ","))
	}
	return tw.Flush()
}

// tagColumn is one tag's members as the output needs them.
type tagColumn struct {
	name   string
	bool   bool              // a tag without values
	all    *roaring.Bitmap   // members with the tag (bool)
	values []string          // declared values (enumerated)
	byVal  []*roaring.Bitmap // members per value
}

func tagColumns(set *tags.Set, src *ruleSource, view *segment.View) ([]tagColumn, error) {
	var cols []tagColumn
	for _, d := range src.defs {
		t, _ := set.Tag(d.Name)
		c := tagColumn{name: d.Name, values: t.Values(), bool: len(t.Values()) == 0}
		if _, declared := view.Field(d.Name); !declared {
			// a manual tag nobody was given
			c.all = roaring.New()
			for range c.values {
				c.byVal = append(c.byVal, roaring.New())
			}
			cols = append(cols, c)
			continue
		}
		var err error
		if c.bool {
			c.all, err = view.Tag(d.Name)
		} else {
			for _, v := range c.values {
				var bm *roaring.Bitmap
				if bm, err = view.EnumValue(d.Name, v); err != nil {
					break
				}
				c.byVal = append(c.byVal, bm)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("tag %q: %w", d.Name, err)
		}
		cols = append(cols, c)
	}
	return cols, nil
}

// value returns the member's value of the tag: "" and false when it does
// not have it.
func (c *tagColumn) value(id uint32) (string, bool) {
	if c.bool {
		return "", c.all.Contains(id)
	}
	for i, bm := range c.byVal {
		if bm.Contains(id) {
			return c.values[i], true
		}
	}
	return "", false
}

func writeTags(stdout io.Writer, a *tagsArgs, set *tags.Set, src *ruleSource, view *segment.View, records []*tags.Record) (err error) {
	cols, err := tagColumns(set, src, view)
	if err != nil {
		return err
	}
	w := stdout
	if a.out != "" {
		f, err := os.Create(a.out)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = cerr
			}
		}()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	switch a.format {
	case "csv", "long":
		cw := csv.NewWriter(bw)
		header := []string{"member", "tag", "value"}
		if a.format == "csv" {
			header = []string{"member"}
			for _, c := range cols {
				header = append(header, c.name)
			}
		}
		cw.Write(header)
		row := make([]string, len(header))
		for _, rec := range records {
			id := strconv.FormatUint(uint64(rec.ID), 10)
			if a.format == "long" {
				for _, c := range cols {
					if v, ok := c.value(rec.ID); ok {
						cw.Write([]string{id, c.name, v})
					}
				}
				continue
			}
			row[0] = id
			for i, c := range cols {
				v, ok := c.value(rec.ID)
				if c.bool {
					v = strconv.FormatBool(ok)
				}
				row[i+1] = v
			}
			cw.Write(row)
		}
		cw.Flush()
		err = cw.Error()
	case "jsonl":
		var b []byte
		for _, rec := range records {
			b = append(b[:0], `{"member":`...)
			b = strconv.AppendUint(b, uint64(rec.ID), 10)
			b = append(b, `,"tags":{`...)
			first := true
			for _, c := range cols {
				v, ok := c.value(rec.ID)
				if !ok {
					continue
				}
				if !first {
					b = append(b, ',')
				}
				first = false
				key, _ := json.Marshal(c.name)
				b = append(b, key...)
				b = append(b, ':')
				if c.bool {
					b = append(b, "true"...)
				} else {
					val, _ := json.Marshal(v)
					b = append(b, val...)
				}
			}
			b = append(b, "}}\n"...)
			bw.Write(b)
		}
	}
	return errors.Join(err, bw.Flush())
}

func printTagCounts(w io.Writer, set *tags.Set, src *ruleSource, res *tags.Result, view *segment.View, members int) error {
	stats := map[string]tags.Stats{}
	for _, s := range res.Stats() {
		stats[s.Tag] = s
	}
	cols, err := tagColumns(set, src, view)
	if err != nil {
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "tag\tevaluated\ttagged\tshare\tmissing\terrors")
	share := func(n int) string {
		if members == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(members))
	}
	var details []string
	for _, c := range cols {
		s, ok := stats[c.name]
		if !ok { // manual
			n := 0
			if c.bool {
				n = int(c.all.GetCardinality())
			}
			for _, bm := range c.byVal {
				n += int(bm.GetCardinality())
			}
			fmt.Fprintf(tw, "%s\tmanual\t%d\t%s\t-\t-\n", c.name, n, share(n))
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\n", c.name, s.Path, s.Tagged, share(s.Tagged), s.Missing, s.Errors)
			for _, me := range s.Samples {
				details = append(details, fmt.Sprintf("  %s: member %d: %s (%s)", c.name, me.Member, me.Err.Msg, me.Err.Kind))
			}
		}
		if !c.bool {
			var parts []string
			for i, v := range c.values {
				parts = append(parts, fmt.Sprintf("%s %d", v, c.byVal[i].GetCardinality()))
			}
			details = append(details, fmt.Sprintf("  %s: %s", c.name, strings.Join(parts, ", ")))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, d := range details {
		fmt.Fprintln(w, d)
	}
	return nil
}

// explainTags prints tags.Explain for each MEMBER[:TAG] asked for.
func explainTags(w io.Writer, set *tags.Set, src *ruleSource, view *segment.View, clock tags.Clock, records []*tags.Record, asks []string) error {
	byID := make(map[uint32]*tags.Record, len(records))
	for _, r := range records {
		byID[r.ID] = r
	}
	var failed []string
	for _, ask := range asks {
		idText, tag, _ := strings.Cut(ask, ":")
		id, err := parseMemberID(idText)
		if err != nil {
			return usagef("--explain %q: %v; want MEMBER:TAG or MEMBER", ask, err)
		}
		rec, ok := byID[id]
		if !ok {
			failed = append(failed, fmt.Sprintf("member %d is not among the records read", id))
			continue
		}
		names := []string{tag}
		if tag == "" {
			names = names[:0]
			for _, d := range src.defs {
				names = append(names, d.Name)
			}
		}
		for _, name := range names {
			t, ok := set.Tag(name)
			if !ok {
				failed = append(failed, fmt.Sprintf("--explain %q: no tag %q in %s", ask, name, src.path))
				continue
			}
			if t.Kind() == tags.KindManual {
				v, has, err := manualValue(view, t, id)
				if err != nil {
					return err
				}
				switch {
				case !has:
					fmt.Fprintf(w, "tag %q, member %d: not tagged (manual tag, from --manual)\n", name, id)
				case v != "":
					fmt.Fprintf(w, "tag %q, member %d: value %q (manual tag, from --manual)\n", name, id, v)
				default:
					fmt.Fprintf(w, "tag %q, member %d: tagged (manual tag, from --manual)\n", name, id)
				}
				continue
			}
			ex, err := set.Explain(view, clock, name, rec)
			if err != nil {
				return err
			}
			fmt.Fprint(w, ex.String())
		}
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

func manualValue(view *segment.View, t *tags.Tag, id uint32) (string, bool, error) {
	if _, declared := view.Field(t.Name()); !declared {
		return "", false, nil
	}
	if len(t.Values()) == 0 {
		has, err := view.HasTag(t.Name(), id)
		return "", has, err
	}
	return view.Enum(t.Name(), id)
}

// plural writes "1 problem", "3 problems".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// table aligns tab-separated columns and trims the padding an empty last
// column leaves at the end of a line.
type table struct {
	w   io.Writer
	buf bytes.Buffer
	*tabwriter.Writer
}

func newTable(w io.Writer) *table {
	t := &table{w: w}
	t.Writer = tabwriter.NewWriter(&t.buf, 0, 4, 2, ' ', 0)
	return t
}

// Flush writes the aligned table.
func (t *table) Flush() error {
	if err := t.Writer.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(t.buf.String()) {
		if _, err := io.WriteString(t.w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	t.buf.Reset()
	return nil
}
