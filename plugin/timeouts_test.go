package plugin

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// Production code never sleeps, and every duration is named in
// timeouts.go (or is a documented Config default in config.go), so each
// wait on another process has one place where it is bounded and explained.
func TestTimeoutsInOnePlace(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]bool{"Nanosecond": true, "Microsecond": true, "Millisecond": true,
		"Second": true, "Minute": true, "Hour": true}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "time" {
				return true
			}
			switch {
			case sel.Sel.Name == "Sleep":
				t.Errorf("%v: time.Sleep in production code: wait for the event instead", fset.Position(sel.Pos()))
			case units[sel.Sel.Name] && name != "timeouts.go" && name != "config.go":
				t.Errorf("%v: a duration outside timeouts.go: name it there, with what it bounds and why", fset.Position(sel.Pos()))
			}
			return true
		})
	}
}
