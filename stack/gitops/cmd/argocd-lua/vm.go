package main

// The Lua environment Argo CD gives health checks and resource actions, rebuilt on the same libraries
// (gopher-lua for the VM, gopher-json for turning Lua tables into JSON) with the same rules:
//   - customizations come from argocd-cm keys resource.customizations.<health|actions|useOpenLibs>.<group_Kind>;
//   - the VM opens only package, base and table, plus a "safe" os module holding just time and date, which
//     Argo CD registers so that only `require("os")` reaches it (there is no global os, string or math);
//     health checks get all standard libraries only with resource.customizations.useOpenLibs.<key>: true,
//     actions never;
//   - the object is the global `obj` (numbers as Lua numbers), a script runs with a 1 s deadline, and its
//     last return value is the result;
//   - health: a table {status, message}; a status outside Healthy, Progressing, Degraded, Suspended, Missing,
//     Unknown becomes Unknown with "Lua returned an invalid health status";
//   - discovery: a table name → {disabled, iconClass, displayName}; an empty table means no actions;
//   - action: the modified obj (a "patch" of the live object), or a list of {operation, resource}; empty
//     tables that were objects in the live object stay objects.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	luajson "layeh.com/gopher-json"
	"sigs.k8s.io/yaml"
)

const (
	customizationsPrefix = "resource.customizations."
	operationPatch       = "patch"
	operationCreate      = "create"
	scriptDeadline       = time.Second
)

type override struct {
	health      string
	useOpenLibs bool
	actions     string
}

// resourceActions is the YAML under resource.customizations.actions.<group_Kind>.
type resourceActions struct {
	Discovery           string             `json:"discovery.lua"`
	Definitions         []actionDefinition `json:"definitions"`
	MergeBuiltinActions bool               `json:"mergeBuiltinActions"`
}

type actionDefinition struct {
	Name      string `json:"name"`
	ActionLua string `json:"action.lua"`
}

// actionInfo is one action as the Argo CD UI lists it.
type actionInfo struct {
	Name        string `json:"name"`
	Disabled    bool   `json:"disabled"`
	IconClass   string `json:"iconClass,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

type healthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type resource struct {
	Operation string
	Object    *unstructured.Unstructured
}

// readOverrides reads the per-kind customizations from an argocd-cm ConfigMap (YAML or JSON).
func readOverrides(path string) (map[string]override, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cm struct {
		Kind     string                `json:"kind"`
		Metadata struct{ Name string } `json:"metadata"`
		Data     map[string]string     `json:"data"`
	}
	if err := yaml.Unmarshal(b, &cm); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if cm.Kind != "ConfigMap" {
		return nil, fmt.Errorf("%s is a %q, not the argocd-cm ConfigMap", path, cm.Kind)
	}
	out := map[string]override{}
	for k, v := range cm.Data {
		if !strings.HasPrefix(k, customizationsPrefix) {
			continue
		}
		// resource.customizations.<type>.<group_Kind>; the group may hold dots, the kind follows "_".
		parts := strings.SplitN(k, ".", 4)
		if len(parts) < 4 {
			continue
		}
		key, err := keyFromGroupKind(parts[3])
		if err != nil {
			return nil, err
		}
		o := out[key]
		switch parts[2] {
		case "health":
			o.health = v
		case "useOpenLibs":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			o.useOpenLibs = b
		case "actions":
			o.actions = v
		case "ignoreDifferences", "ignoreResourceUpdates", "knownTypeFields":
		default:
			return nil, fmt.Errorf("resource customization type %s not supported", parts[2])
		}
		out[key] = o
	}
	return out, nil
}

func keyFromGroupKind(gk string) (string, error) {
	parts := strings.Split(gk, "_")
	switch {
	case len(parts) == 2:
		return parts[0] + "/" + parts[1], nil
	case len(parts) == 1 && gk != "":
		return gk, nil
	}
	return "", fmt.Errorf("%q is not <group_Kind> or <Kind>", gk)
}

func overrideKey(gvk schema.GroupVersionKind) string {
	if gvk.Group == "" {
		return gvk.Kind
	}
	return gvk.Group + "/" + gvk.Kind
}

// runScript runs a script in Argo CD's environment and returns the state holding its results.
func runScript(obj *unstructured.Unstructured, script string, openLibs bool) (*lua.LState, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: !openLibs})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openSafeOs},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			l.Close()
			return nil, err
		}
	}
	l.PreloadModule(lua.OsLibName, safeOsLoader)

	ctx, cancel := context.WithTimeout(context.Background(), scriptDeadline)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("actionParams", l.CreateTable(0, 0))
	l.SetGlobal("obj", toLua(l, obj.Object))

	fn, err := l.LoadString(script)
	if err == nil {
		l.Push(fn)
		err = l.PCall(0, lua.MultRet, nil)
	}
	var apiErr *lua.ApiError
	if errors.As(err, &apiErr) && apiErr.Type == lua.ApiErrorRun {
		apiErr.StackTrace = "" // Argo CD shows users the error without the Lua stack
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// safeOsFuncs are the two os functions Argo CD allows, from gopher-lua's own os library.
func safeOsFuncs() map[string]lua.LGFunction {
	full := lua.NewState()
	defer full.Close()
	osTable := full.GetGlobal(lua.OsLibName).(*lua.LTable)
	funcs := map[string]lua.LGFunction{}
	for _, name := range []string{"time", "date"} {
		funcs[name] = osTable.RawGetString(name).(*lua.LFunction).GFunction
	}
	return funcs
}

// openSafeOs registers the safe functions the way Argo CD does: under the table library's module name,
// where the already loaded table module wins, so that `require("os")` is the only way to them.
func openSafeOs(l *lua.LState) int {
	l.Push(l.RegisterModule(lua.TabLibName, safeOsFuncs()))
	return 1
}

func safeOsLoader(l *lua.LState) int {
	l.Push(l.SetFuncs(l.NewTable(), safeOsFuncs()))
	return 1
}

// toLua turns a decoded JSON value into a Lua value as Argo CD does (numbers become Lua numbers).
func toLua(l *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case int64:
		return lua.LNumber(x)
	case int:
		return lua.LNumber(x)
	case int32:
		return lua.LNumber(x)
	case json.Number:
		return lua.LString(x)
	case string:
		return lua.LString(x)
	case []any:
		t := l.CreateTable(len(x), 0)
		for _, item := range x {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(x))
		for k, item := range x {
			t.RawSetH(lua.LString(k), toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

// runToJSON runs a script and returns the table it returned, encoded as JSON the way Argo CD encodes it.
// A script that returns nil gives nil bytes when nilOK, an error otherwise.
func runToJSON(obj *unstructured.Unstructured, script string, openLibs, nilOK bool) ([]byte, error) {
	l, err := runScript(obj, script, openLibs)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	v := l.Get(-1)
	if nilOK && v.Type() == lua.LTNil {
		return nil, nil
	}
	if v.Type() != lua.LTTable {
		return nil, fmt.Errorf("expect table output from Lua script, not %s", v.Type())
	}
	return luajson.Encode(v)
}

func executeHealth(obj *unstructured.Unstructured, script string, openLibs bool) (*healthStatus, error) {
	b, err := runToJSON(obj, script, openLibs, true)
	if err != nil {
		return nil, err
	}
	if b == nil { // the script returned nil
		return &healthStatus{}, nil
	}
	if string(b) == "[]" { // an empty table
		return &healthStatus{}, nil
	}
	h := &healthStatus{}
	if err := json.Unmarshal(b, h); err != nil {
		return nil, err
	}
	switch h.Status {
	case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
		return h, nil
	}
	return &healthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
}

func executeDiscovery(obj *unstructured.Unstructured, script string) ([]actionInfo, error) {
	b, err := runToJSON(obj, script, false, false)
	if err != nil {
		return nil, err
	}
	found := []actionInfo{}
	if string(b) == "[]" {
		return found, nil
	}
	var table map[string]any
	if err := json.Unmarshal(b, &table); err != nil {
		return nil, fmt.Errorf("the discovery table is not name → action: %w", err)
	}
	for name, value := range table {
		a := actionInfo{Name: name}
		if fields, ok := value.(map[string]any); ok {
			raw, _ := json.Marshal(fields)
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, fmt.Errorf("action %s: %w", name, err)
			}
			a.Name = name
		}
		found = append(found, a)
	}
	return found, nil
}

func executeAction(obj *unstructured.Unstructured, script string) ([]resource, error) {
	live := obj.DeepCopy()
	b, err := runToJSON(obj, script, false, false)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 {
		return nil, errors.New("Lua output was not a valid json object or array")
	}
	var out []resource
	if b[0] == '[' {
		var list []struct {
			Operation string         `json:"operation"`
			Resource  map[string]any `json:"resource"`
		}
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, err
		}
		for _, r := range list {
			switch r.Operation {
			case operationPatch, operationCreate:
			default:
				return nil, fmt.Errorf("unsupported operation %q", r.Operation)
			}
			out = append(out, resource{Operation: r.Operation, Object: &unstructured.Unstructured{Object: r.Resource}})
		}
	} else {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			return nil, err
		}
		out = append(out, resource{Operation: operationPatch, Object: u})
	}
	for _, r := range out {
		if r.Operation == operationPatch {
			r.Object.Object = keepObjects(r.Object.Object, live.Object)
		}
	}
	return out, nil
}

// keepObjects undoes what a Lua table cannot tell: an empty table comes back as [], which must stay {} where
// the live object had an object.
func keepObjects(updated, live map[string]any) map[string]any {
	for k, old := range live {
		nv, ok := updated[k]
		if !ok {
			continue
		}
		switch n := nv.(type) {
		case map[string]any:
			if o, ok := old.(map[string]any); ok {
				updated[k] = keepObjects(n, o)
			}
		case []any:
			switch o := old.(type) {
			case map[string]any:
				if len(n) == 0 {
					updated[k] = map[string]any{}
				}
			case []any:
				updated[k] = keepObjectsInList(n, o)
			}
		}
	}
	return updated
}

func keepObjectsInList(updated, live []any) []any {
	for i := range updated {
		if i >= len(live) {
			break
		}
		switch n := updated[i].(type) {
		case map[string]any:
			if o, ok := live[i].(map[string]any); ok {
				updated[i] = keepObjects(n, o)
			}
		case []any:
			if o, ok := live[i].([]any); ok {
				updated[i] = keepObjectsInList(n, o)
			}
		}
	}
	return updated
}
