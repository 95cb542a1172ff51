package gateway_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestInterfacesSmall holds issue 12's rule: no interface under gateway/
// has more than eight methods (the store is given by role, gateway.Stores,
// not as one interface of them all). Embedded interfaces of the same
// package count with their methods; one from another package counts one.
func TestInterfacesSmall(t *testing.T) {
	const max = 8
	type iface struct {
		pos  token.Position
		node *ast.InterfaceType
	}
	fset := token.NewFileSet()
	byDir := map[string]map[string]*ast.InterfaceType{} // dir -> named interfaces
	var all []iface
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		if byDir[dir] == nil {
			byDir[dir] = map[string]*ast.InterfaceType{}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.TypeSpec:
				if it, ok := n.Type.(*ast.InterfaceType); ok {
					byDir[dir][n.Name.Name] = it
				}
			case *ast.InterfaceType:
				all = append(all, iface{fset.Position(n.Pos()), n})
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var count func(dir string, it *ast.InterfaceType, seen map[*ast.InterfaceType]bool) int
	count = func(dir string, it *ast.InterfaceType, seen map[*ast.InterfaceType]bool) int {
		if seen[it] {
			return 0
		}
		seen[it] = true
		n := 0
		for _, f := range it.Methods.List {
			switch typ := f.Type.(type) {
			case *ast.FuncType:
				n += len(f.Names)
			case *ast.Ident:
				if emb, ok := byDir[dir][typ.Name]; ok {
					n += count(dir, emb, seen)
				} else {
					n++ // a predeclared one (error, comparable)
				}
			default:
				n++ // pkg.Iface, or a type-set term
			}
		}
		return n
	}
	checked := 0
	for _, i := range all {
		checked++
		if n := count(filepath.Dir(i.pos.Filename), i.node, map[*ast.InterfaceType]bool{}); n > max {
			t.Errorf("%s: an interface of %d methods (at most %d: split it by role)", i.pos, n, max)
		}
	}
	if checked < 10 {
		t.Fatalf("found only %d interfaces under gateway/: the walk is broken", checked)
	}
}
