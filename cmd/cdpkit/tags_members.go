package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cdpkit/cdpkit/segment"
	"github.com/cdpkit/cdpkit/tags"
)

// define defines src's tags in set and returns every problem, each as
// file:line. A tag whose rule does not compile is replaced by a manual tag
// of the same shape and the rest defined again, so one typo does not hide
// the errors after it, nor turn the tags that use it into errors too.
func (src *ruleSource) define(set *tags.Set) []error {
	var defs []tags.Definition
	broken := map[string]bool{}
	for i, d := range src.defs {
		switch {
		case src.dup[i]:
		case src.broken[i]:
			broken[d.Name] = true
			defs = append(defs, placeholder(d))
		default:
			defs = append(defs, d)
		}
	}
	var errs []error
	for {
		err := set.Define(defs...)
		if err == nil {
			return errs
		}
		var fixed bool
		for _, ce := range compileErrors(err) {
			errs = append(errs, src.compileError(ce))
			i := slices.IndexFunc(defs, func(d tags.Definition) bool { return d.Name == ce.Rule })
			if i < 0 || broken[ce.Rule] {
				continue
			}
			broken[ce.Rule] = true
			fixed = true
			defs[i] = placeholder(defs[i])
		}
		if !fixed {
			names := make([]string, len(src.defs))
			for i, d := range src.defs {
				names[i] = d.Name
			}
			if errors.Is(err, tags.ErrCycle) {
				// "…cycle: a → b → a" names the tags unquoted.
				msg := err.Error()
				first, _, _ := strings.Cut(msg[strings.LastIndex(msg, ": ")+2:], " → ")
				if i := src.index(first); i >= 0 {
					return append(errs, fmt.Errorf("%s:%d: %w", src.path, src.lines[i], unwrapDefine(err)))
				}
			}
			return append(errs, lineOfName(src.path, unwrapDefine(err), names, src.lines, ""))
		}
	}
}

// placeholder is a manual tag with the values d would have, so that rules
// using d still type-check.
func placeholder(d tags.Definition) tags.Definition {
	values := d.Values
	if len(values) == 0 {
		for _, c := range d.Cases {
			if !slices.Contains(values, c.Value) {
				values = append(values, c.Value)
			}
		}
		if d.Default != "" && !slices.Contains(values, d.Default) {
			values = append(values, d.Default)
		}
	}
	return tags.Definition{Name: d.Name, Manual: true, Values: values}
}

// unwrapDefine drops the "define: " prefix the Set puts on its errors.
func unwrapDefine(err error) error {
	if s, ok := strings.CutPrefix(err.Error(), "define: "); ok {
		return errors.New(s)
	}
	return err
}

// compileErrors collects the *tags.CompileError values in an error tree.
func compileErrors(err error) []*tags.CompileError {
	var out []*tags.CompileError
	var walk func(error)
	walk = func(err error) {
		if ce, ok := err.(*tags.CompileError); ok {
			out = append(out, ce)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			if e := u.Unwrap(); e != nil {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

func (src *ruleSource) index(name string) int {
	return slices.IndexFunc(src.defs, func(d tags.Definition) bool { return d.Name == name })
}

// compileError formats a compile error as
// rules.json:LINE: rule NAME: LINE:COL: message, with the rule's line and
// a caret under the column.
func (src *ruleSource) compileError(ce *tags.CompileError) error {
	line := 0
	if i := src.index(ce.Rule); i >= 0 {
		line = src.lines[i]
		if lines := src.texts[i][ce.Part]; len(lines) > 0 {
			line = lines[min(max(ce.Line, 1), len(lines))-1]
		}
	}
	label := ce.Rule
	if ce.Part != "" {
		label += " " + ce.Part
	}
	msg := fmt.Sprintf("%s:%d: rule %s: %d:%d: %s", src.path, line, label, ce.Line, ce.Column, ce.Msg)
	if ce.Source != "" {
		msg += "\n" + caretLines(ce.Source, ce.Column)
	}
	return errors.New(msg)
}

// memberInput says how to read member records.
type memberInput struct {
	path   string
	format string // jsonl, csv or auto
	idKey  string // the key or column of the member ID
	loc    *time.Location
	schema *tags.Schema
	bad    *badLines
}

// readRecords reads member records, skipping (and reporting) bad ones and
// members seen before.
func (in *memberInput) readRecords(r io.Reader) ([]*tags.Record, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	format := in.format
	if format == "auto" {
		format = "csv"
		peek, _ := br.Peek(4096)
		if t := bytes.TrimLeft(peek, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
			format = "jsonl"
		}
	}
	seen := map[uint32]int{}
	var out []*tags.Record
	keep := func(line int, rec *tags.Record) {
		if first, dup := seen[rec.ID]; dup {
			in.bad.report(line, "member %d seen before on line %d (record skipped)", rec.ID, first)
			return
		}
		seen[rec.ID] = line
		out = append(out, rec)
		if len(out)%1_000_000 == 0 {
			fmt.Fprintf(in.bad.w, "tags eval: %d members read\n", len(out))
		}
	}
	var err error
	switch format {
	case "jsonl":
		err = in.readJSONLines(br, keep)
	case "csv":
		err = in.readCSV(br, keep)
	default:
		return nil, usagef("--input-format %q: want jsonl, csv or auto", in.format)
	}
	return out, err
}

// parseMemberID reads a member ID: a whole number that fits in uint32.
func parseMemberID(s string) (uint32, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("member ID %q: want a whole number 0..%d", s, uint32(1<<32-1))
	}
	return uint32(n), nil
}

func (in *memberInput) readJSONLines(r io.Reader, keep func(int, *tags.Record)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		rec, err := in.jsonRecord(text)
		if err != nil {
			in.bad.report(line, "%v (record skipped)", err)
			continue
		}
		keep(line, rec)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", in.path, line+1, err)
	}
	return nil
}

// jsonRecord reads one JSON object: the member ID under idKey, the fields
// as tags.Record.SetJSON reads them.
func (in *memberInput) jsonRecord(text []byte) (*tags.Record, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(text, &m); err != nil {
		return nil, errors.New(jsonErrText(err))
	}
	raw, ok := m[in.idKey]
	if !ok {
		return nil, fmt.Errorf("no %q key with the member ID", in.idKey)
	}
	var id flexString
	if err := json.Unmarshal(raw, &id); err != nil {
		return nil, fmt.Errorf("%q: %v", in.idKey, err)
	}
	n, err := parseMemberID(string(id))
	if err != nil {
		return nil, err
	}
	delete(m, in.idKey)
	rest, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	rec := in.schema.NewRecord(n)
	if err := rec.SetJSON(rest); err != nil {
		return nil, err
	}
	return rec, nil
}

// readCSV reads a header naming the ID column and fields, then one member
// per row. Columns the schema does not declare are reported once and
// ignored; an empty cell leaves the field absent.
func (in *memberInput) readCSV(r io.Reader, keep func(int, *tags.Record)) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", in.path, err)
	}
	idCol := -1
	fields := make([]tags.FieldID, len(header))
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		fields[i] = -1
		if h == in.idKey {
			idCol = i
			continue
		}
		if f, ok := in.schema.Lookup(h); ok {
			fields[i] = f
			continue
		}
		fmt.Fprintf(in.bad.w, "%s:1: column %q is not in the schema (ignored)\n", in.path, h)
	}
	if idCol < 0 {
		return fmt.Errorf("%s:1: header has no %q column with the member ID (see --id)", in.path, in.idKey)
	}
	for {
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				in.bad.report(pe.Line, "%v (record skipped)", pe.Err)
				continue
			}
			return fmt.Errorf("%s: %w", in.path, err)
		}
		line, _ := cr.FieldPos(0)
		if idCol >= len(row) {
			in.bad.report(line, "%d columns, the member ID is in column %d (record skipped)", len(row), idCol+1)
			continue
		}
		id, err := parseMemberID(row[idCol])
		if err != nil {
			in.bad.report(line, "%v (record skipped)", err)
			continue
		}
		rec := in.schema.NewRecord(id)
		for i, f := range fields {
			if f < 0 || i >= len(row) || strings.TrimSpace(row[i]) == "" {
				continue
			}
			if err = in.setCell(rec, f, row[i]); err != nil {
				fd, _ := in.schema.Field(f)
				err = fmt.Errorf("member %d: field %q: %w", id, fd.Name, err)
				break
			}
		}
		if err != nil {
			in.bad.report(line, "%v (record skipped)", err)
			continue
		}
		keep(line, rec)
	}
}

// setCell sets a field from its CSV text: lists are written a|b|c, count
// maps diabetes=3|hypertension=1 (a bare key counts 1), timestamps as
// RFC 3339, a date or "YYYY-MM-DD hh:mm:ss" in the --tz zone, durations as
// Go durations or whole days (30d).
func (in *memberInput) setCell(rec *tags.Record, f tags.FieldID, s string) error {
	fd, _ := in.schema.Field(f)
	s = strings.TrimSpace(s)
	switch fd.Type {
	case tags.Int:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		return rec.SetInt(f, n)
	case tags.Double:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		return rec.SetDouble(f, x)
	case tags.String:
		return rec.SetString(f, s)
	case tags.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q: want true or false", s)
		}
		return rec.SetBool(f, b)
	case tags.Timestamp:
		t, err := parseTime(s, "", in.loc)
		if err != nil {
			return err
		}
		return rec.SetTime(f, t)
	case tags.Duration:
		d, err := time.ParseDuration(s)
		if days, ok := strings.CutSuffix(s, "d"); ok {
			var n int64
			if n, err = strconv.ParseInt(days, 10, 32); err == nil {
				d = time.Duration(n) * 24 * time.Hour
			}
		}
		if err != nil {
			return fmt.Errorf("duration %q: want a Go duration (36h) or whole days (30d)", s)
		}
		return rec.SetDuration(f, d)
	case tags.StringList:
		var list []string
		for v := range strings.SplitSeq(s, "|") {
			if v = strings.TrimSpace(v); v != "" {
				list = append(list, v)
			}
		}
		return rec.SetList(f, list)
	case tags.CountMap:
		m := map[string]int64{}
		for kv := range strings.SplitSeq(s, "|") {
			k, v, hasCount := strings.Cut(kv, "=")
			k = strings.TrimSpace(k)
			n := int64(1)
			if hasCount {
				var err error
				if n, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
					return fmt.Errorf("%q: count of %q is not a whole number", s, k)
				}
			}
			if k == "" {
				return fmt.Errorf("%q: empty key; want key=count|key=count", s)
			}
			m[k] += n
		}
		return rec.SetCounts(f, m)
	}
	return fmt.Errorf("type %s cannot be read from CSV", fd.Type)
}

// readAssignments reads manual tag assignments — CSV member,tag[,value]
// with a header — and applies them in one transaction. Bad rows are
// reported and skipped.
func readAssignments(r io.Reader, path string, set *tags.Set, ix *segment.Index, bad *badLines) error {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(header) < 2 || strings.TrimSpace(strings.TrimPrefix(header[0], "\ufeff")) != "member" || strings.TrimSpace(header[1]) != "tag" {
		return fmt.Errorf("%s:1: want a header member,tag or member,tag,value", path)
	}
	return ix.Update(func(tx *segment.Tx) error {
		for {
			row, err := cr.Read()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					bad.report(pe.Line, "%v (row skipped)", pe.Err)
					continue
				}
				return fmt.Errorf("%s: %w", path, err)
			}
			line, _ := cr.FieldPos(0)
			if len(row) < 2 {
				bad.report(line, "want member,tag[,value] (row skipped)")
				continue
			}
			id, err := parseMemberID(row[0])
			if err != nil {
				bad.report(line, "%v (row skipped)", err)
				continue
			}
			value := ""
			if len(row) > 2 {
				value = strings.TrimSpace(row[2])
			}
			if err := set.Assign(tx, strings.TrimSpace(row[1]), value, id); err != nil {
				bad.report(line, "member %d: %v (row skipped)", id, err)
			}
		}
	})
}
