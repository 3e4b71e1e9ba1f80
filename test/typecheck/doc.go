// Package typecheck holds a test that the typed API catches mismatched
// request and result types at compile time, on the host side (host.Call)
// and the worker side (plugin.Handle). The snippets it compiles are in
// testdata; the snippet package is where they are compiled.
package typecheck
