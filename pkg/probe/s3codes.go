package probe

import "github.com/minio/minio-go/v7"

// knownS3Codes are the S3 error codes a denial may quote: minio-go's constants and the
// rest of Amazon S3's documented error codes. Any other code came from something that
// only imitates an S3 error, and is not repeated to the user (it goes to the log), so
// the probe cannot be used to read what an arbitrary service answers.
var knownS3Codes = map[string]bool{}

func init() {
	for _, code := range []string{
		minio.NoSuchBucket, minio.NoSuchKey, minio.NoSuchUpload, minio.AccessDenied, minio.Conflict,
		minio.PreconditionFailed, minio.InvalidArgument, minio.EntityTooLarge, minio.EntityTooSmall,
		minio.UnexpectedEOF, minio.APINotSupported, minio.InvalidRegion, minio.NoSuchBucketPolicy,
		minio.BadDigest, minio.IncompleteBody, minio.InternalError, minio.InvalidAccessKeyID,
		minio.InvalidBucketName, minio.InvalidDigest, minio.InvalidRange, minio.MalformedXML,
		minio.MissingContentLength, minio.MissingContentMD5, minio.MissingRequestBodyError,
		minio.NotImplemented, minio.RequestTimeTooSkewed, minio.SignatureDoesNotMatch,
		minio.MethodNotAllowed, minio.InvalidPart, minio.InvalidPartOrder, minio.InvalidObjectState,
		minio.AuthorizationHeaderMalformed, minio.MalformedPOSTRequest, minio.BucketNotEmpty,
		minio.AllAccessDisabled, minio.MalformedPolicy, minio.MissingFields,
		minio.AuthorizationQueryParametersError, minio.MalformedDate, minio.BucketAlreadyOwnedByYou,
		minio.InvalidDuration, minio.XAmzContentSHA256Mismatch, minio.XMinioInvalidObjectName,
		minio.NoSuchCORSConfiguration, minio.BucketAlreadyExists, minio.NoSuchVersion, minio.NoSuchTagSet,
		// Amazon S3's documented codes that minio-go has no constant for.
		"AccountProblem", "CredentialsNotSupported", "ExpiredToken", "InvalidBucketState",
		"InvalidLocationConstraint", "InvalidPayer", "InvalidRequest", "InvalidSecurity",
		"InvalidStorageClass", "InvalidToken", "InvalidURI", "KeyTooLongError", "MetadataTooLarge",
		"MissingSecurityHeader", "NotSignedUp", "OperationAborted", "PermanentRedirect", "Redirect",
		"RequestTimeout", "ServiceUnavailable", "SlowDown", "TemporaryRedirect", "TokenRefreshRequired",
		"TooManyBuckets", "UnexpectedContent", "XMinioStorageFull", "XMinioServerNotInitialized",
	} {
		knownS3Codes[code] = true
	}
}
