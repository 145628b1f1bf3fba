package main

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// formatError turns a template's failure on v (a row's listRow, or the
// header) into a usage error in the terms of the fields, not of the Go
// types behind them: which field a row has empty, or what the value is
// that has no such field.
func formatError(err error, v any) error {
	msg := err.Error()
	node := failedNode(msg)
	if r, ok := v.(listRow); ok && strings.Contains(msg, "nil pointer") {
		return emptyFieldError(r, node)
	}
	if _, after, ok := strings.Cut(msg, "can't evaluate field "); ok {
		field, typ, _ := strings.Cut(after, " in type ")
		if typ != reflect.TypeFor[listRow]().String() {
			return notAFieldError(node, field, typ)
		}
		return usagef("--format: no field %q; the fields are %s", field, strings.Join(rowFields, ", "))
	}
	if _, after, ok := strings.Cut(msg, "map has no entry for key "); ok {
		return usagef("--format: no field %s; the fields are %s", after, strings.Join(rowFields, ", "))
	}
	return usagef("--format: %v", err)
}

// failedNode is the expression a template's execution failed at, as the
// template wrote it (".HeldAt.Unix"), "" when the message names none.
func failedNode(msg string) string {
	_, after, ok := strings.Cut(msg, " at <")
	if !ok {
		return ""
	}
	node, _, ok := strings.Cut(after, ">: ")
	if !ok {
		return ""
	}
	return node
}

// emptyFieldError says which field of r the expression node read
// through while r has it empty (a lease never seen held has no HeldAt, a
// foreign alias no time at all), and how to write the template for rows
// without it.
func emptyFieldError(r listRow, node string) error {
	which := "lease " + r.Slug + " (" + r.Alias + ")"
	if r.Generation == 0 {
		which = r.Alias + " (a foreign alias, not leased)"
	}
	field := emptyFieldIn(r, node)
	if field == "" { // through a variable: the field is not in sight
		return usageError{
			msg:  fmt.Sprintf("--format: %s reads a time that is empty for %s", node, which),
			hint: "AcquiredAt, RenewedAt, HeldAt and VacantSince are empty where a row has no such time: write what reads one inside {{if .HeldAt}}...{{end}}, naming that field",
		}
	}
	return usageError{
		msg:  fmt.Sprintf("--format: %s is empty for %s, so %s cannot be evaluated", field, which, node),
		hint: fmt.Sprintf("%s is empty where a row has no such time: write what reads it inside {{if .%s}}...{{end}}", field, field),
	}
}

// emptyFieldIn is the first field that r has empty (nil) and node names
// (.F, $.F or (.F)), "" for none.
func emptyFieldIn(r listRow, node string) string {
	rv := reflect.ValueOf(r)
	for _, f := range rowFields {
		if fv := rv.FieldByName(f); fv.Kind() == reflect.Pointer && fv.IsNil() && namesField(node, f) {
			return f
		}
	}
	return ""
}

// namesField says whether node holds .f as a whole name (.HeldAt, not
// .HeldAtX).
func namesField(node, f string) bool {
	for i := 0; ; {
		j := strings.Index(node[i:], "."+f)
		if j < 0 {
			return false
		}
		i += j + 1 + len(f)
		if i == len(node) || !isIdentByte(node[i]) {
			return true
		}
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// valueKinds names the types a template meets below the row's fields.
var valueKinds = map[string]string{
	reflect.TypeFor[string]().String():     "a string",
	reflect.TypeFor[generation]().String(): "a number",
	reflect.TypeFor[*when]().String():      "a time",
	reflect.TypeFor[when]().String():       "a time",
	reflect.TypeFor[time.Time]().String():  "a time",
}

// notAFieldError says what the value is whose field node asked for: the
// level below the row (.Slug.Foo asks a string), not the row, whose
// fields the parse already checked.
func notAFieldError(node, field, typ string) error {
	of := node
	if i := strings.LastIndex(node, "."+field); i >= 0 && namesField(node[i:], field) {
		of = node[:i]
	}
	if of == "" {
		of = "the dot here"
	}
	kind, ok := valueKinds[typ]
	if !ok {
		kind = "a value of type " + typ
	}
	e := usageError{msg: fmt.Sprintf("--format: %s is %s, which has no field %s", of, kind, field)}
	if kind == "a time" && of != "the dot here" {
		e.hint = fmt.Sprintf("a time has the methods of Go's time.Time, such as {{%s.Unix}} or {{%s.Format \"2006-01-02\"}}", of, of)
	}
	return e
}
