package probe

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// awsRegion matches the name of an AWS region: us-east-1, eu-central-2, us-gov-west-1,
// cn-north-1.
var awsRegion = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// isAmazonS3Host reports whether host, a canonical host name, is an Amazon S3 endpoint:
// s3.amazonaws.com, s3.<region>.amazonaws.com, s3-<region>.amazonaws.com, their
// dual-stack and FIPS forms, PrivateLink endpoints, and the same under amazonaws.com.cn.
//
// s3utils.IsAmazonEndpoint alone is not enough to trust a host with the webhook's
// identity: its patterns leave dots unescaped and take any text for the region, so
// "s3.x.myamazonaws.com" (anyone can register it) and "s3.<id>.<region>.rds.amazonaws.com"
// (a database someone named "s3") pass. Here the host must also lie under amazonaws.com
// and name a real region.
func isAmazonS3Host(host string) bool {
	if !strings.HasSuffix(host, ".amazonaws.com") && !strings.HasSuffix(host, ".amazonaws.com.cn") {
		return false
	}
	u := url.URL{Scheme: "https", Host: host}
	if !s3utils.IsAmazonEndpoint(u) {
		return false
	}
	if host == "s3.amazonaws.com" || host == "s3-external-1.amazonaws.com" {
		return true
	}
	return awsRegion.MatchString(s3utils.GetRegionFromURL(u))
}
