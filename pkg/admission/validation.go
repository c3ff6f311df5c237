package admission

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/text"
)

var supportedAuthMethods = []string{v1alpha1.AuthMethodAccessKey, v1alpha1.AuthMethodIAM}

// The longest values the rules accept. A longer value is reported with field.TooLong,
// which leaves the value out: an answer never repeats a huge string.
const (
	maxBucketNameLength = 63                    // S3's limit
	maxEndpointLength   = 253 + len("[]:65535") // a DNS name or a bracketed IPv6 address, and a port
	maxPathLength       = 1024                  // S3's longest key, a bound on what is read
)

// Kratix's BucketStateStore controller checks that it may write by starting a multipart
// upload of kratixCheckObject under the path (ValidatePermissions in Kratix's
// lib/writers/s3.go); minio-go refuses a key over maxKeyLength bytes before sending it.
const (
	kratixCheckObject = ".kratix-write-permission-check"
	maxKeyLength      = 1024
)

// validateSpec checks the rules that need nothing but the spec itself, as
// cert-manager's validators do: it returns every problem at once, each with its field
// path, and the warnings for what Kratix can use but is probably a mistake. spec must be
// defaulted (defaults.Spec): the rules read the defaults rather than derive them again.
//
// A rule denies only what Kratix cannot use; docs/reference.md names, for each, the
// failure of Kratix's controller it stands for. What Kratix uses but is probably a
// mistake is a warning that says what to write instead.
func validateSpec(spec *v1alpha1.BucketStateStoreSpec, fldPath *field.Path) (field.ErrorList, []string) {
	bucketErrs, bucketWarnings := validateBucketName(spec.BucketName, fldPath.Child("bucketName"))
	endpointErrs, endpointWarnings := validateEndpoint(spec.Endpoint, fldPath.Child("endpoint"))
	pathErrs, pathWarnings := validatePath(spec.Path, fldPath.Child("path"))
	allErrs := slices.Concat(bucketErrs, endpointErrs, pathErrs, validateAuth(spec, fldPath))
	return allErrs, slices.Concat(bucketWarnings, endpointWarnings, pathWarnings, specWarnings(spec))
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

// validateBucketName denies what minio-go's client refuses before it sends a request
// (s3utils.CheckValidBucketName in BucketExists, which Kratix calls), and warns about
// what passes that check but not the strict one: only legacy buckets take such names.
func validateBucketName(name string, fldPath *field.Path) (field.ErrorList, []string) {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "the name of the S3 bucket Kratix writes to")}, nil
	}
	if len(name) > maxBucketNameLength {
		return field.ErrorList{field.TooLong(fldPath, name, maxBucketNameLength)}, nil
	}
	if err := s3utils.CheckValidBucketName(name); err != nil {
		return field.ErrorList{field.Invalid(fldPath, name, "must be a valid S3 bucket name: "+lowerFirst(err.Error()))}, nil
	}
	if s3utils.CheckValidBucketNameStrict(name) != nil {
		return nil, []string{fmt.Sprintf(WarningBucketNameLegacy, name)}
	}
	return nil, nil
}

// validateEndpoint accepts what minio.New accepts as an endpoint and Kratix passes to it
// unchanged: host or host:port, where host is a DNS name or an IP address.
func validateEndpoint(endpoint string, fldPath *field.Path) (field.ErrorList, []string) {
	if endpoint == "" {
		return field.ErrorList{field.Required(fldPath, "host[:port] of the S3 endpoint, e.g. s3.eu-west-2.amazonaws.com")}, nil
	}
	if len(endpoint) > maxEndpointLength {
		return field.ErrorList{field.TooLong(fldPath, endpoint, maxEndpointLength)}, nil
	}
	if scheme, _, ok := strings.Cut(endpoint, "://"); ok {
		fix := fmt.Sprintf("drop %q and leave insecure false", scheme+"://")
		if strings.EqualFold(scheme, "http") {
			fix = fmt.Sprintf("drop %q and set insecure: true for plain HTTP", scheme+"://")
		}
		return field.ErrorList{field.Invalid(fldPath, endpoint, "must be host[:port] without a scheme; "+fix)}, nil
	}
	if i := strings.IndexAny(endpoint, "/?#@"); i >= 0 {
		what := map[byte]string{'/': "a path", '?': "a query", '#': "a fragment", '@': "user info"}[endpoint[i]]
		return field.ErrorList{field.Invalid(fldPath, endpoint, "must be host[:port] without "+what)}, nil
	}

	// minio-go takes an IPv6 address only in brackets.
	if a, err := netip.ParseAddr(endpoint); err == nil && a.Is6() {
		return field.ErrorList{field.Invalid(fldPath, endpoint, fmt.Sprintf("must be host[:port]; write an IPv6 address in brackets, e.g. [%s]:9000", endpoint))}, nil
	}
	host, port := endpoint, ""
	if _, err := netip.ParseAddr(strings.Trim(endpoint, "[]")); err != nil && strings.Contains(endpoint, ":") {
		h, p, err := net.SplitHostPort(endpoint)
		if err != nil {
			return field.ErrorList{field.Invalid(fldPath, endpoint, "must be host[:port]; write an IPv6 address in brackets, e.g. [2001:db8::1]:9000")}, nil
		}
		host, port = h, p
	}
	host = strings.Trim(host, "[]")

	var allErrs field.ErrorList
	var warnings []string
	if _, err := netip.ParseAddr(host); err != nil {
		// DNS names are case-insensitive, and Go's resolver, which Kratix's minio-go
		// client uses, looks up names with "_" too: both work, so they only warn.
		name := strings.ToLower(host)
		if msgs := validation.NameIsDNSSubdomain(strings.ReplaceAll(name, "_", "-"), false); len(msgs) > 0 {
			allErrs = append(allErrs, field.Invalid(fldPath, endpoint, "host must be a DNS name or an IP address: "+strings.Join(msgs, "; ")))
		} else {
			if name != host {
				warnings = append(warnings, fmt.Sprintf(WarningEndpointUpperCase, quoteShort(strings.ToLower(endpoint))))
			}
			if strings.Contains(host, "_") {
				warnings = append(warnings, WarningEndpointUnderscore)
			}
		}
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			allErrs = append(allErrs, field.Invalid(fldPath, endpoint, "port must be a number from 1 to 65535"))
		}
	}
	return allErrs, warnings
}

// validatePath denies a path Kratix's write check fails on, and warns about the forms
// Kratix cleans away. Kratix's writer joins the path with filepath.Join, which cleans it:
// "a/../b" writes under "b", and "/a" writes keys that start with "/", which S3 servers
// may or may not keep. This uses filepath as Kratix does, and like Kratix runs on Linux.
func validatePath(path string, fldPath *field.Path) (field.ErrorList, []string) {
	if len(path) > maxPathLength {
		return field.ErrorList{field.TooLong(fldPath, path, maxPathLength)}, nil
	}
	if path == "" {
		return nil, nil
	}
	cleaned := filepath.Clean(path)
	if cleaned == ".." || strings.HasPrefix(cleaned, "../") {
		return field.ErrorList{field.Invalid(fldPath, path, `must stay inside the bucket: its ".." segments climb above the bucket's root, and S3 servers refuse such keys (MinIO: "Resource name contains bad components such as '..' or '.'")`)}, nil
	}
	if key := filepath.Join(path, kratixCheckObject); len(key) > maxKeyLength {
		return field.ErrorList{field.Invalid(fldPath, path, fmt.Sprintf("must leave room for Kratix's write check: %q under the cleaned path must fit in S3's %d-byte keys", kratixCheckObject, maxKeyLength))}, nil
	}
	instead := strings.TrimLeft(cleaned, "/")
	if instead == "." {
		instead = ""
	}
	var warnings []string
	if strings.HasPrefix(path, "/") {
		warnings = append(warnings, fmt.Sprintf(WarningPathLeadingSlash, quoteShort(instead)))
	}
	if slices.Contains(strings.Split(path, "/"), "..") {
		warnings = append(warnings, fmt.Sprintf(WarningPathDotDot, quoteShort(instead)))
	}
	return nil, warnings
}

func validateAuth(spec *v1alpha1.BucketStateStoreSpec, fldPath *field.Path) field.ErrorList {
	switch spec.AuthMethod {
	case v1alpha1.AuthMethodIAM:
		return nil
	case v1alpha1.AuthMethodAccessKey:
		return validateSecretRef(spec.SecretRef, fmt.Sprintf("required when authMethod is accessKey: name a Secret with the keys %s and %s", v1alpha1.SecretKeyAccessKeyID, v1alpha1.SecretKeySecretAccessKey), fldPath.Child("secretRef"))
	default:
		return field.ErrorList{field.NotSupported(fldPath.Child("authMethod"), spec.AuthMethod, supportedAuthMethods)}
	}
}

// validateSecretRef checks a Secret reference, which must be there: required says so
// when it is not.
func validateSecretRef(ref *corev1.SecretReference, required string, fldPath *field.Path) field.ErrorList {
	if ref == nil {
		return field.ErrorList{field.Required(fldPath, required)}
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

// quoteShort quotes s as %q does, cut to text.MaxQuoted bytes: a warning that repeats a
// value stays under maxWarningLength whatever the value.
func quoteShort(s string) string { return text.Quote(s, text.MaxQuoted) }

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
