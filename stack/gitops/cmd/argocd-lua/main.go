// argocd-lua runs the Argo CD health check and resource actions configured in an argocd-cm ConfigMap on a
// live object, the way Argo CD runs them, and prints one JSON report on stdout:
//
//	argocd-lua -argocd-cm argocd-cm.yaml -obj live.json [-action NAME]
//
// -argocd-cm is the ConfigMap as YAML or JSON (e.g. `kubectl kustomize deploy/argocd`), -obj the object as
// `kubectl get -o json` prints it. The report holds the health ({status, message}), the actions the
// discovery script offers, and with -action the object the action returned and the JSON merge patch
// Argo CD would send to the API server for it (`kubectl patch --type merge -p` applies the same patch).
//
// Exit status: 0 done, 1 a script failed (the report says which), 2 bad usage.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"

	jsonpatch "github.com/evanphx/json-patch"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

type report struct {
	// The resource override key, group/Kind.
	Key     string         `json:"key"`
	Health  *healthStatus  `json:"health,omitempty"`
	Actions []actionInfo   `json:"actions"`
	Action  *actionOutcome `json:"action,omitempty"`
	Error   string         `json:"error,omitempty"`
}

type actionOutcome struct {
	Name string `json:"name"`
	// The resources the script returned, with what Argo CD does with each ("patch" or "create").
	Resources []impacted `json:"resources"`
	// For the patched object: the merge patch Argo CD sends (null when the action changes nothing), and
	// whether it touches status (Argo CD then patches the status subresource separately).
	MergePatch    json.RawMessage `json:"mergePatch"`
	PatchesStatus bool            `json:"patchesStatus"`
}

type impacted struct {
	Operation string         `json:"operation"`
	Object    map[string]any `json:"object"`
}

func main() {
	os.Exit(run())
}

func run() int {
	var (
		cmPath  = flag.String("argocd-cm", "", "the argocd-cm ConfigMap (YAML or JSON)")
		objPath = flag.String("obj", "", "the live object (JSON, as kubectl get -o json prints it)")
		action  = flag.String("action", "", "run this resource action and print its patch")
	)
	flag.Parse()
	if *cmPath == "" || *objPath == "" {
		fmt.Fprintln(os.Stderr, "argocd-lua: -argocd-cm and -obj are required")
		flag.Usage()
		return 2
	}
	overrides, err := readOverrides(*cmPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "argocd-lua: %v\n", err)
		return 2
	}
	liveBytes, err := os.ReadFile(*objPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "argocd-lua: %v\n", err)
		return 2
	}
	live := &unstructured.Unstructured{}
	if err := live.UnmarshalJSON(liveBytes); err != nil {
		fmt.Fprintf(os.Stderr, "argocd-lua: %s: %v\n", *objPath, err)
		return 2
	}

	rep := report{Key: overrideKey(live.GroupVersionKind()), Actions: []actionInfo{}}
	code := evaluate(&rep, overrides, live, *action)
	out, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Println(string(out))
	return code
}

func evaluate(rep *report, overrides map[string]override, live *unstructured.Unstructured, action string) int {
	fail := func(format string, args ...any) int {
		rep.Error = fmt.Sprintf(format, args...)
		return 1
	}
	o, ok := overrides[rep.Key]
	if !ok {
		return fail("argocd-cm has no resource customization for %s", rep.Key)
	}

	if o.health != "" {
		h, err := executeHealth(live, o.health, o.useOpenLibs)
		if err != nil {
			return fail("health.lua: %v", err)
		}
		rep.Health = h
	}

	var defs resourceActions
	if o.actions != "" {
		if err := yaml.Unmarshal([]byte(o.actions), &defs); err != nil {
			return fail("resource.customizations.actions: %v", err)
		}
		if defs.Discovery != "" {
			found, err := executeDiscovery(live, defs.Discovery)
			if err != nil {
				return fail("discovery.lua: %v", err)
			}
			sort.Slice(found, func(i, j int) bool { return found[i].Name < found[j].Name })
			rep.Actions = found
		}
	}

	if action == "" {
		return 0
	}
	script := ""
	for _, d := range defs.Definitions {
		if d.Name == action {
			script = d.ActionLua
		}
	}
	if script == "" {
		return fail("no action %q in resource.customizations.actions", action)
	}
	resources, err := executeAction(live, script)
	if err != nil {
		return fail("action %s: %v", action, err)
	}
	outcome := &actionOutcome{Name: action, Resources: []impacted{}, MergePatch: json.RawMessage("null")}
	liveJSON, err := json.Marshal(live)
	if err != nil {
		return fail("%v", err)
	}
	for _, r := range resources {
		outcome.Resources = append(outcome.Resources, impacted{Operation: r.Operation, Object: r.Object.Object})
		if r.Operation != operationPatch {
			continue
		}
		newJSON, err := json.Marshal(r.Object)
		if err != nil {
			return fail("%v", err)
		}
		// What Argo CD's server does with a "patch" result: a JSON merge patch from the live object.
		patch, err := jsonpatch.CreateMergePatch(liveJSON, newJSON)
		if err != nil {
			return fail("computing the merge patch: %v", err)
		}
		if string(patch) != "{}" {
			outcome.MergePatch = patch
			var fields map[string]any
			_ = json.Unmarshal(patch, &fields)
			_, outcome.PatchesStatus = fields["status"]
		}
	}
	rep.Action = outcome
	return 0
}
