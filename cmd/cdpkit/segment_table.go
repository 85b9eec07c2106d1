package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cdpkit/cdpkit/segment"
)

// tableColumn is one column of a member table, dictionary-encoded while
// reading so that its kind can be decided from all its values at the end.
type tableColumn struct {
	name  string
	kind  string // tag, enum, int or skip; "" to infer
	dict  map[string]int32
	vals  []string // dictionary, by code
	codes []int32  // per kept row; -1 for an empty cell
}

func (c *tableColumn) add(s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		c.codes = append(c.codes, -1)
		return
	}
	code, ok := c.dict[s]
	if !ok {
		code = int32(len(c.vals))
		c.dict[s] = code
		c.vals = append(c.vals, s)
	}
	c.codes = append(c.codes, code)
}

// infer decides the column's kind from its distinct values: a tag when
// every value is true or false, an int when every value is a whole number,
// else an enum.
func (c *tableColumn) infer() string {
	if c.kind != "" {
		return c.kind
	}
	if len(c.vals) == 0 {
		return "skip"
	}
	boolish, ints := true, true
	for _, v := range c.vals {
		l := strings.ToLower(v)
		if l != "true" && l != "false" {
			boolish = false
		}
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			ints = false
		}
	}
	switch {
	case boolish:
		return "tag"
	case ints:
		return "int"
	}
	return "enum"
}

// tableKinds are the kinds --types may give a column.
var tableKinds = []string{"tag", "enum", "int", "skip"}

// parseTypes reads --types: name=kind,name=kind.
func parseTypes(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		name, kind, ok := strings.Cut(part, "=")
		name, kind = strings.TrimSpace(name), strings.TrimSpace(kind)
		if !ok || name == "" || !slices.Contains(tableKinds, kind) {
			return nil, usagef("--types %q: want name=kind,… with kind tag, enum, int or skip", part)
		}
		out[name] = kind
	}
	return out, nil
}

// loadTable reads a member table — CSV with a header, the member ID in the
// idCol column and one column per field — into a new index. Each column
// becomes a tag (values true/false), an int attribute (whole numbers) or an
// enum (anything else), unless types says otherwise; empty cells are no
// value. Rows that cannot be read, and repeated members, are reported and
// skipped.
func loadTable(r io.Reader, path, idCol string, types map[string]string, loc *time.Location, bad *badLines, info io.Writer) (*segment.Index, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<16))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file, want a header naming %s and the fields", path, idCol)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	id := -1
	cols := make([]*tableColumn, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if h == idCol {
			id = i
			continue
		}
		if seen[h] {
			return nil, fmt.Errorf("%s:1: column %q appears twice", path, h)
		}
		seen[h] = true
		cols[i] = &tableColumn{name: h, kind: types[h], dict: map[string]int32{}}
		delete(types, h)
	}
	if id < 0 {
		return nil, fmt.Errorf("%s:1: header has no %q column with the member ID (see --id)", path, idCol)
	}
	for name := range types {
		return nil, usagef("--types names %q, which %s has no column for", name, path)
	}
	var members []uint32
	var lines []int
	firstLine := map[uint32]int{}
	for {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad.report(pe.Line, "%v (row skipped)", pe.Err)
				continue
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := cr.FieldPos(0)
		if id >= len(row) {
			bad.report(line, "%d columns, the member ID is in column %d (row skipped)", len(row), id+1)
			continue
		}
		m, err := parseMemberID(row[id])
		if err != nil {
			bad.report(line, "%v (row skipped)", err)
			continue
		}
		if first, dup := firstLine[m]; dup {
			bad.report(line, "member %d seen before on line %d (row skipped)", m, first)
			continue
		}
		firstLine[m] = line
		members = append(members, m)
		lines = append(lines, line)
		for i, c := range cols {
			if c == nil {
				continue
			}
			if i < len(row) {
				c.add(row[i])
			} else {
				c.add("")
			}
		}
	}

	ix := segment.New(&segment.Options{Location: loc})
	var kinds [4][]string
	err = ix.Update(func(tx *segment.Tx) error {
		if err := tx.AddMembers(members...); err != nil {
			return err
		}
		for _, c := range cols {
			if c == nil {
				continue
			}
			kind := c.infer()
			if kind == "skip" {
				continue
			}
			if err := c.load(tx, kind, members, lines, bad); err != nil {
				return fmt.Errorf("%s: column %q: %w", path, c.name, err)
			}
			k := slices.Index(tableKinds, kind)
			desc := c.name
			if kind == "enum" {
				desc = fmt.Sprintf("%s (%d values)", c.name, len(c.vals))
			}
			kinds[k] = append(kinds[k], desc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(info, "segment: %s: %d members", path, len(members))
	for k, names := range kinds[:3] {
		if len(names) > 0 {
			fmt.Fprintf(info, "; %s: %s", tableKinds[k]+"s", strings.Join(names, ", "))
		}
	}
	fmt.Fprintln(info)
	return ix, nil
}

// load writes the column into the index as kind. A cell that the kind
// cannot hold is reported and left out.
func (c *tableColumn) load(tx *segment.Tx, kind string, members []uint32, lines []int, bad *badLines) error {
	cellErr := func(row int, format string, args ...any) {
		bad.report(lines[row], "column %q: %s (cell left empty)", c.name, fmt.Sprintf(format, args...))
	}
	switch kind {
	case "tag":
		truth := make([]int8, len(c.vals)) // 1 true, 0 false, -1 neither
		for i, v := range c.vals {
			b, err := strconv.ParseBool(strings.ToLower(v))
			switch {
			case strings.EqualFold(v, "yes"):
				truth[i] = 1
			case strings.EqualFold(v, "no"):
				truth[i] = 0
			case err != nil:
				truth[i] = -1
			case b:
				truth[i] = 1
			}
		}
		bm := roaring.New()
		for row, code := range c.codes {
			switch {
			case code < 0:
			case truth[code] == 1:
				bm.Add(members[row])
			case truth[code] < 0:
				cellErr(row, "%q: want true or false", c.vals[code])
			}
		}
		if err := tx.Declare(c.name, segment.KindTag); err != nil {
			return err
		}
		return tx.ReplaceTag(c.name, bm)
	case "int":
		nums := make([]int64, len(c.vals))
		ok := make([]bool, len(c.vals))
		for i, v := range c.vals {
			n, err := strconv.ParseInt(v, 10, 64)
			nums[i], ok[i] = n, err == nil
		}
		var ids []uint32
		var values []int64
		for row, code := range c.codes {
			switch {
			case code < 0:
			case !ok[code]:
				cellErr(row, "%q is not a whole number", c.vals[code])
			default:
				ids = append(ids, members[row])
				values = append(values, nums[code])
			}
		}
		if err := tx.Declare(c.name, segment.KindInt); err != nil {
			return err
		}
		return tx.ReplaceInt(c.name, ids, values)
	case "enum":
		byVal := make([]*roaring.Bitmap, len(c.vals))
		for row, code := range c.codes {
			if code < 0 {
				continue
			}
			if byVal[code] == nil {
				byVal[code] = roaring.New()
			}
			byVal[code].Add(members[row])
		}
		if err := tx.Declare(c.name, segment.KindEnum); err != nil {
			return err
		}
		values := map[string]*roaring.Bitmap{}
		for code, bm := range byVal {
			values[c.vals[code]] = bm
		}
		err := tx.ReplaceEnum(c.name, values)
		if err == nil {
			return nil
		}
		// A value the index cannot hold (a control character, over 256
		// bytes): find it, report its rows and load the rest.
		for code, bm := range byVal {
			if tx.ReplaceEnum(c.name, map[string]*roaring.Bitmap{c.vals[code]: bm}) != nil {
				delete(values, c.vals[code])
				for row, cd := range c.codes {
					if cd == int32(code) {
						cellErr(row, "%q cannot be an enum value", c.vals[code])
					}
				}
			}
		}
		return tx.ReplaceEnum(c.name, values)
	}
	return fmt.Errorf("unknown kind %q", kind)
}
