package integration

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

// TestKratixKey shows what each S3 server does with the keys Kratix writes for a path
// that starts with "/": lib/writers/s3.go joins them with filepath.Join, which keeps the
// slash, and minio-go puts it into the request path (/bucket//leading-slash/...). The
// probe's write check uses the same key (objectKey in pkg/probe).
func TestKratixKey(t *testing.T) {
	const key = "/kratix-key/.kratix-write-permission-check"
	for name, c := range map[string]struct {
		server localenv.S3Server
		// stored is the key the server lists for an object put at key.
		stored string
	}{
		"MinIO drops the leading slash":     {server: env.MinIO, stored: strings.TrimPrefix(key, "/")},
		"SeaweedFS drops the leading slash": {server: seaweed, stored: strings.TrimPrefix(key, "/")},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			client, err := c.server.NewClient(writerAccessKey, writerSecretKey)
			if err != nil {
				t.Fatal(err)
			}
			core := minio.Core{Client: client}
			id, err := core.NewMultipartUpload(ctx, fixtures.Bucket, key, minio.PutObjectOptions{})
			if err != nil {
				t.Fatalf("starting a multipart upload at %q, as Kratix's write check does: %v", key, err)
			}
			if err := core.AbortMultipartUpload(ctx, fixtures.Bucket, key, id); err != nil {
				t.Errorf("aborting the upload at %q: %v", key, err)
			}
			if _, err := client.PutObject(ctx, fixtures.Bucket, key, strings.NewReader("kratix"), 6, minio.PutObjectOptions{}); err != nil {
				t.Fatalf("putting an object at %q, as Kratix's writer does: %v", key, err)
			}
			objects, err := c.server.ListObjects(ctx, fixtures.Bucket, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objects {
				if err := client.RemoveObject(ctx, fixtures.Bucket, o, minio.RemoveObjectOptions{}); err != nil {
					t.Errorf("removing %q: %v", o, err)
				}
			}
			if !slices.Equal(objects, []string{c.stored}) {
				t.Errorf("the bucket lists %q, want [%q]", objects, c.stored)
			}
		})
	}
}
