package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cdpkit/cdpkit/identity"
)

// kindsConfig is the resolver configuration a kinds file declares, with
// the other names the input may use for a kind.
type kindsConfig struct {
	cfg     identity.Config
	aliases map[string]string // name in the input → declared kind
}

// canonical maps a kind named in the input to a declared kind.
func (k *kindsConfig) canonical(name string) (string, bool) {
	if n, ok := k.aliases[name]; ok {
		return n, true
	}
	return "", false
}

// kindsFile is the JSON form of a kinds file; see the README, "cdpkit
// resolve".
type kindsFile struct {
	Kinds          []kindJSON `json:"kinds"`
	MaxIdentifiers int        `json:"max_identifiers,omitempty"`
	MaxMerges      int        `json:"max_merges,omitempty"`
}

type kindJSON struct {
	Name               string   `json:"name"`
	Aliases            []string `json:"aliases,omitempty"`
	Normalize          string   `json:"normalize,omitempty"`
	Scoped             bool     `json:"scoped,omitempty"`
	Limit              int      `json:"limit,omitempty"`
	Window             string   `json:"window,omitempty"`
	LimitPerScope      bool     `json:"limit_per_scope,omitempty"`
	Blocked            []string `json:"blocked,omitempty"`
	BlockedPatterns    []string `json:"blocked_patterns,omitempty"`
	KeepDefaultBlocked bool     `json:"keep_default_blocked,omitempty"`
}

// normalizers are the normalisers a kinds file may name.
var normalizers = []struct {
	name string
	fn   identity.Normalizer
}{
	{"token", identity.NormalizeToken},
	{"lower", identity.NormalizeLower},
	{"cn_mobile", identity.NormalizeCNMobile},
	{"email", identity.NormalizeEmail},
}

func normalizerName(fn identity.Normalizer) string {
	if fn == nil {
		return "token"
	}
	p := reflect.ValueOf(fn).Pointer()
	for _, n := range normalizers {
		if reflect.ValueOf(n.fn).Pointer() == p {
			return n.name
		}
	}
	return "custom"
}

// defaultKinds is identity.DefaultKinds, whose names are those cdpkit gen
// writes.
func defaultKinds() *kindsConfig {
	kc := &kindsConfig{cfg: identity.Config{Kinds: identity.DefaultKinds()}, aliases: map[string]string{}}
	for _, k := range kc.cfg.Kinds {
		kc.aliases[k.Name] = k.Name
	}
	return kc
}

// kindsJSON writes a configuration in the kinds file format, for
// --print-kinds.
func (k *kindsConfig) kindsJSON() ([]byte, error) {
	f := kindsFile{MaxIdentifiers: k.cfg.MaxIdentifiers, MaxMerges: k.cfg.MaxMerges}
	for _, kd := range k.cfg.Kinds {
		kj := kindJSON{Name: kd.Name, Normalize: normalizerName(kd.Normalize), Scoped: kd.Scoped, Limit: kd.Limit,
			LimitPerScope: kd.LimitPerScope, Blocked: kd.Blocked, BlockedPatterns: kd.BlockedPatterns,
			KeepDefaultBlocked: kd.KeepDefaultBlocked}
		if kj.Normalize == "token" {
			kj.Normalize = ""
		}
		if kd.Window > 0 {
			kj.Window = formatWindow(kd.Window)
		}
		for alias, name := range k.aliases {
			if name == kd.Name && alias != name {
				kj.Aliases = append(kj.Aliases, alias)
			}
		}
		f.Kinds = append(f.Kinds, kj)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// formatWindow writes whole days as "90d", anything else as a Go duration.
func formatWindow(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String() // 36h0m0s
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// parseWindow reads "90d" or a Go duration ("36h", "1h30m").
func parseWindow(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseInt(n, 10, 32)
		if err != nil || days <= 0 {
			return 0, fmt.Errorf("window %q: want a positive number of days (90d) or a Go duration (36h)", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("window %q: want a positive number of days (90d) or a Go duration (36h)", s)
	}
	return d, nil
}

// loadKinds reads a kinds file.
func loadKinds(path string) (*kindsConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseKinds(path, data)
}

// parseKinds reads a kinds file: a JSON object {"kinds": [...],
// "max_identifiers": N, "max_merges": N}, or just the array of kinds.
// Problems are reported as path:line.
func parseKinds(path string, data []byte) (*kindsConfig, error) {
	doc, err := parseJSONDoc(path, data)
	if err != nil {
		return nil, err
	}
	var f kindsFile
	prefix := "/kinds"
	switch doc.topLevel() {
	case '{':
		err = doc.decode("", &f)
	case '[':
		prefix = ""
		err = doc.decode("", &f.Kinds)
	default:
		return nil, doc.errorf("", `want an object {"kinds": [...]} or an array of kinds`)
	}
	if err != nil {
		return nil, err
	}
	if len(f.Kinds) == 0 {
		return nil, doc.errorf(prefix, "no kinds declared")
	}
	kc := &kindsConfig{cfg: identity.Config{MaxIdentifiers: f.MaxIdentifiers, MaxMerges: f.MaxMerges}, aliases: map[string]string{}}
	lines := make([]int, len(f.Kinds))
	names := make([]string, len(f.Kinds))
	for i, kj := range f.Kinds {
		at := prefix + "/" + strconv.Itoa(i)
		lines[i], names[i] = doc.lineOf(at), kj.Name
		k := identity.Kind{Name: kj.Name, Scoped: kj.Scoped, Limit: kj.Limit, LimitPerScope: kj.LimitPerScope,
			Blocked: kj.Blocked, BlockedPatterns: kj.BlockedPatterns, KeepDefaultBlocked: kj.KeepDefaultBlocked}
		if kj.Name == "" {
			return nil, doc.errorf(at, "kind %d has no name", i)
		}
		if kj.Normalize != "" {
			found := false
			for _, n := range normalizers {
				if n.name == kj.Normalize {
					k.Normalize, found = n.fn, true
				}
			}
			if !found {
				return nil, doc.errorf(at+"/normalize", "kind %q: unknown normalize %q: want token, lower, cn_mobile or email", kj.Name, kj.Normalize)
			}
		}
		if kj.Window != "" {
			if k.Window, err = parseWindow(kj.Window); err != nil {
				return nil, doc.errorf(at+"/window", "kind %q: %v", kj.Name, err)
			}
		}
		for j, p := range kj.BlockedPatterns {
			if _, err := regexp.Compile(p); err != nil {
				return nil, doc.errorf(fmt.Sprintf("%s/blocked_patterns/%d", at, j), "kind %q: blocked pattern: %v", kj.Name, err)
			}
		}
		for j, name := range append([]string{kj.Name}, kj.Aliases...) {
			if prev, dup := kc.aliases[name]; dup {
				where := at
				if j > 0 {
					where = fmt.Sprintf("%s/aliases/%d", at, j-1)
				}
				return nil, doc.errorf(where, "kind %q: name %q is already used by kind %q", kj.Name, name, prev)
			}
			kc.aliases[name] = kj.Name
		}
		kc.cfg.Kinds = append(kc.cfg.Kinds, k)
	}
	if _, err := identity.New(kc.cfg); err != nil {
		// identity names a kind by position ("kind 3") and name.
		return nil, lineOfName(path, err, names, lines, "kind")
	}
	return kc, nil
}
