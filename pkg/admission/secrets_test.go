package admission

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// heldSecrets is a clientset whose Secret GETs read the Secret's value when they are
// served and then wait for release before answering, so that a test can change the Secret
// while a read is in flight.
type heldSecrets struct {
	*fake.Clientset
	gets    atomic.Int32
	served  chan struct{} // a GET has read the value it will answer with
	release chan struct{} // closed: GETs answer
}

func newHeldSecrets(t *testing.T, secret *corev1.Secret) *heldSecrets {
	h := &heldSecrets{Clientset: fake.NewClientset(secret), served: make(chan struct{}, 100), release: make(chan struct{})}
	tracker := h.Tracker()
	h.PrependReactor("get", "secrets", func(action k8stesting.Action) (bool, runtime.Object, error) {
		get := action.(k8stesting.GetAction)
		obj, err := tracker.Get(corev1.SchemeGroupVersion.WithResource("secrets"), get.GetNamespace(), get.GetName())
		h.gets.Add(1)
		h.served <- struct{}{}
		<-h.release
		return true, obj, err
	})
	return h
}

func secretWithKey(value string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "creds"}, Data: map[string][]byte{"accessKeyID": []byte(value)}}
}

// readAsync starts a GetSecret and returns a channel with the key it read.
func readAsync(k *KubeSecrets) <-chan string {
	got := make(chan string, 1)
	go func() {
		s, err := k.GetSecret(context.Background(), "default", "creds")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- string(s.Data["accessKeyID"])
	}()
	return got
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func TestKubeSecretsReads(t *testing.T) {
	t.Run("a read started after a write sees it, even while an older read is in flight", func(t *testing.T) {
		h := newHeldSecrets(t, secretWithKey("old"))
		k := &KubeSecrets{Client: h}
		first := readAsync(k)
		<-h.served // the first read has the old value and is on its way back
		if err := h.Tracker().Update(corev1.SchemeGroupVersion.WithResource("secrets"), secretWithKey("new"), "default"); err != nil {
			t.Fatal(err)
		}
		second := readAsync(k)
		// Give the second read time to join the first, which it must not do. (A second
		// read that has not started yet would see the new value anyway.)
		time.Sleep(50 * time.Millisecond)
		close(h.release)
		if got := <-first; got != "old" {
			t.Errorf("the first read got %q, want old", got)
		}
		if got := <-second; got != "new" {
			t.Errorf("a read started after the Secret was changed got %q, want new", got)
		}
	})

	t.Run("identical reads that start while one is in flight share one read", func(t *testing.T) {
		h := newHeldSecrets(t, secretWithKey("v"))
		k := &KubeSecrets{Client: h}
		first := readAsync(k)
		<-h.served
		const n = 20
		var reads []<-chan string
		for range n {
			reads = append(reads, readAsync(k))
		}
		waitFor(t, "every read waits for the next", func() bool { return k.reads.waiting("default/creds") == n })
		close(h.release)
		<-first
		var wg sync.WaitGroup
		for _, r := range reads {
			wg.Go(func() {
				if got := <-r; got != "v" {
					t.Errorf("a merged read got %q, want v", got)
				}
			})
		}
		wg.Wait()
		if got := h.gets.Load(); got != 2 {
			t.Errorf("1 read and %d started while it was in flight made %d GETs, want 2", n, got)
		}
	})

	t.Run("a read after the others are answered is sent afresh", func(t *testing.T) {
		h := newHeldSecrets(t, secretWithKey("v"))
		close(h.release)
		k := &KubeSecrets{Client: h}
		for range 3 {
			if got := <-readAsync(k); got != "v" {
				t.Fatalf("got %q, want v", got)
			}
		}
		if got := h.gets.Load(); got != 3 {
			t.Errorf("3 reads one after the other made %d GETs, want 3: nothing is kept", got)
		}
	})
}
