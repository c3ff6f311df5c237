package localenv

import (
	"path/filepath"
	"testing"
)

func TestKubeBinDir(t *testing.T) {
	tests := map[string]struct {
		version, want string
	}{
		"no release asked for is the default folder": {version: "", want: "/repo/bin/k8s"},
		"another release has a folder of its own":    {version: "v1.30.14", want: "/repo/bin/k8s-v1.30.14"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := KubeBinDir("/repo", tc.version); got != filepath.FromSlash(tc.want) {
				t.Errorf("KubeBinDir(%q) = %q, want %q", tc.version, got, tc.want)
			}
		})
	}
}

func TestCheckReportedVersion(t *testing.T) {
	tests := map[string]struct {
		name, reported string
		wantErr        bool
	}{
		"kube-apiserver of the release asked for passes": {name: "kube-apiserver", reported: "Kubernetes v1.30.14"},
		"kubectl of the release asked for passes":        {name: "kubectl", reported: "Client Version: v1.30.14"},
		"another patch of the same minor fails":          {name: "kube-apiserver", reported: "Kubernetes v1.30.1", wantErr: true},
		"another minor fails":                            {name: "kubectl", reported: "Client Version: v1.37.2", wantErr: true},
		"a binary built without a version stamp fails":   {name: "kube-apiserver", reported: "Kubernetes v0.0.0-master+$Format:%H$", wantErr: true},
		"no output fails":                                {name: "kubectl", reported: "", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := checkReportedVersion(tc.name, tc.reported, "v1.30.14")
			if (err != nil) != tc.wantErr {
				t.Errorf("checkReportedVersion(%q, %q) = %v, want error: %v", tc.name, tc.reported, err, tc.wantErr)
			}
		})
	}
}
