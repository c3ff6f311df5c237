package release

import (
	"fmt"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
)

// envRef is a $(VAR) reference in a container's args, which the kubelet expands.
var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// ContainerArgs returns the args of d's container named container, with every $(VAR)
// expanded from its env as the kubelet would expand it in d's namespace: a value, or the
// downward API's metadata.namespace. A reference it cannot expand is an error, so a test
// never runs the webhook with a literal $(VAR).
func ContainerArgs(d *appsv1.Deployment, container string) ([]string, error) {
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name != container {
			continue
		}
		vars := map[string]string{}
		for _, e := range c.Env {
			switch {
			case e.ValueFrom == nil:
				vars[e.Name] = e.Value
			case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
				vars[e.Name] = d.Namespace
			}
		}
		args := make([]string, len(c.Args))
		for i, arg := range c.Args {
			var missing []string
			args[i] = envRef.ReplaceAllStringFunc(arg, func(ref string) string {
				name := envRef.FindStringSubmatch(ref)[1]
				v, ok := vars[name]
				if !ok {
					missing = append(missing, name)
				}
				return v
			})
			if len(missing) > 0 {
				return nil, fmt.Errorf("the Deployment %s/%s: %q refers to %s, which container %s has no value or metadata.namespace for", d.Namespace, d.Name, arg, strings.Join(missing, ", "), container)
			}
		}
		return args, nil
	}
	return nil, fmt.Errorf("the Deployment %s/%s has no container %s", d.Namespace, d.Name, container)
}
