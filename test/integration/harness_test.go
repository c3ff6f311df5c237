package integration

import (
	"context"
	"testing"

	"github.com/minio/minio-go/v7"
)

// TestHarness checks the fixtures the scenarios rely on, so a failing scenario points at
// the webhook and not at the environment.
func TestHarness(t *testing.T) {
	ctx := context.Background()
	const key = "harness/.kratix-write-permission-check"

	t.Run("the writer may start a multipart upload and it is listed until aborted", func(t *testing.T) {
		writer := newCore(t, writerAccessKey, writerSecretKey)
		id, err := writer.NewMultipartUpload(ctx, fixtures.Bucket, key, minio.PutObjectOptions{})
		if err != nil {
			t.Fatalf("starting a multipart upload as the writer: %v", err)
		}
		uploads, err := env.MinIO.ListIncompleteUploads(ctx, fixtures.Bucket, key)
		if err != nil {
			t.Fatal(err)
		}
		if len(uploads) != 1 || uploads[0].UploadID != id {
			t.Errorf("incomplete uploads = %+v, want the one with ID %s", uploads, id)
		}
		if err := writer.AbortMultipartUpload(ctx, fixtures.Bucket, key, id); err != nil {
			t.Fatalf("aborting: %v", err)
		}
		if uploads, err := env.MinIO.ListIncompleteUploads(ctx, fixtures.Bucket, key); err != nil || len(uploads) != 0 {
			t.Errorf("after the abort, incomplete uploads = %+v (err %v), want none", uploads, err)
		}
	})

	t.Run("the read-only user may see the bucket but not start a multipart upload", func(t *testing.T) {
		reader := newCore(t, readerAccessKey, readerSecretKey)
		if ok, err := reader.BucketExists(ctx, fixtures.Bucket); err != nil || !ok {
			t.Errorf("BucketExists as the reader = %v, %v; want true, nil", ok, err)
		}
		_, err := reader.NewMultipartUpload(ctx, fixtures.Bucket, key, minio.PutObjectOptions{})
		if got := minio.ToErrorResponse(err).Code; got != "AccessDenied" {
			t.Errorf("starting a multipart upload as the reader: error code %q (%v), want AccessDenied", got, err)
		}
	})
}

func newCore(t *testing.T, accessKey, secretKey string) *minio.Core {
	t.Helper()
	c, err := env.MinIO.NewClient(accessKey, secretKey)
	if err != nil {
		t.Fatal(err)
	}
	return &minio.Core{Client: c}
}
