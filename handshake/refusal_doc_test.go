package handshake_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
)

// These tests keep PROTOCOL.md's lists of error codes, hello refusals,
// ready-line errors and fault classes complete: they read the module's
// source and fail when it gains an entry the document does not list.

// moduleRoot is the directory of the module's go.mod, seen from handshake/.
const moduleRoot = ".."

// readDoc returns PROTOCOL.md, and its lines.
func readDoc(t *testing.T) (string, []string) {
	t.Helper()
	doc, err := os.ReadFile("PROTOCOL.md")
	if err != nil {
		t.Fatalf("read PROTOCOL.md: %v", err)
	}
	return string(doc), strings.Split(string(doc), "\n")
}

// codeConsts returns the Code* constants of package handshake by name.
func codeConsts(t *testing.T) map[string]string {
	t.Helper()
	codes := map[string]string{}
	for _, f := range parseDir(t, ".") {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Code") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						codes[name.Name] = v
					}
				}
			}
		}
	}
	if len(codes) == 0 {
		t.Fatal("found no Code* constants in package handshake")
	}
	return codes
}

// parseDir parses the non-test Go files of one directory.
func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", p, err)
		}
		files = append(files, f)
	}
	return files
}

// libraryDirs returns the module's package directories that ship in the
// library: everything but tests, examples, test data and nested modules.
func libraryDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		switch d.Name() {
		case ".git", "test", "examples", "testdata", "scripts":
			return filepath.SkipDir
		}
		if path != moduleRoot {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
		}
		dirs = append(dirs, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// errorText returns the format string of errors.New("...") or
// fmt.Errorf("...", ...).
func errorText(e ast.Expr) (string, bool) {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) == 0 {
		return "", false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok || !(pkg.Name == "errors" && sel.Sel.Name == "New" || pkg.Name == "fmt" && sel.Sel.Name == "Errorf") {
		return "", false
	}
	lit, ok := call.Args[0].(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// handshakeCode returns the name of a handshake.Code* constant e refers to.
func handshakeCode(e ast.Expr) (string, bool) {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || !strings.HasPrefix(sel.Sel.Name, "Code") {
		return "", false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return sel.Sel.Name, ok && pkg.Name == "handshake"
}

var verb = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)

// textPattern turns a format string into a pattern that matches the
// document's rendering of it, where each verb is a <placeholder> (or a
// value, as in "10s").
func textPattern(format string) *regexp.Regexp {
	parts := verb.Split(format, -1)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(strings.Join(parts, ".+"))
}

// docLine reports whether a line of the document names code in backquotes
// and holds text matching pattern.
func docLine(lines []string, code string, pattern *regexp.Regexp) bool {
	for _, l := range lines {
		if strings.Contains(l, "`"+code+"`") && pattern.MatchString(l) {
			return true
		}
	}
	return false
}

// TestProtocolDocErrorCodes checks that the error-code table lists every
// Code* constant.
func TestProtocolDocErrorCodes(t *testing.T) {
	_, lines := readDoc(t)
	for name, code := range codeConsts(t) {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "| `"+code+"` |") }) {
			t.Errorf("PROTOCOL.md's error-code table has no row for %s (%q)", name, code)
		}
	}
}

// TestProtocolDocRefusals checks that PROTOCOL.md lists every hello
// refusal the code can send, each with its code: the typed mismatch errors,
// and every error built next to a handshake.Code* constant anywhere in the
// library (the worker's refusals).
func TestProtocolDocRefusals(t *testing.T) {
	_, lines := readDoc(t)
	codes := codeConsts(t)

	typed := []error{
		&handshake.SerializerMismatchError{Host: "<host's>", Worker: "<worker's>"},
		&handshake.SerializerCollisionError{Name: "<name>", Host: "<fp>", Worker: "<fp>"},
		&handshake.SerializerCollisionError{Name: "<name>", Host: "json/0a/1", Worker: "json/0a/shared.JSON"},
		&handshake.VersionMismatchError{Host: []int{1}, Worker: []int{2}},
	}
	for _, err := range typed {
		code, _ := handshakewire.ErrorCode(err, "")
		// The document shows placeholders where the error has values.
		text := regexp.MustCompile(`json/0a/1|json/0a/shared\.JSON|\[1\]|\[2\]`).ReplaceAllString(err.Error(), "\x00")
		pattern := regexp.MustCompile(strings.ReplaceAll(regexp.QuoteMeta(text), "\x00", ".+"))
		if !docLine(lines, code, pattern) {
			t.Errorf("PROTOCOL.md lists no refusal with code `%s` and text %q", code, err)
		}
	}

	type refusal struct{ code, text, where string }
	var found []refusal
	for _, dir := range libraryDirs(t) {
		if filepath.Base(dir) == "handshake" {
			continue // the constants and typed errors themselves, checked above
		}
		for _, f := range parseDir(t, dir) {
			ast.Inspect(f, func(n ast.Node) bool {
				var elems []ast.Expr
				switch n := n.(type) {
				case *ast.CompositeLit:
					elems = n.Elts
				case *ast.CallExpr:
					elems = n.Args
				default:
					return true
				}
				var code, text string
				for _, e := range elems {
					if kv, ok := e.(*ast.KeyValueExpr); ok {
						e = kv.Value
					}
					if c, ok := handshakeCode(e); ok {
						code = c
					}
					if s, ok := errorText(e); ok {
						text = s
					}
				}
				if code != "" && text != "" {
					found = append(found, refusal{codes[code], text, dir})
				}
				return true
			})
		}
	}
	// Refusals without a typed error of their own: if none is found, the
	// code changed shape and this test no longer sees it.
	for _, code := range []string{handshake.CodeAuthFailed, handshake.CodeBusy, handshake.CodeShuttingDown} {
		if !slices.ContainsFunc(found, func(r refusal) bool { return r.code == code }) {
			t.Errorf("found no refusal with code %q in the library's source; update this test to the code's new shape", code)
		}
	}
	for _, r := range found {
		if !docLine(lines, r.code, textPattern(r.text)) {
			t.Errorf("%s refuses with code %q and text %q, which PROTOCOL.md does not list", r.where, r.code, r.text)
		}
	}
}

// TestProtocolDocStartupErrors checks that PROTOCOL.md shows every error
// line a worker writes for a start-up failure with code startup: the
// errors passed to the function that writes handshakewire.ErrorLineFor, and
// those of the worker's own functions whose error it passes on.
func TestProtocolDocStartupErrors(t *testing.T) {
	_, lines := readDoc(t)
	var texts []string
	for _, dir := range libraryDirs(t) {
		files := parseDir(t, dir)
		funcs := map[string][]*ast.FuncDecl{}
		for _, f := range files {
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
					funcs[fd.Name.Name] = append(funcs[fd.Name.Name], fd)
				}
			}
		}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				fd, ok := n.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					return true
				}
				fail := failFunc(fd.Body)
				if fail == "" {
					return false
				}
				ast.Inspect(fd.Body, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.CallExpr:
						if id, ok := n.Fun.(*ast.Ident); ok && id.Name == fail && len(n.Args) == 1 {
							if s, ok := errorText(n.Args[0]); ok {
								texts = append(texts, s)
							}
						}
					case *ast.IfStmt:
						// if err := f(...); err != nil { ... fail(err) }
						as, ok := n.Init.(*ast.AssignStmt)
						if !ok || len(as.Rhs) != 1 || !calls(n.Body, fail) {
							return true
						}
						call, ok := as.Rhs[0].(*ast.CallExpr)
						if !ok {
							return true
						}
						if id, ok := call.Fun.(*ast.Ident); ok {
							for _, fd := range funcs[id.Name] {
								ast.Inspect(fd.Body, func(n ast.Node) bool {
									if e, ok := n.(ast.Expr); ok {
										if s, ok := errorText(e); ok {
											texts = append(texts, s)
										}
									}
									return true
								})
							}
						}
					}
					return true
				})
				return false
			})
		}
	}
	if len(texts) < 2 {
		t.Fatalf("found %d start-up error texts (%q) in the library's source; update this test to the code's new shape", len(texts), texts)
	}
	for _, s := range texts {
		if !textPattern("error startup - " + s).MatchString(strings.Join(lines, "\n")) {
			t.Errorf("a worker can write the ready-pipe line %q, which PROTOCOL.md does not show", "error startup - "+s)
		}
	}
}

// failFunc returns the name of a function literal in body that writes
// handshakewire.ErrorLineFor (the worker's "report a start-up failure"), or "".
func failFunc(body *ast.BlockStmt) string {
	name := ""
	ast.Inspect(body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
			return true
		}
		lit, ok := as.Rhs[0].(*ast.FuncLit)
		id, ok2 := as.Lhs[0].(*ast.Ident)
		if ok && ok2 && selects(lit.Body, "handshakewire", "ErrorLineFor") {
			name = id.Name
		}
		return true
	})
	return name
}

// selects reports whether n refers to pkg.name.
func selects(n ast.Node, pkg, name string) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == name {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == pkg {
				found = true
			}
		}
		return !found
	})
	return found
}

// calls reports whether n calls the function named name.
func calls(n ast.Node, name string) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			if id, ok := c.Fun.(*ast.Ident); ok && id.Name == name {
				found = true
			}
		}
		return !found
	})
	return found
}

// TestProtocolDocFaultClasses checks that the error payload's class field
// lists exactly the classes shared/faults defines.
func TestProtocolDocFaultClasses(t *testing.T) {
	_, lines := readDoc(t)
	var want []string
	for _, f := range parseDir(t, filepath.Join(moduleRoot, "shared", "faults")) {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Class" {
					continue
				}
				for _, v := range vs.Values {
					if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if s, _ := strconv.Unquote(lit.Value); s != "" {
							want = append(want, s)
						}
					}
				}
			}
		}
	}
	if len(want) == 0 {
		t.Fatal("found no faults.Class constants")
	}
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "| `class` |") })
	if i < 0 {
		t.Fatal("PROTOCOL.md has no row for the error payload's `class`")
	}
	row := lines[i]
	if j := strings.Index(row, "(see"); j >= 0 {
		row = row[:j]
	}
	var got []string
	for _, m := range regexp.MustCompile("`([a-z]+)`").FindAllStringSubmatch(row, -1) {
		if m[1] != "class" {
			got = append(got, m[1])
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("PROTOCOL.md lists the fault classes %q, shared/faults defines %q", got, want)
	}
}
