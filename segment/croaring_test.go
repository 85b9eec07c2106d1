package segment

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// croaringProgram reads a portable bitmap and prints its cardinality and
// values, or writes the values on stdin as a run-optimised portable bitmap:
// CRoaring, the reference implementation, on the other side of our bytes.
const croaringProgram = `
#include <roaring/roaring.h>
#include <stdio.h>
#include <stdlib.h>

static bool print_value(uint32_t v, void *out) {
	fprintf((FILE *)out, "%u\n", v);
	return true;
}

int main(int argc, char **argv) {
	if (argc != 3) return 64;
	if (argv[1][0] == 'r') {
		FILE *f = fopen(argv[2], "rb");
		if (!f) return 66;
		fseek(f, 0, SEEK_END);
		long size = ftell(f);
		fseek(f, 0, SEEK_SET);
		char *buf = malloc(size > 0 ? size : 1);
		if (fread(buf, 1, size, f) != (size_t)size) return 74;
		size_t need = roaring_bitmap_portable_deserialize_size(buf, size);
		if (need != (size_t)size) {
			fprintf(stderr, "portable size %zu, file %ld\n", need, size);
			return 65;
		}
		roaring_bitmap_t *r = roaring_bitmap_portable_deserialize_safe(buf, size);
		if (!r) {
			fprintf(stderr, "deserialize failed\n");
			return 65;
		}
		printf("%llu\n", (unsigned long long)roaring_bitmap_get_cardinality(r));
		roaring_iterate(r, print_value, stdout);
		return 0;
	}
	roaring_bitmap_t *r = roaring_bitmap_create();
	unsigned long v;
	while (scanf("%lu", &v) == 1) roaring_bitmap_add(r, (uint32_t)v);
	roaring_bitmap_run_optimize(r);
	size_t n = roaring_bitmap_portable_size_in_bytes(r);
	char *buf = malloc(n);
	roaring_bitmap_portable_serialize(r, buf);
	FILE *f = fopen(argv[2], "wb");
	if (!f || fwrite(buf, 1, n, f) != n) return 74;
	fclose(f);
	return 0;
}
`

// buildCRoaring compiles the program against Debian's libroaring-dev. When
// the tool chain or the library is missing the test skips, or fails under
// CDPKIT_CI=1, where the CI script installs them.
func buildCRoaring(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "roar.c")
	bin := filepath.Join(dir, "roar")
	require.NoError(t, os.WriteFile(src, []byte(croaringProgram), 0o644))
	gcc, err := exec.LookPath("gcc")
	if err == nil {
		var out []byte
		out, err = exec.Command(gcc, "-O1", "-o", bin, src, "-lroaring").CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, out)
		}
	}
	if err != nil {
		if os.Getenv("CDPKIT_CI") == "1" {
			t.Fatalf("CRoaring interop needs gcc and libroaring-dev: %v", err)
		}
		t.Skipf("skipping CRoaring interop (apt-get install gcc libroaring-dev): %v", err)
	}
	return bin
}

// TestCRoaringReadsExport exports audiences of every container shape —
// arrays, bitmaps, full chunks, a chunk at the top of the ID space — and
// checks that CRoaring decodes exactly the members the reference expects.
func TestCRoaringReadsExport(t *testing.T) {
	bin := buildCRoaring(t)
	ix := New(nil)
	want := map[string][]uint32{}
	require.NoError(t, ix.Update(func(tx *Tx) error {
		for _, name := range []string{"odd", "few", "block", "top"} {
			require.NoError(t, tx.Declare(name, KindTag))
		}
		for id := uint32(1); id < 200000; id += 2 {
			want["odd"] = append(want["odd"], id)
		}
		for id := uint32(7); id < 300000; id += 997 {
			want["few"] = append(want["few"], id)
		}
		for id := uint32(65536); id < 3*65536+5; id++ {
			want["block"] = append(want["block"], id)
		}
		want["top"] = []uint32{0, 4294967294, 4294967295}
		for name, ids := range want {
			require.NoError(t, tx.AddTag(name, ids...))
		}
		return nil
	}))
	v := ix.View()
	for name, ids := range want {
		t.Run(name, func(t *testing.T) {
			got := croaringRead(t, bin, v, Tag(name))
			assert.Equal(t, len(ids), len(got))
			assert.True(t, slices.Equal(ids, got), "CRoaring decodes other members")
		})
	}
	// An expression's result, not just a stored tag: odd members in the
	// block, and not among the few.
	var expect []uint32
	few := map[uint32]bool{}
	for _, id := range want["few"] {
		few[id] = true
	}
	for id := uint32(65537); id < 3*65536+5; id += 2 {
		if !few[id] {
			expect = append(expect, id)
		}
	}
	got := croaringRead(t, bin, v, And(Tag("odd"), Tag("block"), Not(Tag("few"))))
	assert.True(t, slices.Equal(expect, got), "expression export: %d members, want %d", len(got), len(expect))
}

func croaringRead(t *testing.T, bin string, v *View, p *Plan) []uint32 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audience.roaring")
	var buf bytes.Buffer
	_, err := v.Export(&buf, p)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	out, err := exec.Command(bin, "read", path).Output()
	require.NoError(t, err, "CRoaring rejects our bytes")
	sc := bufio.NewScanner(bytes.NewReader(out))
	require.True(t, sc.Scan())
	card, err := strconv.ParseUint(sc.Text(), 10, 64)
	require.NoError(t, err)
	var ids []uint32
	for sc.Scan() {
		x, err := strconv.ParseUint(sc.Text(), 10, 32)
		require.NoError(t, err)
		ids = append(ids, uint32(x))
	}
	require.Equal(t, card, uint64(len(ids)))
	return ids
}

// TestCRoaringWritesWeRead has CRoaring write run-optimised bitmaps, which
// use the run-container variant of the format, and decodes them.
func TestCRoaringWritesWeRead(t *testing.T) {
	bin := buildCRoaring(t)
	var values []string
	want := roaring.New()
	add := func(x uint32) {
		want.Add(x)
		values = append(values, strconv.FormatUint(uint64(x), 10))
	}
	for x := uint32(100); x < 70000; x++ { // long runs: run containers
		add(x)
	}
	for x := uint32(200000); x < 400000; x += 3 { // bitmap containers
		add(x)
	}
	for _, x := range []uint32{5, 9, 1 << 31, 4294967295} { // arrays
		add(x)
	}
	path := filepath.Join(t.TempDir(), "from-c.roaring")
	cmd := exec.Command(bin, "write", path)
	cmd.Stdin = strings.NewReader(strings.Join(values, "\n"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, uint16(cookieRuns), uint16(data[0])|uint16(data[1])<<8, "CRoaring wrote runs")
	got, err := readPortable(data)
	require.NoError(t, err)
	assert.Equal(t, want.GetCardinality(), got.card())
	assert.True(t, want.Equals(got.toRoaring()))
}
