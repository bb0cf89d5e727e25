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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// podMonitor is the part of the Prometheus Operator's PodMonitor that
// the manifests use (its Go types are no dependency here): decoded
// strictly, a misspelt field among these still fails.
type podMonitor struct {
	typeMeta `json:",inline"`
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []struct {
			Port        string `json:"port"`
			Path        string `json:"path"`
			Interval    string `json:"interval"`
			Relabelings []struct {
				SourceLabels []string `json:"sourceLabels"`
				TargetLabel  string   `json:"targetLabel"`
			} `json:"relabelings"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
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
			case "monitoring.coreos.com/v1 PodMonitor":
				obj = &podMonitor{}
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
	var replayPods []corev1.PodTemplateSpec // the Indexed Jobs'
	var monitors []*podMonitor
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
				checkMetrics(t, f, o.Spec.Template)
				replayPods = append(replayPods, o.Spec.Template)
			case *appsv1.DaemonSet:
				sawDaemonSet = true
				checkPod(t, f+" "+o.Name, o.Spec.Template.Spec)
			case *appsv1.Deployment:
				sawSidecar = true
				checkPod(t, f+" "+o.Name, o.Spec.Template.Spec)
			case *podMonitor:
				monitors = append(monitors, o)
			}
		}
	}
	if !sawIndexed || !sawDaemonSet || !sawSidecar {
		t.Errorf("indexed job %v, daemonset %v, sidecar %v", sawIndexed, sawDaemonSet, sawSidecar)
	}
	// The PodMonitor scrapes the sharded replay's pods, on the port they
	// serve their metrics on.
	if len(monitors) == 0 {
		t.Error("no PodMonitor for the sharded replay")
	}
	for _, pm := range monitors {
		sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
		if err != nil {
			t.Errorf("PodMonitor %s: %v", pm.Metadata.Name, err)
			continue
		}
		for _, pod := range replayPods {
			if !sel.Matches(labels.Set(pod.Labels)) {
				t.Errorf("PodMonitor %s does not select the replay pods (labels %v)", pm.Metadata.Name, pod.Labels)
			}
			for _, ep := range pm.Spec.PodMetricsEndpoints {
				if !slices.ContainsFunc(pod.Spec.Containers[0].Ports, func(p corev1.ContainerPort) bool { return p.Name == ep.Port }) || ep.Path != "/metrics" {
					t.Errorf("PodMonitor %s scrapes port %q, path %q: the replay container serves /metrics on its port named metrics", pm.Metadata.Name, ep.Port, ep.Path)
				}
			}
		}
	}
}

// checkMetrics holds a replay pod's --metrics, its port and its
// prometheus.io annotations to one port, on every interface (Prometheus
// scrapes from another pod).
func checkMetrics(t *testing.T, f string, pod corev1.PodTemplateSpec) {
	t.Helper()
	c := pod.Spec.Containers[0]
	i := slices.IndexFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--metrics=") })
	if i < 0 {
		t.Errorf("%s: replay serves no --metrics", f)
		return
	}
	addr := strings.TrimPrefix(c.Args[i], "--metrics=")
	host, port, ok := strings.Cut(addr, ":")
	if !ok || host != "" {
		t.Errorf("%s: --metrics=%s: want :PORT, every interface of the pod", f, addr)
	}
	j := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "metrics" })
	if j < 0 || strconv.Itoa(int(c.Ports[j].ContainerPort)) != port {
		t.Errorf("%s: no container port named metrics at %s", f, port)
	}
	if a := pod.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != port || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("%s: prometheus.io annotations %v, want scrape true, port %s, path /metrics", f, a, port)
	}
}
