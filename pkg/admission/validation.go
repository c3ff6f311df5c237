package admission

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"
	"k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kratix-community/bucketstatestore-webhook/api/v1alpha1"
)

var supportedAuthMethods = []string{v1alpha1.AuthMethodAccessKey, v1alpha1.AuthMethodIAM}

// The longest values the rules accept. A longer value is reported with field.TooLong,
// which leaves the value out: an answer never repeats a huge string.
const (
	maxBucketNameLength = 63                    // S3's limit
	maxEndpointLength   = 253 + len("[]:65535") // a DNS name or a bracketed IPv6 address, and a port
	maxPathLength       = 1024                  // S3's longest key
)

// ValidateSpec checks the rules that need nothing but the spec itself, as
// cert-manager's validators do: it returns every problem at once, each with its field
// path, and the warnings for what Kratix can use but is probably a mistake. spec must be
// defaulted (defaults.Spec): the rules read the defaults rather than derive them again.
func ValidateSpec(spec *v1alpha1.BucketStateStoreSpec, fldPath *field.Path) (field.ErrorList, []string) {
	var allErrs field.ErrorList
	allErrs = append(allErrs, validateBucketName(spec.BucketName, fldPath.Child("bucketName"))...)
	allErrs = append(allErrs, validateEndpoint(spec.Endpoint, fldPath.Child("endpoint"))...)
	allErrs = append(allErrs, validatePath(spec.Path, fldPath.Child("path"))...)
	allErrs = append(allErrs, validateAuth(spec, fldPath)...)
	return allErrs, specWarnings(spec)
}

// specWarnings are the warnings of a defaulted spec.
func specWarnings(spec *v1alpha1.BucketStateStoreSpec) []string {
	var warnings []string
	if spec.Insecure != nil && *spec.Insecure {
		warnings = append(warnings, WarningInsecure)
	}
	if spec.AuthMethod == v1alpha1.AuthMethodIAM && spec.SecretRef != nil {
		warnings = append(warnings, WarningIAMWithSecretRef)
	}
	return warnings
}

func validateBucketName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "the name of the S3 bucket Kratix writes to")}
	}
	if len(name) > maxBucketNameLength {
		return field.ErrorList{field.TooLong(fldPath, name, maxBucketNameLength)}
	}
	if err := s3utils.CheckValidBucketNameStrict(name); err != nil {
		return field.ErrorList{field.Invalid(fldPath, name, "must be a valid S3 bucket name: "+lowerFirst(err.Error()))}
	}
	return nil
}

// validateEndpoint accepts what minio.New accepts as an endpoint and Kratix passes to it
// unchanged: host or host:port, where host is a DNS name or an IP address.
func validateEndpoint(endpoint string, fldPath *field.Path) field.ErrorList {
	if endpoint == "" {
		return field.ErrorList{field.Required(fldPath, "host[:port] of the S3 endpoint, e.g. s3.eu-west-2.amazonaws.com")}
	}
	if len(endpoint) > maxEndpointLength {
		return field.ErrorList{field.TooLong(fldPath, endpoint, maxEndpointLength)}
	}
	if scheme, _, ok := strings.Cut(endpoint, "://"); ok {
		fix := fmt.Sprintf("drop %q and leave insecure false", scheme+"://")
		if strings.EqualFold(scheme, "http") {
			fix = fmt.Sprintf("drop %q and set insecure: true for plain HTTP", scheme+"://")
		}
		return field.ErrorList{field.Invalid(fldPath, endpoint, "must be host[:port] without a scheme; "+fix)}
	}
	if i := strings.IndexAny(endpoint, "/?#@"); i >= 0 {
		what := map[byte]string{'/': "a path", '?': "a query", '#': "a fragment", '@': "user info"}[endpoint[i]]
		return field.ErrorList{field.Invalid(fldPath, endpoint, "must be host[:port] without "+what)}
	}

	// minio-go takes an IPv6 address only in brackets.
	if a, err := netip.ParseAddr(endpoint); err == nil && a.Is6() {
		return field.ErrorList{field.Invalid(fldPath, endpoint, fmt.Sprintf("must be host[:port]; write an IPv6 address in brackets, e.g. [%s]:9000", endpoint))}
	}
	host, port := endpoint, ""
	if _, err := netip.ParseAddr(strings.Trim(endpoint, "[]")); err != nil && strings.Contains(endpoint, ":") {
		h, p, err := net.SplitHostPort(endpoint)
		if err != nil {
			return field.ErrorList{field.Invalid(fldPath, endpoint, "must be host[:port]; write an IPv6 address in brackets, e.g. [2001:db8::1]:9000")}
		}
		host, port = h, p
	}
	host = strings.Trim(host, "[]")

	var allErrs field.ErrorList
	if _, err := netip.ParseAddr(host); err != nil {
		if msgs := validation.NameIsDNSSubdomain(host, false); len(msgs) > 0 {
			allErrs = append(allErrs, field.Invalid(fldPath, endpoint, "host must be a DNS name or an IP address: "+strings.Join(msgs, "; ")))
		}
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			allErrs = append(allErrs, field.Invalid(fldPath, endpoint, "port must be a number from 1 to 65535"))
		}
	}
	return allErrs
}

// validatePath refuses what would make Kratix write outside the prefix it was given.
// A leading "/" is refused too: S3 keys are relative to the bucket, and servers differ in
// whether "/a" and "a" are the same key.
func validatePath(path string, fldPath *field.Path) field.ErrorList {
	if len(path) > maxPathLength {
		return field.ErrorList{field.TooLong(fldPath, path, maxPathLength)}
	}
	var allErrs field.ErrorList
	if strings.HasPrefix(path, "/") {
		allErrs = append(allErrs, field.Invalid(fldPath, path, fmt.Sprintf("must not start with \"/\": keys are relative to the bucket; write %q", strings.TrimLeft(path, "/"))))
	}
	for _, segment := range strings.Split(path, "/") {
		if segment == ".." {
			allErrs = append(allErrs, field.Invalid(fldPath, path, `must not contain a ".." segment`))
			break
		}
	}
	return allErrs
}

func validateAuth(spec *v1alpha1.BucketStateStoreSpec, fldPath *field.Path) field.ErrorList {
	switch spec.AuthMethod {
	case v1alpha1.AuthMethodIAM:
		return nil
	case v1alpha1.AuthMethodAccessKey:
		return validateSecretRef(spec, fldPath.Child("secretRef"))
	default:
		return field.ErrorList{field.NotSupported(fldPath.Child("authMethod"), spec.AuthMethod, supportedAuthMethods)}
	}
}

func validateSecretRef(spec *v1alpha1.BucketStateStoreSpec, fldPath *field.Path) field.ErrorList {
	ref := spec.SecretRef
	if ref == nil {
		return field.ErrorList{field.Required(fldPath, fmt.Sprintf("required when authMethod is accessKey: name a Secret with the keys %s and %s", v1alpha1.SecretKeyAccessKeyID, v1alpha1.SecretKeySecretAccessKey))}
	}
	var allErrs field.ErrorList
	if ref.Name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), "the name of the Secret holding the credentials"))
	} else if len(ref.Name) > utilvalidation.DNS1123SubdomainMaxLength {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("name"), ref.Name, utilvalidation.DNS1123SubdomainMaxLength))
	} else if msgs := validation.NameIsDNSSubdomain(ref.Name, false); len(msgs) > 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), ref.Name, strings.Join(msgs, "; ")))
	}
	if len(ref.Namespace) > utilvalidation.DNS1123LabelMaxLength {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("namespace"), ref.Namespace, utilvalidation.DNS1123LabelMaxLength))
	} else if ref.Namespace != "" {
		if msgs := validation.ValidateNamespaceName(ref.Namespace, false); len(msgs) > 0 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("namespace"), ref.Namespace, strings.Join(msgs, "; ")))
		}
	}
	return allErrs
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
