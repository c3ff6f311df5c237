package probe

import "testing"

func TestIsAmazonS3Host(t *testing.T) {
	tests := map[string]struct {
		host string
		want bool
	}{
		"the global endpoint is Amazon S3":                           {host: "s3.amazonaws.com", want: true},
		"a regional endpoint is Amazon S3":                           {host: "s3.eu-west-1.amazonaws.com", want: true},
		"a legacy hyphenated regional endpoint is Amazon S3":         {host: "s3-eu-west-1.amazonaws.com", want: true},
		"a dual-stack endpoint is Amazon S3":                         {host: "s3.dualstack.eu-west-1.amazonaws.com", want: true},
		"a FIPS endpoint is Amazon S3":                               {host: "s3-fips.us-gov-west-1.amazonaws.com", want: true},
		"a China endpoint is Amazon S3":                              {host: "s3.cn-north-1.amazonaws.com.cn", want: true},
		"a China dual-stack endpoint is Amazon S3":                   {host: "s3.dualstack.cn-northwest-1.amazonaws.com.cn", want: true},
		"the us-east-1 alias of the global endpoint is Amazon S3":    {host: "s3-external-1.amazonaws.com", want: true},
		"a FIPS dual-stack endpoint is Amazon S3":                    {host: "s3-fips.dualstack.us-east-1.amazonaws.com", want: true},
		"GovCloud's legacy FIPS endpoint is Amazon S3":               {host: "s3-fips-us-gov-west-1.amazonaws.com", want: true},
		"a PrivateLink endpoint is Amazon S3":                        {host: "bucket.vpce-1a2b3c4d-5e6f.s3.us-east-1.vpce.amazonaws.com", want: true},
		"an S3 Express zonal endpoint is Amazon S3":                  {host: "s3express-use1-az4.us-east-1.amazonaws.com", want: true},
		"a made-up name in place of the dot after s3 is not":         {host: "s3xus-east-1.amazonaws.com"},
		"a made-up name in place of the dot before amazonaws is not": {host: "s3.us-east-1xamazonaws.com"},
		"a made-up name in place of the dot after dualstack is not":  {host: "s3.dualstackxeu-west-1.amazonaws.com"},
		"a made-up name in place of the hyphen after fips is not":    {host: "s3-fipsxus-gov-west-1.amazonaws.com"},
		"a made-up PrivateLink prefix is not":                        {host: "bucketxvpce-1.s3.us-east-1.vpce.amazonaws.com"},
		"a region that does not exist in form is not":                {host: "s3.x.amazonaws.com"},
		"a China name under amazonaws.com is not":                    {host: "s3.cn-north-1.amazonaws.com.cn.example.com"},
		"a bucket's virtual-host name is not the endpoint itself":    {host: "kratix.s3.us-east-1.amazonaws.com"},
		"a name under another domain ending in amazonaws.com is not": {host: "s3.x.myamazonaws.com"},
		"an Amazon S3 name under another domain is not":              {host: "s3.amazonaws.com.example.com"},
		"a database someone named s3 is not":                         {host: "s3.abcdefgh.us-east-1.rds.amazonaws.com"},
		"a load balancer whose name starts with s3 is not":           {host: "s3-lb-1234.us-east-1.elb.amazonaws.com"},
		"an EC2 instance's public name is not":                       {host: "ec2-192-0-2-1.compute-1.amazonaws.com"},
		"a website endpoint is not":                                  {host: "s3-website-us-east-1.amazonaws.com"},
		"another S3 is not":                                          {host: "minio.example.com"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := isAmazonS3Host(tc.host); got != tc.want {
				t.Errorf("isAmazonS3Host(%q) = %v, want %v", tc.host, got, tc.want)
			}
		})
	}
}
