package main

import (
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
)

// listFormat parses --format: a template, and whether a "table" format
// wants a header and aligned columns. No template and no table is JSON; no
// template and a table is the default table ("" or "table", as docker ps
// takes it), printed without a template, since a list of a full pool's leases
// would spend most of its time executing one.
func listFormat(format string) (tmpl *template.Template, table bool, err error) {
	switch format {
	case "json":
		return nil, false, nil
	case "", "table":
		return nil, true, nil
	}
	// As with docker's --format, \t and \n typed in a shell stand for a
	// tab and a newline.
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	table = strings.HasPrefix(format, "table ")
	tmpl, err = template.New("format").Option("missingkey=error").Funcs(template.FuncMap{"json": toJSON}).
		Parse(strings.TrimPrefix(format, "table "))
	if err != nil {
		return nil, false, usagef("--format: %v", err)
	}
	if f, ok := unknownField(tmpl.Tree.Root, true); ok {
		return nil, false, usagef("--format: no field %q; the fields are %s", f, strings.Join(rowFields, ", "))
	}
	return tmpl, table, nil
}

// unknownField returns the first field the template names, in its
// order, that a row does not have: a typo is refused before the database
// is read, whichever branch it is in and however many rows there are.
// Inside {{with}} and {{range}} the dot is a value of the row, not the
// row (.AcquiredAt.Unix is fine there as .Unix), so only $.Field is
// checked; anything else fails, if it does, on the rows.
func unknownField(n parse.Node, rowDot bool) (string, bool) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			return firstUnknownField(rowDot, n.Nodes...)
		}
	case *parse.ActionNode:
		return unknownField(n.Pipe, rowDot)
	case *parse.TemplateNode:
		return unknownField(n.Pipe, rowDot)
	case *parse.PipeNode:
		if n != nil {
			for _, c := range n.Cmds {
				if f, ok := unknownField(c, rowDot); ok {
					return f, true
				}
			}
		}
	case *parse.CommandNode:
		return firstUnknownField(rowDot, n.Args...)
	case *parse.IfNode:
		return firstUnknownField(rowDot, n.Pipe, n.List, n.ElseList)
	case *parse.WithNode:
		if f, ok := firstUnknownField(rowDot, n.Pipe, n.ElseList); ok {
			return f, true
		}
		return unknownField(n.List, isRow(n.Pipe, rowDot)) // {{with .}} keeps the row
	case *parse.RangeNode:
		if f, ok := firstUnknownField(rowDot, n.Pipe, n.ElseList); ok {
			return f, true
		}
		return unknownField(n.List, false)
	default:
		return unknownName(n, rowDot)
	}
	return "", false
}

// firstUnknownField returns the first unknown field of ns, in order.
func firstUnknownField(rowDot bool, ns ...parse.Node) (string, bool) {
	for _, n := range ns {
		if f, ok := unknownField(n, rowDot); ok {
			return f, true
		}
	}
	return "", false
}

// unknownName checks the nodes that name a field: .F where the dot is
// the row, $.F, and (x).F where x is the row.
func unknownName(n parse.Node, rowDot bool) (string, bool) {
	known := func(f string) bool { return slices.Contains(rowFields, f) }
	switch n := n.(type) {
	case *parse.ChainNode: // (x).F: F is a field of x's value, the row's for (.) and ($)
		if isRow(n.Node, rowDot) && !known(n.Field[0]) {
			return n.Field[0], true
		}
		return unknownField(n.Node, rowDot)
	case *parse.FieldNode:
		if rowDot && !known(n.Ident[0]) {
			return n.Ident[0], true
		}
	case *parse.VariableNode:
		if n.Ident[0] == "$" && len(n.Ident) > 1 && !known(n.Ident[1]) {
			return n.Ident[1], true
		}
	}
	return "", false
}

// isRow says whether x is the row: the dot where it is the row, or $, in
// as many parentheses (or a with's declaration) as may be.
func isRow(x parse.Node, rowDot bool) bool {
	for p, ok := x.(*parse.PipeNode); ok && len(p.Cmds) == 1 && len(p.Cmds[0].Args) == 1; p, ok = x.(*parse.PipeNode) {
		x = p.Cmds[0].Args[0]
	}
	switch x := x.(type) {
	case *parse.DotNode:
		return rowDot
	case *parse.VariableNode:
		return len(x.Ident) == 1 && x.Ident[0] == "$"
	}
	return false
}
