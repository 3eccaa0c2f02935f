// flux-apply applies a folder of manifests to a cluster the way Flux's kustomize-controller does, with
// Flux's own apply library and kstatus, and prints what the engine saw as one JSON report on stdout:
//
//   - the objects are read with ssa/utils.ReadObjects and normalized with ssa/normalize;
//   - they get the ownership labels and are applied with ResourceManager.ApplyAllStaged under the field
//     manager "kustomize-controller" with kustomize-controller's apply options (cluster definitions and
//     namespaces first, then a server-side dry-run of every other object, and a real apply only of those
//     whose dry-run result differs from the live object);
//   - health is checked with ResourceManager.WaitForSetWithContext (kstatus polling), either on every applied
//     object (-wait, Flux's spec.wait) or on a list (-health-check, Flux's spec.healthChecks);
//   - every object's kstatus status and message are computed with kstatus' status.Compute.
//
// The report also counts the HTTP writes the engine sent (dry-runs apart), and each object's resourceVersion,
// generation and the field manager's managedFields time before and after the apply: the evidence that a
// second apply of an unchanged folder writes nothing.
//
// Exit status: 0 applied and healthy (or no health check asked for), 3 applied but the health check failed,
// 1 the apply failed, 2 bad usage. The report is printed in every case but bad usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/normalize"
	ssautil "github.com/fluxcd/pkg/ssa/utils"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The names kustomize-controller applies with.
const (
	fieldManager = "kustomize-controller"
	ownerGroup   = "kustomize.toolkit.fluxcd.io"
)

type report struct {
	FieldManager string `json:"fieldManager"`
	// Files in the order they were read.
	Files []string `json:"files"`
	// One entry per object, in the order ApplyAllStaged reported them.
	Objects []objectReport `json:"objects"`
	// HTTP requests that change something, sent during the apply (dry-runs excluded).
	Writes []string `json:"writes"`
	// Server-side dry-runs sent during the apply.
	DryRuns    int         `json:"dryRuns"`
	ApplyError string      `json:"applyError,omitempty"`
	Wait       *waitReport `json:"wait,omitempty"`
}

type objectReport struct {
	// kind/namespace/name, as Flux prints it.
	Subject string `json:"subject"`
	// created, configured, unchanged, skipped.
	Action string `json:"action"`
	Before meta   `json:"before"`
	After  meta   `json:"after"`
	// kstatus: InProgress, Current, Failed, Terminating, NotFound, Unknown.
	Status  string `json:"status"`
	Message string `json:"message"`
}

type meta struct {
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Generation      int64  `json:"generation,omitempty"`
	// When the field manager's Apply entry in managedFields last changed.
	ManagedFieldsTime string `json:"managedFieldsTime,omitempty"`
}

type waitReport struct {
	// The objects waited for (kind/namespace/name).
	Objects []string `json:"objects"`
	// WaitForSet's error, which Flux puts into the Kustomization's Ready condition; empty when all are Current.
	Error string `json:"error,omitempty"`
}

func main() {
	os.Exit(run())
}

func run() int {
	var (
		kubeconfig   = flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster")
		path         = flag.String("path", "", "folder of manifests (*.yaml, *.yml, *.json, recursively) or one file")
		order        = flag.String("order", "name", "order the files are read in: name, reverse or shuffle")
		seed         = flag.Int64("seed", 1, "seed for -order shuffle")
		ownerName    = flag.String("owner-name", "apps", "name of the Flux Kustomization that owns the objects (ownership label)")
		ownerNs      = flag.String("owner-namespace", "flux-system", "namespace of the Flux Kustomization (ownership label)")
		wait         = flag.Bool("wait", false, "wait for every applied object to be Current (Flux's spec.wait)")
		healthChecks = flag.String("health-check", "", "comma-separated kind/namespace/name to wait for (Flux's spec.healthChecks)")
		timeout      = flag.Duration("timeout", 2*time.Minute, "how long to wait for health")
		interval     = flag.Duration("interval", 5*time.Second, "health polling interval (kustomize-controller uses 5s)")
		failFast     = flag.Bool("fail-fast", true, "stop waiting as soon as an object is Failed (kustomize-controller's default)")
	)
	flag.Parse()
	if *path == "" || *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "flux-apply: -path and -kubeconfig (or KUBECONFIG) are required")
		flag.Usage()
		return 2
	}
	checks, err := parseHealthChecks(*healthChecks)
	if err != nil {
		fmt.Fprintf(os.Stderr, "flux-apply: %v\n", err)
		return 2
	}

	files, err := manifestFiles(*path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "flux-apply: %v\n", err)
		return 2
	}
	switch *order {
	case "name":
	case "reverse":
		for i, j := 0, len(files)-1; i < j; i, j = i+1, j-1 {
			files[i], files[j] = files[j], files[i]
		}
	case "shuffle":
		r := rand.New(rand.NewSource(*seed))
		r.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
	default:
		fmt.Fprintf(os.Stderr, "flux-apply: -order %q is not one of name, reverse, shuffle\n", *order)
		return 2
	}

	rep := report{FieldManager: fieldManager, Files: files, Writes: []string{}, Objects: []objectReport{}}
	code := apply(&rep, *kubeconfig, files, *ownerName, *ownerNs, *wait, checks, *timeout, *interval, *failFast)
	out, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Println(string(out))
	return code
}

func apply(rep *report, kubeconfig string, files []string, ownerName, ownerNs string, wait bool,
	checks object.ObjMetadataSet, timeout, interval time.Duration, failFast bool) int {
	fail := func(format string, args ...any) int {
		rep.ApplyError = fmt.Sprintf(format, args...)
		return 1
	}

	// What kustomize-controller does with the output of its kustomize build: one multi-document YAML stream.
	var stream strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fail("reading %s: %v", f, err)
		}
		stream.Write(b)
		stream.WriteString("\n---\n")
	}
	objects, err := ssautil.ReadObjects(strings.NewReader(stream.String()))
	if err != nil {
		return fail("reading objects: %v", err)
	}
	if err := normalize.UnstructuredList(objects); err != nil {
		return fail("normalizing objects: %v", err)
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fail("kubeconfig: %v", err)
	}
	counter := &writeCounter{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &countingTransport{counter, rt} })
	kube, err := client.New(cfg, client.Options{})
	if err != nil {
		return fail("client: %v", err)
	}
	poller := polling.NewStatusPoller(kube, kube.RESTMapper(), polling.Options{})
	manager := ssa.NewResourceManager(kube, poller, ssa.Owner{Field: fieldManager, Group: ownerGroup})
	manager.SetOwnerLabels(objects, ownerName, ownerNs)
	manager.SetConcurrency(4) // kustomize-controller's --concurrent-ssa default

	ctx := context.Background()
	before := map[string]meta{}
	for _, o := range objects {
		before[ssautil.FmtUnstructured(o)] = liveMeta(ctx, kube, o)
	}

	counter.start()
	changeSet, applyErr := manager.ApplyAllStaged(ctx, objects, applyOptions())
	rep.Writes, rep.DryRuns = counter.stop()

	if changeSet != nil {
		for _, e := range changeSet.Entries {
			u := entryObject(e)
			rep.Objects = append(rep.Objects, objectReport{
				Subject: e.Subject,
				Action:  string(e.Action),
				Before:  before[e.Subject],
				After:   liveMeta(ctx, kube, u),
			})
		}
	}
	if applyErr != nil {
		return fail("%v", applyErr)
	}

	code := 0
	var set object.ObjMetadataSet
	switch {
	case wait:
		// Like kustomize-controller, skipped objects are not health checked.
		for _, e := range changeSet.Entries {
			if e.Action != ssa.SkippedAction {
				set = append(set, e.ObjMetadata)
			}
		}
	case len(checks) > 0:
		set = qualify(checks, objects)
	}
	if len(set) > 0 {
		w := &waitReport{Objects: []string{}}
		for _, id := range set {
			w.Objects = append(w.Objects, ssautil.FmtObjMetadata(id))
		}
		if err := manager.WaitForSetWithContext(ctx, set, ssa.WaitOptions{
			Interval: interval,
			Timeout:  timeout,
			FailFast: failFast,
		}); err != nil {
			w.Error = err.Error()
			code = 3
		}
		rep.Wait = w
	}

	// The status and message kstatus computes for each object now.
	for i := range rep.Objects {
		o := &rep.Objects[i]
		u := entryObject(changeSet.Entries[i])
		err := kube.Get(ctx, client.ObjectKeyFromObject(u), u)
		switch {
		case apierrors.IsNotFound(err):
			o.Status, o.Message = string(status.NotFoundStatus), "Resource not found"
		case err != nil:
			o.Status, o.Message = string(status.UnknownStatus), err.Error()
		default:
			res, err := status.Compute(u)
			if err != nil {
				o.Status, o.Message = string(status.UnknownStatus), err.Error()
			} else {
				o.Status, o.Message = string(res.Status), res.Message
			}
		}
	}
	return code
}

// entryObject is an empty object with the identity of a change set entry, to read the live object into.
// (The entry's GroupVersion field holds only the version.)
func entryObject(e ssa.ChangeSetEntry) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{
		Group:   e.ObjMetadata.GroupKind.Group,
		Version: e.GroupVersion,
		Kind:    e.ObjMetadata.GroupKind.Kind,
	})
	u.SetNamespace(e.ObjMetadata.Namespace)
	u.SetName(e.ObjMetadata.Name)
	return u
}

// qualify gives health checks named by kind alone the group of the applied objects of that kind, as
// Flux's healthChecks do with their apiVersion.
func qualify(checks object.ObjMetadataSet, objects []*unstructured.Unstructured) object.ObjMetadataSet {
	groups := map[string]string{}
	for _, o := range objects {
		gvk := o.GroupVersionKind()
		groups[gvk.Kind] = gvk.Group
	}
	out := make(object.ObjMetadataSet, 0, len(checks))
	for _, c := range checks {
		if c.GroupKind.Group == "" {
			c.GroupKind.Group = groups[c.GroupKind.Kind]
		}
		out = append(out, c)
	}
	return out
}

// applyOptions are kustomize-controller's (see its KustomizationReconciler.apply), for a Kustomization
// without spec.force and without ignore rules.
func applyOptions() ssa.ApplyOptions {
	opts := ssa.DefaultApplyOptions()
	opts.ExclusionSelector = map[string]string{
		ownerGroup + "/reconcile": "disabled",
		ownerGroup + "/ssa":       "Ignore",
	}
	opts.IfNotPresentSelector = map[string]string{
		ownerGroup + "/ssa": "IfNotPresent",
	}
	opts.ForceSelector = map[string]string{
		ownerGroup + "/force": "enabled",
	}
	opts.Cleanup = ssa.ApplyCleanupOptions{
		Annotations: []string{
			corev1.LastAppliedConfigAnnotation,
			ownerGroup + "/checksum",
			"fluxcd.io/sync-checksum",
		},
		Labels: []string{"fluxcd.io/sync-gc-mark"},
		FieldManagers: []ssa.FieldManager{
			{Name: "kubectl", OperationType: metav1.ManagedFieldsOperationApply},
			{Name: "kubectl", OperationType: metav1.ManagedFieldsOperationUpdate},
			{Name: "before-first-apply", OperationType: metav1.ManagedFieldsOperationUpdate},
			{Name: fieldManager, OperationType: metav1.ManagedFieldsOperationUpdate},
		},
		Exclusions: map[string]string{
			ownerGroup + "/ssa": "Merge",
		},
	}
	return opts
}

// manifestFiles lists the manifests under path (or path itself), sorted by name.
func manifestFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.yaml, *.yml or *.json files under %s", path)
	}
	sort.Strings(files)
	return files, nil
}

// parseHealthChecks reads "kind/namespace/name,..." with the kind optionally qualified by its group
// ("KafkaConnector.connectwarden.io/ns/name").
func parseHealthChecks(s string) (object.ObjMetadataSet, error) {
	var set object.ObjMetadataSet
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, "/")
		if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
			return nil, fmt.Errorf("-health-check %q is not kind[.group]/namespace/name", item)
		}
		kind, group, _ := strings.Cut(parts[0], ".")
		set = append(set, object.ObjMetadata{
			GroupKind: schema.GroupKind{Group: group, Kind: kind},
			Namespace: parts[1],
			Name:      parts[2],
		})
	}
	return set, nil
}

// liveMeta reads what shows whether the object was written: resourceVersion, generation, and the time of
// the field manager's Apply entry.
func liveMeta(ctx context.Context, kube client.Client, o *unstructured.Unstructured) meta {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(o.GroupVersionKind())
	if err := kube.Get(ctx, client.ObjectKeyFromObject(o), u); err != nil {
		return meta{}
	}
	m := meta{ResourceVersion: u.GetResourceVersion(), Generation: u.GetGeneration()}
	for _, f := range u.GetManagedFields() {
		if f.Manager == fieldManager && f.Operation == metav1.ManagedFieldsOperationApply && f.Time != nil {
			m.ManagedFieldsTime = f.Time.UTC().Format(time.RFC3339)
		}
	}
	return m
}

// writeCounter records the requests that change something, telling server-side dry-runs apart.
type writeCounter struct {
	mu      sync.Mutex
	on      bool
	writes  []string
	dryRuns int
}

func (c *writeCounter) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on, c.writes, c.dryRuns = true, []string{}, 0
}

func (c *writeCounter) stop() ([]string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return c.writes, c.dryRuns
}

func (c *writeCounter) record(r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return
	}
	if r.URL.Query().Get("dryRun") != "" {
		c.dryRuns++
	} else {
		c.writes = append(c.writes, r.Method+" "+r.URL.Path)
	}
}

// countingTransport reports every request to the shared counter, then sends it.
type countingTransport struct {
	counter *writeCounter
	next    http.RoundTripper
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.counter.record(r)
	if t.next == nil {
		return nil, errors.New("no transport")
	}
	return t.next.RoundTrip(r)
}
