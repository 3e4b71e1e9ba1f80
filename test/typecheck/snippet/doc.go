// Package snippet is where the typecheck test compiles snippets from
// testdata, through go build -overlay. It holds nothing of its own.
package snippet
