package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cdpkit/cdpkit/segment"
	"github.com/cdpkit/cdpkit/tags"
)

// audienceHelp is the part of the help the segment commands share.
const audienceHelp = `
The members come from an index snapshot (--index, as 'cdpkit tags eval
--index' or segment.SaveFile write it) or from a member table (--table):
CSV with a header, the member ID in the "member" column (--id) and one
column per field. A table column whose values are all true/false becomes a
tag, all whole numbers an int attribute, anything else an enum; empty cells
are no value; --types name=kind,… overrides (tag, enum, int, skip). The
output of 'cdpkit tags eval' (CSV) is such a table.

The audience is a segment expression in CEL syntax, e.g.

  chronic && !lapsed && age >= 60 && city in ["上海", "北京"]
  tag("慢病:糖尿病") && between(spend_90d, 10000, 50000)
  active("purchase", "30d")          (needs --as-of)

given as the argument or read from --expr-file. An expression that does
not compile is printed with a caret under the line and column at fault.`

// audienceFlags are the flags the segment commands share.
type audienceFlags struct {
	index, table, types, idCol, tz, asOf, exprFile string
}

func (f *audienceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.index, "index", "", "index snapshot `file` (segment.SaveFile format, e.g. from tags eval --index)")
	fs.StringVar(&f.table, "table", "", "member table `file` (CSV) to build the index from instead")
	fs.StringVar(&f.types, "types", "", "table column kinds, `name=kind,…` (tag, enum, int or skip), overriding inference")
	fs.StringVar(&f.idCol, "id", "member", "table `column` of the member ID")
	fs.StringVar(&f.tz, "tz", "", "time zone of activity days (default: the snapshot's; UTC for a table)")
	fs.StringVar(&f.asOf, "as-of", "", "`day` YYYY-MM-DD that active() windows end on")
	fs.StringVar(&f.exprFile, "expr-file", "", "read the expression from this `file` instead of the argument")
}

// audience is a compiled expression over a loaded index.
type audience struct {
	view *segment.View
	plan *segment.Plan
	src  string
	bad  *badLines // table rows skipped, if any
}

func (f *audienceFlags) load(e *env, args []string) (*audience, error) {
	var src string
	switch {
	case f.exprFile != "" && len(args) == 0:
		b, err := os.ReadFile(f.exprFile)
		if err != nil {
			return nil, err
		}
		src = string(b)
	case f.exprFile == "" && len(args) == 1:
		src = args[0]
	default:
		return nil, usagef("want one expression argument or --expr-file, got %d arguments", len(args))
	}
	if (f.index == "") == (f.table == "") {
		return nil, usagef("give one of --index or --table")
	}
	var loc = (*segment.Options)(nil)
	if f.tz != "" {
		l, err := tags.LoadLocation(f.tz)
		if err != nil {
			return nil, usagef("--tz %q: %v", f.tz, err)
		}
		loc = &segment.Options{Location: l}
	}
	a := &audience{src: src}
	var ix *segment.Index
	var err error
	if f.index != "" {
		if ix, err = segment.LoadFile(f.index, loc); err != nil {
			return nil, fmt.Errorf("%s: %w", f.index, err)
		}
	} else {
		types, err := parseTypes(f.types)
		if err != nil {
			return nil, err
		}
		file, err := os.Open(f.table)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		a.bad = &badLines{w: e.stderr, path: f.table}
		var l *time.Location // UTC
		if loc != nil {
			l = loc.Location
		}
		if ix, err = loadTable(file, f.table, f.idCol, types, l, a.bad, e.stderr); err != nil {
			return nil, err
		}
		a.bad.more()
	}
	a.view = ix.View()
	if f.asOf != "" {
		day, err := segment.ParseDay(f.asOf)
		if err != nil {
			return nil, usagef("--as-of %q: want YYYY-MM-DD", f.asOf)
		}
		a.view = a.view.AtDay(day)
	}
	if a.plan, err = segment.Compile(src, a.view); err != nil {
		return nil, exprError(src, err)
	}
	return a, nil
}

// exprError shows where an expression went wrong: the message with its
// line and column, the line, and a caret under the column. The expression
// is part of the command line, so it is a usage error (exit code 2).
func exprError(src string, err error) error {
	var ee *segment.ExprError
	if !errors.As(err, &ee) {
		return err
	}
	line := ee.Snippet
	if line == "" {
		line = sourceLine(src, ee.Line)
	}
	msg := fmt.Sprintf("expression %d:%d: %s", ee.Line, ee.Column, ee.Msg)
	if line != "" || ee.Line == 1 {
		msg += "\n" + caretLines(line, ee.Column)
	}
	return &usageError{msg: msg}
}

// evalError adds the flag to use to an evaluation error.
func evalError(err error) error {
	if errors.Is(err, segment.ErrNoAsOf) {
		return usagef("%v: give --as-of YYYY-MM-DD", err)
	}
	return err
}

// finish reports table rows that were skipped: the work is done, but the
// input had bad records.
func (a *audience) finish() error {
	if a.bad != nil && a.bad.n > 0 {
		return fmt.Errorf("%s in %s (reported above); the rest was used", plural(a.bad.n, "bad row"), a.bad.path)
	}
	return nil
}

func init() {
	register(&command{
		name:    "segment count",
		summary: "count an audience (CEL-syntax expression) over an index snapshot or a member table",
		usage:   "(--index FILE | --table FILE) [flags] EXPRESSION",
		help: `
Prints the number of members the expression matches. With --top FIELD
(an enum) it also prints the most common values among them, and with
--sum FIELD (an int attribute) the count with a value, sum, mean, minimum
and maximum; both may be repeated. --json prints one JSON object instead.
` + audienceHelp + `

Exit codes: 0 success; 1 a file could not be read, or table rows were
skipped (reported as FILE:LINE; the count covers the rest); 2 a wrong
command line or an expression that does not compile.`,
		flags: func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) error {
			var af audienceFlags
			af.register(fs)
			var top, sum listFlag
			fs.Var(&top, "top", "print the most common values of this enum `field` in the audience; repeatable")
			n := fs.Int("n", 10, "how many values --top prints (0: all)")
			fs.Var(&sum, "sum", "print count, sum, mean, min and max of this int `field` in the audience; repeatable")
			asJSON := fs.Bool("json", false, "print one JSON object")
			return func(ctx context.Context, e *env, args []string) error {
				a, err := af.load(e, args)
				if err != nil {
					return err
				}
				if err := countAudience(e.stdout, a, top, sum, *n, *asJSON); err != nil {
					return err
				}
				return a.finish()
			}
		},
	})
	register(&command{
		name:    "segment export",
		summary: "export an audience as member IDs or portable Roaring, optionally split into A/B arms",
		usage:   "(--index FILE | --table FILE) [flags] EXPRESSION",
		help: `
Writes the members the expression matches to --out (default standard
output): one member ID per line in increasing order (--format ids), or one
bitmap in the portable Roaring format that CRoaring, Java RoaringBitmap,
ClickHouse (groupBitmap), StarRocks and Doris read (--format roaring).

--split 90,10 (or campaign=90,holdout=10) divides the audience into arms by
a salted hash of the member ID (--salt names the experiment; a member's arm
never changes as the audience does) and writes one file per arm, the arm's
name put before --out's extension: audience.txt → audience.campaign.txt.
Unnamed arms are arm1, arm2, …. Counts go to standard error.
` + audienceHelp + `

Exit codes as for 'segment count'.`,
		flags: func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) error {
			var af audienceFlags
			af.register(fs)
			format := fs.String("format", "ids", "ids (one member ID per line) or roaring (portable Roaring bitmap)")
			out := fs.String("out", "", "write to this `file` (with --split: the base name of the arm files)")
			split := fs.String("split", "", "split into arms by `weights`: 90,10 or campaign=90,holdout=10")
			salt := fs.String("salt", "", "the split's salt: one per experiment (required with --split)")
			return func(ctx context.Context, e *env, args []string) error {
				if *format != "ids" && *format != "roaring" {
					return usagef("--format %q: want ids or roaring", *format)
				}
				var s *segment.Split
				if *split != "" {
					if *out == "" {
						return usagef("--split writes one file per arm: give --out")
					}
					if *salt == "" {
						return usagef("--split needs --salt, one per experiment, so arms are reproducible and independent of other splits")
					}
					arms, err := parseArms(*split)
					if err != nil {
						return err
					}
					if s, err = segment.NewSplit(*salt, arms...); err != nil {
						return usagef("--split %q: %v", *split, err)
					}
				}
				a, err := af.load(e, args)
				if err != nil {
					return err
				}
				if err := exportAudience(e, a, *format, *out, s); err != nil {
					return err
				}
				return a.finish()
			}
		},
	})
}

// parseArms reads "90,10" or "campaign=90,holdout=10".
func parseArms(s string) ([]segment.Arm, error) {
	var arms []segment.Arm
	for i, part := range strings.Split(s, ",") {
		name, weight, named := strings.Cut(strings.TrimSpace(part), "=")
		if !named {
			name, weight = "arm"+strconv.Itoa(i+1), name
		}
		w, err := strconv.ParseUint(strings.TrimSpace(weight), 10, 32)
		if err != nil || w == 0 {
			return nil, usagef("--split %q: weight %q: want a positive whole number", s, weight)
		}
		arms = append(arms, segment.Arm{Name: strings.TrimSpace(name), Weight: uint32(w)})
	}
	if len(arms) < 2 {
		return nil, usagef("--split %q: want at least two arms", s)
	}
	return arms, nil
}

type countReport struct {
	Count   uint64                 `json:"count"`
	Members uint64                 `json:"members"`
	Top     map[string][]valueJSON `json:"top,omitempty"`
	Sum     map[string]sumJSON     `json:"sum,omitempty"`
}

type valueJSON struct {
	Value string `json:"value"`
	Count uint64 `json:"count"`
}

type sumJSON struct {
	Count uint64  `json:"count"`
	Sum   int64   `json:"sum"`
	Mean  float64 `json:"mean"`
	Min   int64   `json:"min"`
	Max   int64   `json:"max"`
}

func countAudience(w io.Writer, a *audience, top, sum []string, n int, asJSON bool) error {
	count, err := a.view.Count(a.plan)
	if err != nil {
		return evalError(err)
	}
	rep := countReport{Count: count, Members: a.view.MemberCount()}
	tops := make([][]segment.ValueCount, len(top))
	for i, f := range top {
		if tops[i], err = a.view.TopN(a.plan, f, n); err != nil {
			return fmt.Errorf("--top %s: %w", f, evalError(err))
		}
	}
	sums := make([]segment.IntStats, len(sum))
	for i, f := range sum {
		if sums[i], err = a.view.IntStats(a.plan, f); err != nil {
			return fmt.Errorf("--sum %s: %w", f, evalError(err))
		}
	}
	if asJSON {
		if len(top) > 0 {
			rep.Top = map[string][]valueJSON{}
			for i, f := range top {
				rep.Top[f] = []valueJSON{}
				for _, vc := range tops[i] {
					rep.Top[f] = append(rep.Top[f], valueJSON{vc.Value, vc.Count})
				}
			}
		}
		if len(sum) > 0 {
			rep.Sum = map[string]sumJSON{}
			for i, f := range sum {
				s := sums[i]
				rep.Sum[f] = sumJSON{s.Count, s.Sum, s.Mean(), s.Min, s.Max}
			}
		}
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return enc.Encode(rep)
	}
	if len(top) == 0 && len(sum) == 0 {
		_, err := fmt.Fprintln(w, count)
		return err
	}
	fmt.Fprintf(w, "count %d of %d members (%s)\n", count, rep.Members, percent(count, rep.Members))
	tw := newTable(w)
	for i, f := range top {
		fmt.Fprintf(tw, "top %s:\n", f)
		for _, vc := range tops[i] {
			fmt.Fprintf(tw, "  %s\t%d\t%s\n", vc.Value, vc.Count, percent(vc.Count, count))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for i, f := range sum {
		s := sums[i]
		_, err = fmt.Fprintf(w, "sum %s: %d members with a value, sum %d, mean %.2f, min %d, max %d\n", f, s.Count, s.Sum, s.Mean(), s.Min, s.Max)
	}
	return err
}

func percent(n, of uint64) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

func exportAudience(e *env, a *audience, format, out string, s *segment.Split) error {
	if s == nil {
		where := "standard output"
		if out != "" {
			where = out
		}
		var n uint64
		err := writeOut(e.stdout, out, func(w io.Writer) error {
			if format == "roaring" {
				var err error
				if n, err = a.view.Count(a.plan); err != nil {
					return evalError(err)
				}
				_, err = a.view.Export(w, a.plan)
				return err
			}
			ids, err := a.view.IDs(a.plan)
			if err != nil {
				return evalError(err)
			}
			var b []byte
			for id := range ids {
				b = strconv.AppendUint(b[:0], uint64(id), 10)
				b = append(b, '\n')
				if _, err := w.Write(b); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "segment export: %d members to %s\n", n, where)
		return nil
	}
	parts, err := a.view.Split(a.plan, s)
	if err != nil {
		return evalError(err)
	}
	var total uint64
	for _, bm := range parts {
		total += bm.GetCardinality()
	}
	for i, arm := range s.Arms() {
		path := armPath(out, arm.Name)
		bm := parts[i]
		err := writeOut(e.stdout, path, func(w io.Writer) error {
			if format == "roaring" {
				bm.RunOptimize()
				_, err := bm.WriteTo(w)
				return err
			}
			var b []byte
			it := bm.Iterator()
			for it.HasNext() {
				b = strconv.AppendUint(b[:0], uint64(it.Next()), 10)
				b = append(b, '\n')
				if _, err := w.Write(b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "segment export: arm %s: %d members (%s) to %s\n", arm.Name, bm.GetCardinality(), percent(bm.GetCardinality(), total), path)
	}
	return nil
}

// armPath puts an arm's name before the extension of the output path.
func armPath(out, arm string) string {
	ext := filepath.Ext(out)
	return strings.TrimSuffix(out, ext) + "." + arm + ext
}

// writeOut runs write on a buffered writer to path, or to stdout when path
// is "", and reports any error of writing, flushing or closing.
func writeOut(stdout io.Writer, path string, write func(io.Writer) error) (err error) {
	w := stdout
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("write %s: %w", path, cerr)
			}
		}()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := write(bw); err != nil {
		return err
	}
	return bw.Flush()
}
