package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cdpkit/cdpkit/tags"
)

// fieldJSON is one field of a schema file.
type fieldJSON struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Index     string `json:"index,omitempty"`
	IndexName string `json:"index_name,omitempty"`
	Doc       string `json:"doc,omitempty"`
}

// fieldTypes are the type names a schema file may use; the CEL spelling
// (list(string), map(string, int)) is accepted too.
var fieldTypes = map[string]tags.Type{
	"int": tags.Int, "double": tags.Double, "string": tags.String, "bool": tags.Bool,
	"timestamp": tags.Timestamp, "duration": tags.Duration,
	"list": tags.StringList, "string_list": tags.StringList,
	"map": tags.CountMap, "count_map": tags.CountMap,
}

var indexBindings = map[string]tags.IndexAs{
	"": tags.NotIndexed, "none": tags.NotIndexed, "int": tags.AsInt, "enum": tags.AsEnum, "day": tags.AsDay,
}

func loadSchema(path string) (*tags.Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseSchema(path, data)
}

// parseSchema reads a schema file: {"fields": [...]} or the array of
// fields alone.
func parseSchema(path string, data []byte) (*tags.Schema, error) {
	doc, err := parseJSONDoc(path, data)
	if err != nil {
		return nil, err
	}
	var f struct {
		Fields []fieldJSON `json:"fields"`
	}
	prefix := "/fields"
	switch doc.topLevel() {
	case '{':
		err = doc.decode("", &f)
	case '[':
		prefix = ""
		err = doc.decode("", &f.Fields)
	default:
		return nil, doc.errorf("", `want an object {"fields": [...]} or an array of fields`)
	}
	if err != nil {
		return nil, err
	}
	if len(f.Fields) == 0 {
		return nil, doc.errorf(prefix, "no fields declared")
	}
	fields := make([]tags.Field, len(f.Fields))
	names := make([]string, len(f.Fields))
	lines := make([]int, len(f.Fields))
	for i, fj := range f.Fields {
		at := prefix + "/" + strconv.Itoa(i)
		names[i], lines[i] = fj.Name, doc.lineOf(at)
		typ, ok := fieldTypes[strings.ToLower(fj.Type)]
		if !ok {
			for t := tags.Int; t <= tags.CountMap; t++ {
				if strings.ReplaceAll(t.String(), " ", "") == strings.ReplaceAll(fj.Type, " ", "") {
					typ, ok = t, true
				}
			}
		}
		if !ok {
			return nil, doc.errorf(at+"/type", "field %q: type %q: want int, double, string, bool, timestamp, duration, list or map", fj.Name, fj.Type)
		}
		ix, ok := indexBindings[strings.ToLower(fj.Index)]
		if !ok {
			return nil, doc.errorf(at+"/index", "field %q: index %q: want int, enum, day or none", fj.Name, fj.Index)
		}
		fields[i] = tags.Field{Name: fj.Name, Type: typ, Doc: fj.Doc, Index: ix, IndexName: fj.IndexName}
	}
	s, err := tags.NewSchema(fields...)
	if err != nil {
		return nil, lineOfName(path, err, names, lines, "schema field")
	}
	return s, nil
}

// ruleSource is a rules file read into tag definitions, with where each
// came from so that compile errors can point into the file.
type ruleSource struct {
	path  string
	defs  []tags.Definition
	lines []int // where each definition starts
	// texts maps, per definition, each expression ("" for the rule,
	// "case N", "value") to the file line of each of its lines.
	texts []map[string][]int
	// broken marks definitions already reported as malformed: they are
	// defined as placeholders so that the others can still be checked.
	// dup marks a second definition of a name, left out.
	broken, dup []bool
}

type caseJSON struct {
	When  string `json:"when"`
	Value string `json:"value"`
}

type ruleJSON struct {
	Name        string     `json:"name"`
	Kind        string     `json:"kind,omitempty"`
	Category    string     `json:"category,omitempty"`
	Description string     `json:"description,omitempty"`
	Owner       string     `json:"owner,omitempty"`
	Rule        string     `json:"rule,omitempty"`
	Cases       []caseJSON `json:"cases,omitempty"`
	Default     string     `json:"default,omitempty"`
	Expr        string     `json:"expr,omitempty"`
	Values      []string   `json:"values,omitempty"`
	Manual      bool       `json:"manual,omitempty"`
}

func loadRules(path string) (*ruleSource, []error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []error{err}
	}
	return parseRules(path, data)
}

// parseRules reads a rules file in JSON (a .json file, or one whose first
// character is '{', or '[' then '{') or in the text format (README,
// "Rules files"). It returns every problem it finds, each as file:line.
func parseRules(path string, data []byte) (*ruleSource, []error) {
	if isJSONRules(path, data) {
		return parseRulesJSON(path, data)
	}
	return parseRulesText(path, data)
}

func isJSONRules(path string, data []byte) bool {
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		return true
	}
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(t) == 0 {
		return false
	}
	if t[0] == '{' {
		return true
	}
	if t[0] == '[' {
		t = bytes.TrimLeft(t[1:], " \t\r\n")
		return len(t) > 0 && (t[0] == '{' || t[0] == ']')
	}
	return false
}

func parseRulesJSON(path string, data []byte) (*ruleSource, []error) {
	doc, err := parseJSONDoc(path, data)
	if err != nil {
		return nil, []error{err}
	}
	var f struct {
		Tags []ruleJSON `json:"tags"`
	}
	prefix := "/tags"
	switch doc.topLevel() {
	case '{':
		err = doc.decode("", &f)
	case '[':
		prefix = ""
		err = doc.decode("", &f.Tags)
	default:
		return nil, []error{doc.errorf("", `want an object {"tags": [...]} or an array of tags`)}
	}
	if err != nil {
		return nil, []error{err}
	}
	src := &ruleSource{path: path}
	var errs []error
	for i, rj := range f.Tags {
		at := prefix + "/" + strconv.Itoa(i)
		d := tags.Definition{Name: rj.Name, Category: rj.Category, Description: rj.Description, Owner: rj.Owner,
			Rule: rj.Rule, Default: rj.Default, Expr: rj.Expr, Values: rj.Values, Manual: rj.Manual}
		// A JSON string is on one line of the file, whatever newlines it
		// holds.
		texts := map[string][]int{"": {doc.lineOf(at + "/rule")}, "value": {doc.lineOf(at + "/expr")}}
		for j, c := range rj.Cases {
			d.Cases = append(d.Cases, tags.Case{When: c.When, Value: c.Value})
			texts[fmt.Sprintf("case %d", j+1)] = []int{doc.lineOf(fmt.Sprintf("%s/cases/%d/when", at, j))}
		}
		line := doc.lineOf(at)
		err := checkKind(&d, rj.Kind)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: tag %q: %w", path, line, rj.Name, err))
		}
		src.add(d, line, texts, err != nil)
	}
	return src, append(errs, src.checkNames()...)
}

func (src *ruleSource) add(d tags.Definition, line int, texts map[string][]int, broken bool) {
	src.defs = append(src.defs, d)
	src.lines = append(src.lines, line)
	src.texts = append(src.texts, texts)
	src.broken = append(src.broken, broken)
	src.dup = append(src.dup, false)
}

// checkKind checks that one thing decides the tag's members and that it
// agrees with the kind the file declares, if any.
func checkKind(d *tags.Definition, kind string) error {
	if kind == "manual" {
		d.Manual = true
	}
	var set []string
	if d.Rule != "" {
		set = append(set, "rule")
	}
	if len(d.Cases) > 0 {
		set = append(set, "cases")
	}
	if d.Expr != "" {
		set = append(set, "expr")
	}
	if d.Manual {
		set = append(set, "manual")
	}
	if len(set) != 1 {
		if len(set) == 0 {
			return errors.New("no rule, cases, expr or manual: one of them must decide the tag's members")
		}
		return fmt.Errorf("%s given: only one of them may decide the tag's members", strings.Join(set, " and "))
	}
	inferred := map[string]string{"rule": "bool", "cases": "enum", "expr": "enum", "manual": "manual"}[set[0]]
	switch kind {
	case "", inferred:
		return nil
	case "bool", "enum", "manual":
		return fmt.Errorf("kind %q, but %s makes a %s tag", kind, set[0], inferred)
	}
	return fmt.Errorf("kind %q: want bool, enum or manual", kind)
}

// checkNames reports tags defined twice.
func (src *ruleSource) checkNames() []error {
	var errs []error
	first := map[string]int{}
	for i, d := range src.defs {
		if j, dup := first[d.Name]; dup {
			errs = append(errs, fmt.Errorf("%s:%d: tag %q defined again (first on line %d)", src.path, src.lines[i], d.Name, src.lines[j]))
			src.dup[i] = true
			continue
		}
		first[d.Name] = i
	}
	return errs
}

// parseRulesText reads the text form of a rules file:
//
//	# comment
//	[refill_due]
//	category: health/chronic
//	rule: days_until(refill_at) <= 7 &&
//	    days_until(refill_at) >= 0
//
// A line starting with white space continues the value above it.
func parseRulesText(path string, data []byte) (*ruleSource, []error) {
	src := &ruleSource{path: path}
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...)))
	}
	type pendingTag struct {
		def   tags.Definition
		kind  string
		line  int
		cases []string // the case expressions, kept apart until the end
		texts map[string]*[]int
		seen  map[string]int
	}
	var cur *pendingTag
	// The value that indented lines continue, and the file lines of its
	// lines.
	var val *string
	var valLines *[]int
	finish := func() {
		if cur == nil {
			return
		}
		for i, w := range cur.cases {
			cur.def.Cases[i].When = w
		}
		err := checkKind(&cur.def, cur.kind)
		if err != nil {
			bad(cur.line, "tag %q: %v", cur.def.Name, err)
		}
		texts := map[string][]int{}
		for part, lines := range cur.texts {
			texts[part] = *lines
		}
		src.add(cur.def, cur.line, texts, err != nil)
		cur, val, valLines = nil, nil, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		raw := strings.TrimRight(sc.Text(), "\r")
		if n == 1 {
			raw = strings.TrimPrefix(raw, "\ufeff")
		}
		text := strings.TrimSpace(raw)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if raw[0] == ' ' || raw[0] == '\t' {
			if val == nil {
				bad(n, "indented line continues nothing: indent only the lines that continue a value")
				continue
			}
			if len(*valLines) > 0 {
				*val += "\n"
			}
			*val += text
			*valLines = append(*valLines, n)
			continue
		}
		val, valLines = nil, nil
		if strings.HasPrefix(text, "[") {
			finish()
			name, ok := strings.CutSuffix(text[1:], "]")
			if !ok || strings.TrimSpace(name) == "" {
				bad(n, "tag header %q: want [name]", text)
				continue
			}
			cur = &pendingTag{def: tags.Definition{Name: strings.TrimSpace(name)}, line: n,
				texts: map[string]*[]int{}, seen: map[string]int{}}
			continue
		}
		if cur == nil {
			bad(n, "%q before the first [tag] header", text)
			continue
		}
		key, value, ok := splitRuleKey(text)
		if !ok {
			bad(n, "want key: value, [tag] or an indented continuation")
			continue
		}
		if prev, dup := cur.seen[key]; dup {
			bad(n, "tag %q: %s given again (first on line %d)", cur.def.Name, key, prev)
			continue
		}
		cur.seen[key] = n
		// continued makes p the value that indented lines below extend;
		// part names it for compile errors.
		continued := func(p *string, part string) {
			*p = value
			lines := []int{}
			if value != "" {
				lines = append(lines, n)
			}
			val, valLines = p, &lines
			if part != "-" {
				cur.texts[part] = valLines
			}
		}
		switch {
		case key == "rule":
			continued(&cur.def.Rule, "")
		case key == "expr":
			continued(&cur.def.Expr, "value")
		case key == "description":
			continued(&cur.def.Description, "-")
		case key == "category":
			cur.def.Category = value
		case key == "owner":
			cur.def.Owner = value
		case key == "default":
			cur.def.Default = value
		case key == "kind":
			cur.kind = value
		case key == "values":
			for v := range strings.SplitSeq(value, ",") {
				if v = strings.TrimSpace(v); v != "" {
					cur.def.Values = append(cur.def.Values, v)
				}
			}
		case key == "manual":
			b, err := strconv.ParseBool(value)
			if err != nil {
				bad(n, "tag %q: manual: %q: want true or false", cur.def.Name, value)
			}
			cur.def.Manual = b
		case strings.HasPrefix(key, "case "):
			cur.def.Cases = append(cur.def.Cases, tags.Case{Value: strings.TrimSpace(key[len("case "):])})
			cur.cases = append(cur.cases, "")
			continued(&cur.cases[len(cur.cases)-1], fmt.Sprintf("case %d", len(cur.cases)))
		default:
			bad(n, "tag %q: unknown key %q: want rule, case VALUE, default, expr, values, manual, kind, category, description or owner", cur.def.Name, key)
		}
	}
	finish()
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s:%d: %w", path, n+1, err))
	}
	return src, append(errs, src.checkNames()...)
}

// splitRuleKey splits "key: value". The key of a case holds its value,
// quoted when it has a colon: case "a:b": expr.
func splitRuleKey(text string) (key, value string, ok bool) {
	if rest, isCase := strings.CutPrefix(text, "case"); isCase && strings.HasPrefix(strings.TrimLeft(rest, " \t"), `"`) {
		rest = strings.TrimLeft(rest, " \t")
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return "", "", false
		}
		v, _ := strconv.Unquote(q)
		after, ok := strings.CutPrefix(strings.TrimLeft(rest[len(q):], " \t"), ":")
		if !ok {
			return "", "", false
		}
		return "case " + v, strings.TrimSpace(after), true
	}
	key, value, ok = strings.Cut(text, ":")
	key = strings.Join(strings.Fields(key), " ")
	return key, strings.TrimSpace(value), ok && key != ""
}
