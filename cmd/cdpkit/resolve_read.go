package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cdpkit/cdpkit/identity"
)

// obsRecord is one observation read from a file.
type obsRecord struct {
	line  int // where it starts in the file
	obs   identity.Observation
	truth int64 // the true member (cdpkit gen's true_member), or -1
}

// badLines reports input that was skipped or set aside, as file:line,
// the first maxBadShown one by one.
// It is safe for concurrent use.
type badLines struct {
	w    io.Writer
	path string
	mu   sync.Mutex
	n    int
}

func (b *badLines) report(line int, format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	if b.n <= maxBadShown {
		fmt.Fprintf(b.w, "%s:%d: %s\n", b.path, line, fmt.Sprintf(format, args...))
	}
}

// more says how many reports were not shown.
func (b *badLines) more() {
	if b.n > maxBadShown {
		fmt.Fprintf(b.w, "%s: ... and %d more\n", b.path, b.n-maxBadShown)
	}
}

// flexString is a JSON string or number: event IDs and identifier values
// arrive as either, depending on the feed.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %s", b)
	}
	*f = flexString(n)
	return nil
}

// obsJSON is one line of an observations file as cdpkit gen writes it.
// Other keys are ignored, so feeds may carry more.
type obsJSON struct {
	Event  flexString `json:"event"`
	Source string     `json:"source"`
	Time   string     `json:"time"`
	IDs    []struct {
		Kind  string     `json:"kind"`
		Value flexString `json:"value"`
		Scope string     `json:"scope"`
	} `json:"ids"`
	TrueMember *int64 `json:"true_member"`
}

// obsReader reads observations from JSON lines or CSV.
type obsReader struct {
	path string
	loc  *time.Location
	bad  *badLines
	next func(*obsRecord) (bool, error) // false at the end
}

// newObsReader reads format "jsonl", "csv" or "auto" (JSON lines when the
// first non-blank character is '{').
func newObsReader(r io.Reader, path, format string, loc *time.Location, bad *badLines) (*obsReader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	if format == "auto" {
		format = "csv"
		peek, _ := br.Peek(4096)
		if t := bytes.TrimLeft(peek, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
			format = "jsonl"
		}
	}
	o := &obsReader{path: path, loc: loc, bad: bad}
	switch format {
	case "jsonl":
		o.next = o.jsonLines(br)
	case "csv":
		next, err := o.csvRows(br)
		if err != nil {
			return nil, err
		}
		o.next = next
	default:
		return nil, usagef("--format %q: want jsonl, csv or auto", format)
	}
	return o, nil
}

// maxLine bounds one line of JSON: an observation carries at most 255
// identifiers of at most 255 bytes each.
const maxLine = 1 << 20

func (o *obsReader) jsonLines(br *bufio.Reader) func(*obsRecord) (bool, error) {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	line := 0
	var j obsJSON
	return func(rec *obsRecord) (bool, error) {
		for sc.Scan() {
			line++
			text := bytes.TrimSpace(sc.Bytes())
			if len(text) == 0 || text[0] == '#' {
				continue
			}
			// Reuse the identifier slice, zeroed: Unmarshal leaves a key
			// the line lacks (scope) as it found it.
			ids := j.IDs[:cap(j.IDs)]
			clear(ids)
			j = obsJSON{IDs: ids[:0]}
			if err := json.Unmarshal(text, &j); err != nil {
				o.bad.report(line, "%s (observation skipped)", jsonErrText(err))
				continue
			}
			t, err := parseTime(j.Time, "", o.loc)
			if err != nil {
				o.bad.report(line, "%v (observation skipped)", err)
				continue
			}
			*rec = obsRecord{line: line, truth: -1, obs: identity.Observation{EventID: string(j.Event), Source: j.Source, Time: t,
				Identifiers: make([]identity.Identifier, 0, len(j.IDs))}}
			for _, id := range j.IDs {
				rec.obs.Identifiers = append(rec.obs.Identifiers, identity.Identifier{Kind: id.Kind, Value: string(id.Value), Scope: id.Scope})
			}
			if j.TrueMember != nil {
				if *j.TrueMember < 0 {
					o.bad.report(line, "true_member %d: want a member ID >= 0 (observation skipped)", *j.TrueMember)
					continue
				}
				rec.truth = *j.TrueMember
			}
			return true, nil
		}
		if err := sc.Err(); err != nil {
			return false, fmt.Errorf("%s:%d: %w", o.path, line+1, err)
		}
		return false, nil
	}
}

// jsonErrText turns a decoding error into a short message.
func jsonErrText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("%s: got a JSON %s, want %s", te.Field, te.Value, jsonTypeName(te.Type.String()))
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// obsColumns are the columns of an observations CSV file; event, time,
// kind and value are required.
var obsColumns = []string{"event", "time", "kind", "value", "source", "scope", "true_member"}

func (o *obsReader) csvRows(br *bufio.Reader) (func(*obsRecord) (bool, error), error) {
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return func(*obsRecord) (bool, error) { return false, nil }, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		for _, c := range obsColumns {
			if h == c {
				col[c] = i
			}
		}
	}
	for _, c := range obsColumns[:4] {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("%s:1: header has no %q column (want event,time,kind,value and optionally source,scope,true_member)", o.path, c)
		}
	}
	get := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	// Rows of one event are consecutive; the observation is complete when
	// a row of another event (or the end) arrives.
	var pending *obsRecord
	var pendingTime, pendingTruth string
	done := false
	return func(out *obsRecord) (bool, error) {
		for !done {
			rec, err := cr.Read()
			if err == io.EOF {
				done = true
				break
			}
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					o.bad.report(pe.Line, "%v (row skipped)", pe.Err)
					continue
				}
				return false, fmt.Errorf("%s: %w", o.path, err)
			}
			line, _ := cr.FieldPos(0)
			event, ts, truth := get(rec, "event"), get(rec, "time"), get(rec, "true_member")
			id := identity.Identifier{Kind: get(rec, "kind"), Value: get(rec, "value"), Scope: get(rec, "scope")}
			if id.Kind == "" {
				o.bad.report(line, "empty kind (row skipped)")
				continue
			}
			if pending != nil && event != "" && pending.obs.EventID == event {
				if ts != pendingTime || get(rec, "source") != pending.obs.Source || truth != pendingTruth {
					o.bad.report(line, "event %q: time, source and true_member must be the same on every row of an event (row skipped)", event)
					continue
				}
				pending.obs.Identifiers = append(pending.obs.Identifiers, id)
				continue
			}
			t, err := parseTime(ts, "", o.loc)
			if err != nil {
				o.bad.report(line, "%v (row skipped)", err)
				continue
			}
			next := &obsRecord{line: line, truth: -1, obs: identity.Observation{EventID: event, Source: get(rec, "source"), Time: t,
				Identifiers: []identity.Identifier{id}}}
			if truth != "" {
				n, err := strconv.ParseUint(truth, 10, 32)
				if err != nil {
					o.bad.report(line, "true_member %q: want a member ID (row skipped)", truth)
					continue
				}
				next.truth = int64(n)
			}
			prev := pending
			pending, pendingTime, pendingTruth = next, ts, truth
			if prev != nil {
				*out = *prev
				return true, nil
			}
		}
		if pending != nil {
			*out = *pending
			pending = nil
			return true, nil
		}
		return false, nil
	}, nil
}
