package probe

import (
	"regexp"
	"strings"
)

// awsRegion is the name of an AWS region: us-east-1, eu-central-2, us-gov-west-1,
// cn-north-1.
const awsRegion = `[a-z]{2}(?:-[a-z]+)+-[0-9]+`

// amazonS3Host matches Amazon S3's documented endpoint names, each form spelled out with
// its dots escaped and a real region's name where it has one.
var amazonS3Host = regexp.MustCompile(`^(?:` + strings.Join([]string{
	// The global endpoint and its us-east-1 alias.
	`s3(?:-external-1)?\.amazonaws\.com`,
	// Regional, dual-stack, FIPS and FIPS dual-stack endpoints.
	`s3(?:-fips)?(?:\.dualstack)?\.` + awsRegion + `\.amazonaws\.com`,
	// Legacy hyphenated regional endpoints, and GovCloud's legacy FIPS endpoint.
	`s3-(?:fips-)?` + awsRegion + `\.amazonaws\.com`,
	// China, regional and dual-stack.
	`s3(?:\.dualstack)?\.cn(?:-[a-z]+)+-[0-9]+\.amazonaws\.com\.cn`,
	// PrivateLink interface endpoints.
	`(?:bucket|accesspoint)\.vpce-[a-z0-9-]+\.s3\.` + awsRegion + `\.vpce\.amazonaws\.com`,
	// S3 Express One Zone, zonal and regional (minio-go's own patterns).
	`s3express-[a-z0-9]+(?:-[a-z0-9]+)*-az[0-9]+(?:\.dualstack)?\.` + awsRegion + `\.amazonaws\.com`,
	`s3express-control(?:-dualstack)?\.` + awsRegion + `\.amazonaws\.com`,
}, "|") + `)$`)

// isAmazonS3Host reports whether host, a canonical host name, is an Amazon S3 endpoint:
// s3.amazonaws.com, s3.<region>.amazonaws.com, s3-<region>.amazonaws.com, their
// dual-stack and FIPS forms, PrivateLink and S3 Express endpoints, and the same in
// amazonaws.com.cn. The names minio-go dials for a bucket, "<bucket>.<endpoint>", are
// recognised by the guard's dial scope, which strips the bucket first.
//
// s3utils.IsAmazonEndpoint is not enough to trust a host with the webhook's identity:
// its patterns leave dots unescaped and take any text for the region, so
// "s3.x.myamazonaws.com" and "s3xus-east-1.amazonaws.com" (anyone can register the
// first; the second is not S3's) and "s3.<id>.<region>.rds.amazonaws.com" (a database
// someone named "s3") pass it.
func isAmazonS3Host(host string) bool {
	return amazonS3Host.MatchString(host)
}
