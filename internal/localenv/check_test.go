package localenv

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKubectlCauses(t *testing.T) {
	tests := map[string]struct {
		stderr string
		want   []string
		wantOK bool
	}{
		"one cause is on the line of the answer": {
			stderr: "Warning: w\nThe BucketStateStore \"s\" is invalid: spec.endpoint: Invalid value: \"a:b\": must be host[:port]\n",
			want:   []string{`spec.endpoint: Invalid value: "a:b": must be host[:port]`},
			wantOK: true,
		},
		"several causes are one starred line each": {
			stderr: "The BucketStateStore \"s\" is invalid: \n* spec.bucketName: Required value: x\n* spec.endpoint: Required value: y, z\nother\n",
			want:   []string{"spec.bucketName: Required value: x", "spec.endpoint: Required value: y, z"},
			wantOK: true,
		},
		"an error without causes is not an answer with causes": {
			stderr: "Error from server (InternalError): error when creating \"STDIN\": Internal error occurred\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := KubectlCauses(tc.stderr)
			if ok != tc.wantOK {
				t.Errorf("ok = %v, want %v", ok, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("causes (-want +got):\n%s", diff)
			}
		})
	}
}
