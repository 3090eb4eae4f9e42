package charts_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/loyaltyhooks/loyaltyhooks/config"
)

const chartDir = "loyaltyhooks"

// scaledObject is the part of KEDA's keda.sh/v1alpha1 ScaledObject the chart writes; decoding is
// strict, so a field the chart writes that is not here fails the test.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount *int32 `json:"minReplicaCount"`
		MaxReplicaCount *int32 `json:"maxReplicaCount"`
		PollingInterval *int32 `json:"pollingInterval"`
		CooldownPeriod  *int32 `json:"cooldownPeriod"`
		Triggers        []struct {
			Type              string            `json:"type"`
			Metadata          map[string]string `json:"metadata"`
			AuthenticationRef *struct {
				Name string `json:"name"`
			} `json:"authenticationRef"`
		} `json:"triggers"`
	} `json:"spec"`
}

// serviceMonitor is the part of the Prometheus Operator's monitoring.coreos.com/v1
// ServiceMonitor the chart writes.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// release is one rendering of the chart, every manifest decoded into its API type.
type release struct {
	values       chartutil.Values
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	accounts     map[string]*corev1.ServiceAccount
	services     map[string]*corev1.Service
	statefulSets map[string]*appsv1.StatefulSet
	deployments  map[string]*appsv1.Deployment
	pdbs         map[string]*policyv1.PodDisruptionBudget
	jobs         map[string]*batchv1.Job
	hpas         map[string]*autoscalingv2.HorizontalPodAutoscaler
	scaled       map[string]*scaledObject
	monitors     map[string]*serviceMonitor
	notes        string
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// render renders the chart as `helm install rel` would with the given values, schema checked.
func render(ch *chart.Chart, vals map[string]any) (map[string]string, chartutil.Values, error) {
	top, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{Name: "rel", Namespace: "loyalty", IsInstall: true}, nil)
	if err != nil {
		return nil, nil, err
	}
	out, err := engine.Render(ch, top)
	if err != nil {
		return nil, nil, err
	}
	v, err := top.Table("Values")
	return out, v, err
}

func renderRelease(t *testing.T, ch *chart.Chart, vals map[string]any) *release {
	t.Helper()
	out, values, err := render(ch, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	r := &release{values: values,
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		accounts: map[string]*corev1.ServiceAccount{}, services: map[string]*corev1.Service{},
		statefulSets: map[string]*appsv1.StatefulSet{}, deployments: map[string]*appsv1.Deployment{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, jobs: map[string]*batchv1.Job{},
		hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{}, scaled: map[string]*scaledObject{},
		monitors: map[string]*serviceMonitor{}}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range out {
			if !yield(k) {
				return
			}
		}
	}) {
		if strings.HasSuffix(name, "NOTES.txt") {
			r.notes = out[name]
			continue
		}
		for _, doc := range strings.Split(out[name], "\n---") {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			r.decode(t, name, doc)
		}
	}
	return r
}

func stripComments(doc string) string {
	var keep []string
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// decode reads one manifest strictly into its k8s.io/api type: an unknown field, a wrong type or
// an unknown kind fails the test.
func (r *release) decode(t *testing.T, file, doc string) {
	t.Helper()
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
		t.Fatalf("%s: %v\n%s", file, err, doc)
	}
	strict := func(into any) string {
		if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
			t.Fatalf("%s: %s %s does not decode strictly: %v\n%s", file, tm.APIVersion, tm.Kind, err, doc)
		}
		m := reflect.ValueOf(into).Elem().FieldByName("ObjectMeta").Interface().(metav1.ObjectMeta)
		if m.Name == "" {
			t.Errorf("%s: %s without a name", file, tm.Kind)
		}
		for _, l := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by"} {
			if m.Labels[l] == "" {
				t.Errorf("%s: %s %s lacks label %s", file, tm.Kind, m.Name, l)
			}
		}
		return m.Name
	}
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 ConfigMap":
		o := &corev1.ConfigMap{}
		r.configMaps[strict(o)] = o
	case "v1 Secret":
		o := &corev1.Secret{}
		r.secrets[strict(o)] = o
	case "v1 ServiceAccount":
		o := &corev1.ServiceAccount{}
		r.accounts[strict(o)] = o
	case "v1 Service":
		o := &corev1.Service{}
		r.services[strict(o)] = o
	case "apps/v1 StatefulSet":
		o := &appsv1.StatefulSet{}
		r.statefulSets[strict(o)] = o
	case "apps/v1 Deployment":
		o := &appsv1.Deployment{}
		r.deployments[strict(o)] = o
	case "policy/v1 PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		r.pdbs[strict(o)] = o
	case "batch/v1 Job":
		o := &batchv1.Job{}
		r.jobs[strict(o)] = o
	case "autoscaling/v2 HorizontalPodAutoscaler":
		o := &autoscalingv2.HorizontalPodAutoscaler{}
		r.hpas[strict(o)] = o
	case "keda.sh/v1alpha1 ScaledObject":
		o := &scaledObject{}
		r.scaled[strict(o)] = o
	case "monitoring.coreos.com/v1 ServiceMonitor":
		o := &serviceMonitor{}
		r.monitors[strict(o)] = o
	default:
		t.Fatalf("%s: unexpected %s %s", file, tm.APIVersion, tm.Kind)
	}
}

func ciValues(t *testing.T) map[string]map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("ci values files: %v, %v", files, err)
	}
	out := map[string]map[string]any{}
	for _, f := range files {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = v.AsMap()
	}
	return out
}

// component is a workload of the release with what the invariants need.
type component struct {
	name     string
	kind     string
	replicas *int32
	labels   map[string]string
	pod      corev1.PodTemplateSpec
}

func (r *release) components() map[string]component {
	out := map[string]component{}
	for n, s := range r.statefulSets {
		out[s.Spec.Template.Labels["app.kubernetes.io/component"]] = component{n, "StatefulSet", s.Spec.Replicas, s.Spec.Selector.MatchLabels, s.Spec.Template}
	}
	for n, d := range r.deployments {
		out[d.Spec.Template.Labels["app.kubernetes.io/component"]] = component{n, "Deployment", d.Spec.Replicas, d.Spec.Selector.MatchLabels, d.Spec.Template}
	}
	return out
}

func (r *release) value(t *testing.T, path string) any {
	t.Helper()
	v, err := r.values.PathValue(path)
	if err != nil {
		t.Fatalf("value %s: %v", path, err)
	}
	return v
}

func (r *release) intValue(t *testing.T, path string) int {
	t.Helper()
	switch v := r.value(t, path).(type) {
	case float64:
		return int(v)
	case int64:
		return int(v)
	case int:
		return v
	default:
		t.Fatalf("value %s is %T", path, v)
		return 0
	}
}

func (r *release) partitions(t *testing.T, comp string) int {
	t.Helper()
	key := map[string]string{"processor": "config.topology.sourcePartitions", "sender": "config.topology.webhookPartitions"}[comp]
	if _, err := r.values.PathValue(key); err != nil {
		return 6
	}
	return r.intValue(t, key)
}

func envValue(c corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestRenderCIValues renders the chart with every ci/*-values.yaml and checks the invariants the
// chart promises.
func TestRenderCIValues(t *testing.T) {
	ch := loadChart(t)
	for file, vals := range ciValues(t) {
		t.Run(file, func(t *testing.T) {
			r := renderRelease(t, ch, vals)
			r.checkWorkloads(t)
			r.checkConfig(t)
			r.checkServices(t)
			r.checkScaling(t)
			r.checkTopologyJob(t)
			if !strings.Contains(r.notes, "topology check") {
				t.Errorf("NOTES.txt lacks the topology check hint:\n%s", r.notes)
			}
		})
	}
}

func (r *release) checkWorkloads(t *testing.T) {
	comps := r.components()
	for _, name := range []string{"processor", "sender"} {
		enabled := r.value(t, name+".enabled").(bool)
		if _, ok := comps[name]; ok != enabled {
			t.Errorf("%s: rendered %v, enabled %v", name, ok, enabled)
		}
	}
	if p, ok := comps["processor"]; ok && p.kind != "StatefulSet" {
		t.Errorf("processor is a %s; stable transactional ids need a StatefulSet", p.kind)
	}
	if s, ok := comps["sender"]; ok && s.kind != "Deployment" {
		t.Errorf("sender is a %s, want a Deployment", s.kind)
	}
	var images []string
	for name, c := range comps {
		pod := c.pod.Spec
		if !selects(c.labels, c.pod.Labels) {
			t.Errorf("%s: selector %v does not select its pods %v", name, c.labels, c.pod.Labels)
		}
		if len(pod.Containers) != 1 {
			t.Fatalf("%s: %d containers", name, len(pod.Containers))
		}
		ctr := pod.Containers[0]
		images = append(images, ctr.Image)
		wantArg := map[string]string{"processor": "process", "sender": "send"}[name]
		if len(ctr.Args) == 0 || ctr.Args[0] != wantArg {
			t.Errorf("%s: args %v, want %s first", name, ctr.Args, wantArg)
		}
		// Security: non-root, read-only root filesystem, no privilege escalation, no capabilities.
		psc, sc := pod.SecurityContext, ctr.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			t.Errorf("%s: pod may run as root: %+v", name, psc)
		}
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s: container security context %+v", name, sc)
		}
		if ctr.Resources.Requests.Memory().IsZero() || ctr.Resources.Requests.Cpu().IsZero() || ctr.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: resources %+v lack cpu and memory requests or a memory limit", name, ctr.Resources)
		}
		// Probes reach the port the process really listens on.
		addr, ok := envValue(ctr, "LOYALTYHOOKS_METRICS_ADDR")
		if !ok {
			t.Fatalf("%s: no LOYALTYHOOKS_METRICS_ADDR", name)
		}
		listen, err := strconv.Atoi(strings.TrimPrefix(addr.Value, ":"))
		if err != nil {
			t.Fatalf("%s: metrics addr %q", name, addr.Value)
		}
		ports := map[string]int32{}
		for _, p := range ctr.Ports {
			ports[p.Name] = p.ContainerPort
		}
		for path, probe := range map[string]*corev1.Probe{"/healthz": ctr.LivenessProbe, "/readyz": ctr.ReadinessProbe} {
			if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path {
				t.Errorf("%s: probe for %s is %+v", name, path, probe)
				continue
			}
			port := probe.HTTPGet.Port.IntVal
			if probe.HTTPGet.Port.StrVal != "" {
				port = ports[probe.HTTPGet.Port.StrVal]
			}
			if int(port) != listen {
				t.Errorf("%s: %s probe on port %d, process listens on %d", name, path, port, listen)
			}
		}
		// Termination grace outlasts the shutdown budget.
		budget, ok := envValue(ctr, "LOYALTYHOOKS_"+strings.ToUpper(name)+"_SHUTDOWNTIMEOUT")
		d, err := time.ParseDuration(budget.Value)
		if !ok || err != nil {
			t.Fatalf("%s: shutdown budget %q: %v", name, budget.Value, err)
		}
		if pod.TerminationGracePeriodSeconds == nil || time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second <= d {
			t.Errorf("%s: terminationGracePeriodSeconds %v is not above the %s shutdown budget", name, pod.TerminationGracePeriodSeconds, d)
		}
		// Stable instance ids: the pod's own name.
		if id, ok := envValue(ctr, "LOYALTYHOOKS_"+strings.ToUpper(name)+"_INSTANCEID"); !ok || id.ValueFrom == nil || id.ValueFrom.FieldRef == nil || id.ValueFrom.FieldRef.FieldPath != "metadata.name" {
			t.Errorf("%s: instance id is not the pod name: %+v", name, id)
		}
		if c.pod.Annotations["checksum/config"] == "" {
			t.Errorf("%s: no checksum/config annotation", name)
		}
		r.checkPodReferences(t, name, pod, false)
		// A PodDisruptionBudget of maxUnavailable 1 covers the pods when enabled.
		if r.value(t, name+".pdb.enabled").(bool) {
			var found bool
			for _, pdb := range r.pdbs {
				if selects(pdb.Spec.Selector.MatchLabels, c.pod.Labels) {
					found = true
					if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
						t.Errorf("%s: PodDisruptionBudget %+v, want maxUnavailable 1", name, pdb.Spec)
					}
				}
			}
			if !found {
				t.Errorf("%s: no PodDisruptionBudget selects its pods", name)
			}
		}
	}
	slices.Sort(images)
	if len(slices.Compact(images)) > 1 {
		t.Errorf("components run different images: %v", images)
	}
}

// checkPodReferences checks that everything a pod refers to exists: its ServiceAccount, the
// ConfigMap of its config file and the Secret of its environment. A hook pod runs before the
// release's own objects exist and may only use hook objects or objects from outside the chart.
func (r *release) checkPodReferences(t *testing.T, name string, pod corev1.PodSpec, hook bool) {
	t.Helper()
	sa := pod.ServiceAccountName
	switch {
	case hook && sa != "" && r.accounts[sa] != nil:
		t.Errorf("%s: uses ServiceAccount %s, which does not exist yet when the hook runs", name, sa)
	case !hook && r.value(t, "serviceAccount.create").(bool) && r.accounts[sa] == nil:
		t.Errorf("%s: ServiceAccount %q is not rendered", name, sa)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: mounts a service account token it does not need", name)
	}
	existing := r.value(t, "secret.existingSecret").(string)
	isHook := func(m metav1.ObjectMeta) bool { return strings.Contains(m.Annotations["helm.sh/hook"], "pre-install") }
	ctr := pod.Containers[0]
	for _, ef := range ctr.EnvFrom {
		s := r.secrets[ef.SecretRef.Name]
		switch {
		case ef.SecretRef.Name == existing:
		case s == nil:
			t.Errorf("%s: envFrom Secret %q is not rendered", name, ef.SecretRef.Name)
		case isHook(s.ObjectMeta) != hook:
			t.Errorf("%s: envFrom Secret %q is a hook: %v, the pod a hook: %v", name, s.Name, isHook(s.ObjectMeta), hook)
		}
	}
	secret, err := r.values.Table("secret")
	if err != nil {
		t.Fatal(err)
	}
	if env, _ := secret["env"].(map[string]any); existing != "" || len(env) > 0 {
		if len(ctr.EnvFrom) != 1 {
			t.Errorf("%s: secret values set but envFrom is %+v", name, ctr.EnvFrom)
		}
	}
	// The config file named by --config is a key of a mounted ConfigMap.
	i := slices.Index(ctr.Args, "--config")
	if i < 0 || i+1 >= len(ctr.Args) {
		t.Fatalf("%s: args %v lack --config", name, ctr.Args)
	}
	dir, file := filepath.Split(ctr.Args[i+1])
	var found bool
	for _, m := range ctr.VolumeMounts {
		if filepath.Clean(m.MountPath) != filepath.Clean(dir) {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			cm := r.configMaps[v.ConfigMap.Name]
			switch {
			case cm == nil:
				t.Errorf("%s: ConfigMap %q is not rendered", name, v.ConfigMap.Name)
			case isHook(cm.ObjectMeta) != hook:
				t.Errorf("%s: ConfigMap %q is a hook: %v, the pod a hook: %v", name, cm.Name, isHook(cm.ObjectMeta), hook)
			case cm.Data[file] == "":
				t.Errorf("%s: ConfigMap %q has no %s", name, cm.Name, file)
			default:
				found = true
			}
		}
	}
	if !found {
		t.Errorf("%s: --config %s is not a mounted ConfigMap file", name, ctr.Args[i+1])
	}
}

// checkConfig loads each rendered config file as a pod would — with the pod's environment and the
// chart's Secret — through config.Load, which rejects unknown keys and bad values.
func (r *release) checkConfig(t *testing.T) {
	comps := r.components()
	p, ok := comps["processor"]
	if !ok {
		return
	}
	ctr := p.pod.Spec.Containers[0]
	dir := t.TempDir()
	text := r.configMaps[p.pod.Spec.Volumes[0].ConfigMap.Name].Data["loyaltyhooks.yaml"]
	// Files the config names under extra mounts (TLS CAs) exist in the pod; here in a temp dir.
	for _, m := range ctr.VolumeMounts {
		if m.Name == "config" || m.Name == "tmp" {
			continue
		}
		local := filepath.Join(dir, m.Name)
		for _, ref := range regexp.MustCompile(regexp.QuoteMeta(m.MountPath)+`/[\w.-]+`).FindAllString(text, -1) {
			if err := os.MkdirAll(local, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(local, filepath.Base(ref)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		text = strings.ReplaceAll(text, m.MountPath, local)
	}
	file := filepath.Join(dir, "loyaltyhooks.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, e := range ctr.Env {
		if e.ValueFrom != nil {
			t.Setenv(e.Name, "processor-0")
			continue
		}
		t.Setenv(e.Name, e.Value)
	}
	if s := r.secrets[r.fullname()]; s != nil {
		for k, v := range s.Data {
			t.Setenv(k, string(v))
		}
	}
	cfg, err := config.Load(file, nil)
	if err != nil {
		t.Fatalf("the processor's rendered config does not load: %v\n%s", err, text)
	}
	if got, want := int(cfg.Topology.SourcePartitions), r.partitions(t, "processor"); got != want {
		t.Errorf("config topology.sourcePartitions = %d, chart thinks %d", got, want)
	}
	if cfg.Processor.ShutdownTimeout != time.Duration(r.intValue(t, "processor.shutdownTimeoutSeconds"))*time.Second {
		t.Errorf("processor.shutdownTimeout = %s, want processor.shutdownTimeoutSeconds", cfg.Processor.ShutdownTimeout)
	}
}

func (r *release) fullname() string {
	for n, cm := range r.configMaps {
		if cm.Annotations["helm.sh/hook"] == "" {
			return n
		}
	}
	return ""
}

func (r *release) checkServices(t *testing.T) {
	comps := r.components()
	for name, c := range comps {
		var svc *corev1.Service
		for _, s := range r.services {
			if selects(s.Spec.Selector, c.pod.Labels) {
				svc = s
			}
		}
		if svc == nil {
			t.Errorf("%s: no Service selects its pods", name)
			continue
		}
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "metrics" || svc.Spec.Ports[0].TargetPort.StrVal != "metrics" {
			t.Errorf("%s: Service ports %+v, want metrics → metrics", name, svc.Spec.Ports)
		}
		if s := r.statefulSets[c.name]; s != nil && (s.Spec.ServiceName != svc.Name || svc.Spec.ClusterIP != corev1.ClusterIPNone) {
			t.Errorf("%s: serviceName %q, want its headless Service %q", name, s.Spec.ServiceName, svc.Name)
		}
		for _, m := range r.monitors {
			if !selects(m.Spec.Selector.MatchLabels, svc.Labels) {
				t.Errorf("ServiceMonitor %s does not select the %s Service", m.Name, name)
			}
		}
	}
	if want := r.value(t, "metrics.serviceMonitor.enabled").(bool); want != (len(r.monitors) == 1) {
		t.Errorf("serviceMonitor.enabled %v, %d rendered", want, len(r.monitors))
	}
	for _, m := range r.monitors {
		if len(m.Spec.Endpoints) != 1 || m.Spec.Endpoints[0].Port != "metrics" || m.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoints %+v", m.Spec.Endpoints)
		}
	}
}

func (r *release) checkScaling(t *testing.T) {
	for name, c := range r.components() {
		parts := r.partitions(t, name)
		var scalers []string
		for _, so := range r.scaled {
			ref := so.Spec.ScaleTargetRef
			if ref.Name != c.name {
				continue
			}
			scalers = append(scalers, "keda")
			if ref.Kind != c.kind || ref.APIVersion != "apps/v1" {
				t.Errorf("%s: ScaledObject targets %+v", name, ref)
			}
			if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount < 1 {
				t.Errorf("%s: KEDA minReplicaCount %v, want at least 1", name, so.Spec.MinReplicaCount)
			}
			if so.Spec.MaxReplicaCount == nil || int(*so.Spec.MaxReplicaCount) > parts {
				t.Errorf("%s: KEDA maxReplicaCount %v above %d partitions", name, so.Spec.MaxReplicaCount, parts)
			}
			if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "kafka" {
				t.Fatalf("%s: triggers %+v", name, so.Spec.Triggers)
			}
			md := so.Spec.Triggers[0].Metadata
			if md["allowIdleConsumers"] != "false" || md["consumerGroup"] != "loyaltyhooks-"+name || md["bootstrapServers"] == "" {
				t.Errorf("%s: kafka trigger metadata %v", name, md)
			}
		}
		for _, h := range r.hpas {
			if h.Spec.ScaleTargetRef.Name != c.name {
				continue
			}
			scalers = append(scalers, "hpa")
			if h.Spec.ScaleTargetRef.Kind != c.kind || h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || int(h.Spec.MaxReplicas) > parts {
				t.Errorf("%s: HorizontalPodAutoscaler %+v", name, h.Spec)
			}
		}
		switch {
		case len(scalers) > 1:
			t.Errorf("%s: scaled by %v; at most one scaler", name, scalers)
		case len(scalers) == 1 && c.replicas != nil:
			t.Errorf("%s: scaled by %s but sets replicas %d, which each upgrade would reset", name, scalers[0], *c.replicas)
		case len(scalers) == 0 && (c.replicas == nil || int(*c.replicas) > parts):
			t.Errorf("%s: replicas %v, want at most %d partitions", name, c.replicas, parts)
		}
	}
}

func (r *release) checkTopologyJob(t *testing.T) {
	enabled := r.value(t, "topologyJob.enabled").(bool)
	if enabled != (len(r.jobs) == 1) {
		t.Fatalf("topologyJob.enabled %v, %d Jobs rendered", enabled, len(r.jobs))
	}
	for name, j := range r.jobs {
		if got := j.Annotations["helm.sh/hook"]; got != "pre-install,pre-upgrade" {
			t.Errorf("Job %s hook %q", name, got)
		}
		pod := j.Spec.Template.Spec
		if !slices.Equal(pod.Containers[0].Args[:2], []string{"topology", "apply"}) {
			t.Errorf("Job %s runs %v", name, pod.Containers[0].Args)
		}
		if pod.RestartPolicy != corev1.RestartPolicyNever || j.Spec.BackoffLimit == nil || j.Spec.ActiveDeadlineSeconds == nil {
			t.Errorf("Job %s: restart %s, backoff %v, deadline %v", name, pod.RestartPolicy, j.Spec.BackoffLimit, j.Spec.ActiveDeadlineSeconds)
		}
		jobWeight, _ := strconv.Atoi(j.Annotations["helm.sh/hook-weight"])
		for _, cm := range r.configMaps {
			if w, err := strconv.Atoi(cm.Annotations["helm.sh/hook-weight"]); err == nil && w >= jobWeight {
				t.Errorf("hook ConfigMap %s (weight %d) is not created before the Job (weight %d)", cm.Name, w, jobWeight)
			}
		}
		r.checkPodReferences(t, "Job "+name, pod, true)
	}
}

// TestRenderRefuses checks what the chart refuses at render time or through its schema.
func TestRenderRefuses(t *testing.T) {
	ch := loadChart(t)
	cases := []struct {
		name string
		vals string
		want string
	}{
		{"keda and hpa together", "processor: {autoscaling: {keda: {enabled: true}, hpa: {enabled: true}}}", "both enabled"},
		{"keda beyond the partitions", "processor: {autoscaling: {keda: {enabled: true, maxReplicas: 7}}}", "processor.autoscaling.keda.maxReplicas 7 exceeds config.topology.sourcePartitions 6"},
		{"sender keda beyond the partitions", "config: {topology: {webhookPartitions: 3}}\nsender: {replicas: 1, autoscaling: {keda: {enabled: true, maxReplicas: 4}}}", "sender.autoscaling.keda.maxReplicas 4 exceeds config.topology.webhookPartitions 3"},
		{"hpa beyond the partitions", "sender: {autoscaling: {hpa: {enabled: true, maxReplicas: 12}}}", "sender.autoscaling.hpa.maxReplicas 12 exceeds"},
		{"replicas beyond the partitions", "processor: {replicas: 8}", "processor.replicas 8 exceeds config.topology.sourcePartitions 6"},
		{"max below min", "processor: {autoscaling: {keda: {enabled: true, minReplicas: 4, maxReplicas: 2}}}", "maxReplicas 2 is below minReplicas 4"},
		{"keda scaling to zero", "processor: {autoscaling: {keda: {enabled: true, minReplicas: 0}}}", "minReplicas"},
		{"a misspelt value", "processor: {replica: 2}", "replica"},
		{"no grace margin", "sender: {terminationGraceMarginSeconds: 0}", "terminationGraceMarginSeconds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vals, err := chartutil.ReadValues([]byte(c.vals))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = render(ch, vals.AsMap())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("render = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// A change of config rolls the pods through their checksum annotation; nothing else does.
func TestConfigChecksumRollsPods(t *testing.T) {
	ch := loadChart(t)
	checksums := func(vals string) map[string]string {
		v, err := chartutil.ReadValues([]byte(vals))
		if err != nil {
			t.Fatal(err)
		}
		r := renderRelease(t, ch, v.AsMap())
		out := map[string]string{}
		for name, c := range r.components() {
			out[name] = c.pod.Annotations["checksum/config"] + " " + c.pod.Annotations["checksum/secret"]
		}
		return out
	}
	base := checksums("{}")
	if again := checksums("processor: {replicas: 2}"); !reflect.DeepEqual(base, again) {
		t.Errorf("a change outside config changed the checksums: %v → %v", base, again)
	}
	changed := checksums("config: {log: {level: debug}}")
	secret := checksums("secret: {env: {LOYALTYHOOKS_KAFKA_SASL_PASSWORD: x}}")
	for name := range base {
		if changed[name] == base[name] {
			t.Errorf("%s: a config change leaves the checksum as it was", name)
		}
		if secret[name] == base[name] {
			t.Errorf("%s: a secret change leaves the checksum as it was", name)
		}
	}
	want := sha256.Sum256([]byte("loyaltyhooks.yaml: |\n  kafka:\n    brokers:\n    - kafka:9092\n  log:\n    format: json\n    level: info\n  redis:\n    url: redis://redis:6379/0\n  topology:\n    sourcePartitions: 6\n    webhookPartitions: 6"))
	if got := strings.Fields(base["processor"])[0]; got != fmt.Sprintf("%x", want) {
		t.Errorf("checksum/config %s is not the sha256 of the rendered config file", got)
	}
}

// The chart README documents every value in its table.
func TestREADMEDocumentsEveryValue(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	vals, err := chartutil.ReadValuesFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			key := strings.TrimPrefix(prefix+"."+k, ".")
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 && key != "config" && !strings.HasSuffix(key, "resources") {
				walk(key, sub)
				continue
			}
			keys = append(keys, key)
		}
	}
	walk("", vals.AsMap())
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.Contains(string(readme), "| `"+k+"` |") {
			t.Errorf("chart README lacks a row for `%s`", k)
		}
	}
}
