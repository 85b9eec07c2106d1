package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// jsonDoc is a small JSON file (a schema, a rules file, a kinds file) read
// whole, with the offset where each of its values starts, so that problems
// found after decoding can still be reported as file:line.
type jsonDoc struct {
	path string
	data []byte
	nl   []int            // offsets of the newlines
	pos  map[string]int64 // value path ("tags/2/rule") → offset of its first byte
}

// parseJSONDoc checks data's syntax and records where every value starts.
// A syntax error is reported as path:line:column.
func parseJSONDoc(path string, data []byte) (*jsonDoc, error) {
	d := &jsonDoc{path: path, data: data, pos: map[string]int64{}}
	for i, c := range data {
		if c == '\n' {
			d.nl = append(d.nl, i)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := d.walk(dec, ""); err != nil {
		return nil, d.syntaxError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		off := d.skip(dec.InputOffset())
		return nil, fmt.Errorf("%s:%d: data after the top-level value", path, d.line(off))
	}
	return d, nil
}

// walk visits one value and everything in it.
func (d *jsonDoc) walk(dec *json.Decoder, path string) error {
	d.pos[path] = d.skip(dec.InputOffset())
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return err
			}
			if err := d.walk(dec, path+"/"+key.(string)); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := d.walk(dec, path+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	return err
}

// skip moves off past the white space and separators between tokens.
func (d *jsonDoc) skip(off int64) int64 {
	for off < int64(len(d.data)) {
		switch d.data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
			continue
		}
		break
	}
	return off
}

// line returns the 1-based line of a byte offset.
func (d *jsonDoc) line(off int64) int {
	i, _ := slices.BinarySearch(d.nl, int(off))
	return i + 1
}

// lineOf returns the line where the value at path starts, or the line of
// the closest enclosing value the file has.
func (d *jsonDoc) lineOf(path string) int {
	for {
		if off, ok := d.pos[path]; ok {
			return d.line(off)
		}
		i := strings.LastIndexByte(path, '/')
		if i < 0 {
			return 1
		}
		path = path[:i]
	}
}

// errorf formats an error at the value at path.
func (d *jsonDoc) errorf(path, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", d.path, d.lineOf(path), fmt.Sprintf(format, args...))
}

func (d *jsonDoc) syntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// The decoder stopped at the byte at Offset.
		b := min(se.Offset, int64(len(d.data))-1)
		line := d.line(b)
		col := b + 1
		if line > 1 {
			col = b - int64(d.nl[line-2])
		}
		return fmt.Errorf("%s:%d:%d: %s", d.path, line, max(col, 1), strings.TrimPrefix(se.Error(), "json: "))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s:%d: unexpected end of file", d.path, len(d.nl)+1)
	}
	return fmt.Errorf("%s: %w", d.path, err)
}

// decode decodes the value at path (all of the file for "") into v,
// refusing keys v does not declare, so a misspelt "rul" is an error and
// not a silently empty rule.
func (d *jsonDoc) decode(path string, v any) error {
	start, ok := d.pos[path]
	if !ok {
		return d.errorf(path, "missing value")
	}
	dec := json.NewDecoder(bytes.NewReader(d.data[start:]))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		where := te.Field
		if where == "" {
			where = "value"
		}
		return fmt.Errorf("%s:%d: %s: got a JSON %s, want %s", d.path, d.line(start+te.Offset-1), where, te.Value, jsonTypeName(te.Type.String()))
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if name, ok := strings.CutPrefix(msg, "unknown field "); ok {
		key, _ := strconv.Unquote(name)
		return fmt.Errorf("%s:%d: unknown key %s", d.path, d.keyLine(path, key), name)
	}
	return fmt.Errorf("%s:%d: %s", d.path, d.line(start), msg)
}

// keyLine finds the line of the first key called key under prefix.
func (d *jsonDoc) keyLine(prefix, key string) int {
	best := int64(-1)
	for p, off := range d.pos {
		if strings.HasPrefix(p, prefix+"/") && strings.HasSuffix(p, "/"+key) && (best < 0 || off < best) {
			best = off
		}
	}
	if best < 0 {
		return d.lineOf(prefix)
	}
	return d.line(best)
}

// topLevel reports the first byte of the document, '[' or '{' for the
// container forms the files accept.
func (d *jsonDoc) topLevel() byte {
	if off := d.pos[""]; off < int64(len(d.data)) {
		return d.data[off]
	}
	return 0
}

// jsonTypeName turns a Go type in a decode error into words.
func jsonTypeName(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	default:
		return "an object"
	}
}

// lineOfName attaches a file line to an error from a library that names
// an item of the file by %q or by index: the line of the first item whose
// quoted name the message contains, else of the item the "<what> N"
// index names. Without either it returns err prefixed by the file alone.
func lineOfName(file string, err error, names []string, lines []int, what string) error {
	msg := err.Error()
	best, at := -1, len(msg)
	for i, n := range names {
		if j := strings.Index(msg, strconv.Quote(n)); j >= 0 && (j < at || j == at && len(n) > len(names[best])) {
			best, at = i, j
		}
	}
	if best < 0 && what != "" {
		if _, rest, ok := strings.Cut(msg, what+" "); ok {
			digits := rest[:len(rest)-len(strings.TrimLeft(rest, "0123456789"))]
			if i, err := strconv.Atoi(digits); err == nil && i < len(lines) {
				best = i
			}
		}
	}
	if best < 0 || best >= len(lines) {
		return fmt.Errorf("%s: %w", file, err)
	}
	return fmt.Errorf("%s:%d: %w", file, lines[best], err)
}
