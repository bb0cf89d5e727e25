// Package kubernetes holds replaykit's Kubernetes manifests and the test
// that checks them offline: every document decodes strictly (an unknown
// or misspelt field is an error) into the Kubernetes API types, and the
// manifests keep the promises the README makes of them.
package kubernetes

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// decode reads every document of every manifest into its API type.
func decode(t *testing.T) map[string][]any {
	t.Helper()
	files, _ := filepath.Glob("*.yaml")
	if len(files) < 4 {
		t.Fatalf("manifests: %v", files)
	}
	out := map[string][]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			var tm typeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "batch/v1 Job":
				obj = &batchv1.Job{}
			case "apps/v1 DaemonSet":
				obj = &appsv1.DaemonSet{}
			case "apps/v1 Deployment":
				obj = &appsv1.Deployment{}
			case "v1 Secret":
				obj = &corev1.Secret{}
			case "v1 PersistentVolumeClaim":
				obj = &corev1.PersistentVolumeClaim{}
			default:
				t.Fatalf("%s document %d: unexpected %s %s", f, i, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Errorf("%s document %d (%s): %v", f, i, tm.Kind, err)
			}
			out[f] = append(out[f], obj)
		}
	}
	return out
}

func TestManifestsDecodeStrictly(t *testing.T) { decode(t) }

// checkPod holds every pod to the same rules: non-root, no privilege
// escalation, every capability dropped but NET_RAW for record.
func checkPod(t *testing.T, where string, spec corev1.PodSpec) {
	t.Helper()
	if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("%s: the pod must run as non-root", where)
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		if !strings.Contains(c.Image, "replaykit") {
			continue // the application's own containers, or a fetcher
		}
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
			!slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s/%s: no privilege escalation, every capability dropped", where, c.Name)
			continue
		}
		added := sc.Capabilities.Add
		isRecordCapture := len(c.Command) > 0 && strings.HasSuffix(c.Command[0], "/record") && !slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--proxy") })
		switch {
		case isRecordCapture && !slices.Equal(added, []corev1.Capability{"NET_RAW"}):
			t.Errorf("%s/%s: record capturing needs NET_RAW and nothing else, has %v", where, c.Name, added)
		case !isRecordCapture && len(added) > 0:
			t.Errorf("%s/%s: needs no capability, adds %v", where, c.Name, added)
		}
		if c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s/%s: no memory limit", where, c.Name)
		}
	}
}

func env(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func TestManifestsKeepTheirPromises(t *testing.T) {
	docs := decode(t)
	var sawIndexed, sawDaemonSet, sawSidecar bool
	for f, objs := range docs {
		for _, o := range objs {
			switch o := o.(type) {
			case *batchv1.Job:
				checkPod(t, f+" "+o.Name, o.Spec.Template.Spec)
				if o.Spec.CompletionMode == nil || *o.Spec.CompletionMode != batchv1.IndexedCompletion {
					continue
				}
				sawIndexed = true
				c := o.Spec.Template.Spec.Containers[0]
				shards, _ := strconv.Atoi(env(c, "REPLAYKIT_SHARDS"))
				if o.Spec.Completions == nil || o.Spec.Parallelism == nil || int(*o.Spec.Completions) != shards || int(*o.Spec.Parallelism) != shards {
					t.Errorf("%s: completions, parallelism and REPLAYKIT_SHARDS must be one number (all shards run at once)", f)
				}
				if !slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--start-at=") }) {
					t.Errorf("%s: shards must share a --start-at", f)
				}
			case *appsv1.DaemonSet:
				sawDaemonSet = true
				checkPod(t, f+" "+o.Name, o.Spec.Template.Spec)
			case *appsv1.Deployment:
				sawSidecar = true
				checkPod(t, f+" "+o.Name, o.Spec.Template.Spec)
			}
		}
	}
	if !sawIndexed || !sawDaemonSet || !sawSidecar {
		t.Errorf("indexed job %v, daemonset %v, sidecar %v", sawIndexed, sawDaemonSet, sawSidecar)
	}
}
