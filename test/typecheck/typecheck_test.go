package typecheck

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A snippet in testdata is compiled as the file snippet/snippet.go (which
// does not exist on disk) through go build -overlay. The bad snippets
// differ from good.go.txt in one line, marked "// ERROR", where the
// compiler must report the mismatch.
//
// A mismatch in an argument of a generic call is reported by type
// inference ("does not match inferred type"); a mismatch in an assignment
// as "cannot use".
var badSnippets = []struct {
	file string
	want []string // substrings of the compiler's error
}{
	{"bad_host_request.go.txt", []string{"in call to host.Call", "type OtherReq", "does not match inferred type ComputeReq"}},
	{"bad_host_result.go.txt", []string{"cannot use host.Call", "ComputeRes", "as OtherRes value in assignment"}},
	{"bad_worker_request.go.txt", []string{"in call to plugin.Handle", "req OtherReq", "does not match inferred type", "req ComputeReq"}},
	{"bad_worker_result.go.txt", []string{"in call to plugin.Handle", "(OtherRes, error)", "does not match inferred type", "(ComputeRes, error)"}},
}

func TestSnippets(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles packages with the go command")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to type-check the snippets: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", root, err)
	}

	// The good snippet first, alone: it fills the build cache with host,
	// plugin and their dependencies, so the bad ones compile only themselves.
	t.Run("good.go.txt", func(t *testing.T) {
		out, err := buildSnippet(t, goTool, root, "good.go.txt")
		if err != nil {
			t.Fatalf("go build of good.go.txt = %v, want success; output:\n%s", err, out)
		}
	})
	if t.Failed() {
		return
	}
	for _, tt := range badSnippets {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			out, err := buildSnippet(t, goTool, root, tt.file)
			if err == nil {
				t.Fatalf("go build of %s succeeded, want a compile error", tt.file)
			}
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatalf("go build of %s = %v, want it to run and fail", tt.file, err)
			}
			line := markedLine(t, tt.file)
			errs := compileErrors(out, tt.file)
			if len(errs) != 1 {
				t.Fatalf("go build of %s reported %d errors, want exactly one, at line %d; output:\n%s", tt.file, len(errs), line, out)
			}
			if want := fmt.Sprintf("%s:%d:", tt.file, line); !strings.Contains(errs[0], want) {
				t.Errorf("error %q is not at the marked line, want %q", errs[0], want)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs[0], w) {
					t.Errorf("error %q does not mention %q", errs[0], w)
				}
			}
		})
	}
}

// buildSnippet compiles testdata/file as package snippet and returns the go
// command's combined output.
func buildSnippet(t *testing.T, goTool, root, file string) (string, error) {
	t.Helper()
	src, err := filepath.Abs(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	overlay := map[string]map[string]string{"Replace": {
		filepath.Join(root, "test", "typecheck", "snippet", "snippet.go"): src,
	}}
	b, err := json.Marshal(overlay)
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(t.TempDir(), "overlay.json")
	if err := os.WriteFile(overlayFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-overlay="+overlayFile, "./test/typecheck/snippet")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// markedLine returns the number of the line of testdata/file marked
// "// ERROR".
func markedLine(t *testing.T, file string) int {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.HasSuffix(sc.Text(), "// ERROR") {
			return n
		}
	}
	t.Fatalf("testdata/%s has no line marked // ERROR", file)
	return 0
}

// compileErrors returns the compiler's error lines about file.
func compileErrors(out, file string) []string {
	re := regexp.MustCompile(regexp.QuoteMeta(file) + `:\d+:\d+: `)
	var errs []string
	for l := range strings.SplitSeq(out, "\n") {
		if re.MatchString(l) {
			errs = append(errs, l)
		}
	}
	return errs
}

// The snippets must not drift apart: each bad one is good.go.txt with the
// marked line (and the comment on line 2) changed.
func TestSnippetsDifferInOneLine(t *testing.T) {
	good := readLines(t, "good.go.txt")
	for _, tt := range badSnippets {
		bad := readLines(t, tt.file)
		if len(bad) != len(good) {
			t.Errorf("%s has %d lines, good.go.txt %d; want the same", tt.file, len(bad), len(good))
			continue
		}
		var differ []int
		for i := range good {
			if good[i] != bad[i] {
				differ = append(differ, i+1)
			}
		}
		line := markedLine(t, tt.file)
		for _, n := range differ {
			if n != 2 && n != line && n != line-1 && n != line+1 {
				t.Errorf("%s differs from good.go.txt at line %d, away from the marked line %d", tt.file, n, line)
			}
		}
	}
}

func readLines(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(b), "\n")
}
