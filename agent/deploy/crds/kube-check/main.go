// Command crd-kube-check runs the Kubernetes API server's own validation code (the
// k8s.io/apiextensions-apiserver release conform's control plane is built from) over conform's CRD
// files and over sample custom objects, without starting an API server:
//
//   - each CRD goes through the checks of a CRD create: structural schema, CEL compilation and
//     the CEL cost budgets, defaults, list types;
//   - each object goes through the custom-resource create path: unknown-field detection (what
//     kubectl's default strict field validation refuses), pruning, defaulting, OpenAPI schema
//     validation, list-type invariants and x-kubernetes-validations (CEL).
//
// Usage: crd-kube-check -crds DIR [-objects DIR]... ; prints one JSON report on stdout.
// The exit status is 0 whenever the report was produced; judging it is the caller's job.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

type fieldError struct {
	Field  string `json:"field"`
	Type   string `json:"type"`
	Detail string `json:"detail"`
	Text   string `json:"text"`
}

type crdReport struct {
	File   string       `json:"file"`
	Name   string       `json:"name"`
	Errors []fieldError `json:"errors"`
}

type objectReport struct {
	File   string       `json:"file"`
	Kind   string       `json:"kind"`
	Name   string       `json:"name"`
	Errors []fieldError `json:"errors"`
}

type report struct {
	CRDs    []crdReport    `json:"crds"`
	Objects []objectReport `json:"objects"`
}

// crdVersion is what the custom-resource create path needs for one served version.
type crdVersion struct {
	structural          *structuralschema.Structural
	validator           apiservervalidation.SchemaValidator
	cel                 *cel.Validator
	statusIsSubresource bool
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	crdDir := flag.String("crds", "", "directory of CRD YAML files (*.yaml, one CRD each)")
	var objectDirs multiFlag
	flag.Var(&objectDirs, "objects", "directory of custom object YAML files (repeatable)")
	flag.Parse()
	if *crdDir == "" {
		fmt.Fprintln(os.Stderr, "crd-kube-check: -crds is required")
		os.Exit(2)
	}
	rep, err := run(*crdDir, objectDirs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crd-kube-check:", err)
		os.Exit(1)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(rep); err != nil {
		fmt.Fprintln(os.Stderr, "crd-kube-check:", err)
		os.Exit(1)
	}
}

func run(crdDir string, objectDirs []string) (*report, error) {
	rep := &report{CRDs: []crdReport{}, Objects: []objectReport{}}
	versions := map[string]crdVersion{} // key: group/version/kind

	crdFiles, err := yamlFiles(crdDir)
	if err != nil {
		return nil, err
	}
	for _, file := range crdFiles {
		crd, errs := checkCRD(file)
		r := crdReport{File: file, Errors: errs}
		if crd != nil {
			r.Name = crd.Name
			if len(errs) == 0 {
				if err := addVersions(versions, crd); err != nil {
					r.Errors = append(r.Errors, fieldError{Field: "spec.versions", Type: "Internal", Detail: err.Error(), Text: err.Error()})
				}
			}
		}
		rep.CRDs = append(rep.CRDs, r)
	}

	for _, dir := range objectDirs {
		files, err := yamlFiles(dir)
		if err != nil {
			return nil, err
		}
		for _, file := range files {
			rep.Objects = append(rep.Objects, checkObject(file, versions))
		}
	}
	return rep, nil
}

func yamlFiles(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}

func toFieldErrors(list field.ErrorList) []fieldError {
	out := []fieldError{}
	for _, e := range list {
		out = append(out, fieldError{Field: e.Field, Type: string(e.Type), Detail: e.Detail, Text: e.Error()})
	}
	return out
}

// checkCRD does what the API server does with a CRD create: decode strictly, default, convert
// to the internal version, prepare (stored versions) and validate.
func checkCRD(file string) (*apiextensionsinternal.CustomResourceDefinition, []fieldError) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, []fieldError{{Field: "<file>", Type: "Internal", Detail: err.Error(), Text: err.Error()}}
	}
	var v1 apiextensionsv1.CustomResourceDefinition
	// Strict: a misspelt schema keyword would otherwise vanish silently.
	if err := yaml.UnmarshalStrict(data, &v1); err != nil {
		return nil, []fieldError{{Field: "<decode>", Type: "Invalid", Detail: err.Error(), Text: err.Error()}}
	}
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(&v1)
	var internal apiextensionsinternal.CustomResourceDefinition
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&v1, &internal, nil); err != nil {
		return nil, []fieldError{{Field: "<convert>", Type: "Internal", Detail: err.Error(), Text: err.Error()}}
	}
	internal.Generation = 1
	internal.Status = apiextensionsinternal.CustomResourceDefinitionStatus{}
	for _, v := range internal.Spec.Versions {
		if v.Storage {
			internal.Status.StoredVersions = append(internal.Status.StoredVersions, v.Name)
		}
	}
	return &internal, toFieldErrors(crdvalidation.ValidateCustomResourceDefinition(context.Background(), &internal))
}

func addVersions(versions map[string]crdVersion, crd *apiextensionsinternal.CustomResourceDefinition) error {
	for _, v := range crd.Spec.Versions {
		validation := v.Schema
		if validation == nil {
			validation = crd.Spec.Validation
		}
		if validation == nil || validation.OpenAPIV3Schema == nil {
			return fmt.Errorf("version %s has no schema", v.Name)
		}
		structural, err := structuralschema.NewStructural(validation.OpenAPIV3Schema)
		if err != nil {
			return fmt.Errorf("version %s: %w", v.Name, err)
		}
		validator, _, err := apiservervalidation.NewSchemaValidator(validation.OpenAPIV3Schema)
		if err != nil {
			return fmt.Errorf("version %s: %w", v.Name, err)
		}
		subresources := v.Subresources
		if subresources == nil {
			subresources = crd.Spec.Subresources
		}
		versions[crd.Spec.Group+"/"+v.Name+"/"+crd.Spec.Names.Kind] = crdVersion{
			structural:          structural,
			validator:           validator,
			cel:                 cel.NewValidator(structural, true, celconfig.PerCallLimit),
			statusIsSubresource: subresources != nil && subresources.Status != nil,
		}
	}
	return nil
}

// checkObject follows a custom-resource create: unknown fields (refused under kubectl's default
// strict field validation), pruning, defaulting, dropping status when it is a subresource, then
// the strategy's validation (OpenAPI schema, list types, CEL unless a blocking error came first).
func checkObject(file string, versions map[string]crdVersion) objectReport {
	r := objectReport{File: file, Errors: []fieldError{}}
	fail := func(fieldName, typ, detail string) objectReport {
		r.Errors = append(r.Errors, fieldError{Field: fieldName, Type: typ, Detail: detail, Text: fieldName + ": " + detail})
		return r
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fail("<file>", "Internal", err.Error())
	}
	var obj map[string]interface{}
	if err := yaml.Unmarshal(data, &obj); err != nil {
		return fail("<decode>", "Invalid", err.Error())
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	r.Kind = kind
	if md, ok := obj["metadata"].(map[string]interface{}); ok {
		r.Name, _ = md["name"].(string)
	}
	v, ok := versions[apiVersion+"/"+kind]
	if !ok {
		return fail("kind", "NotSupported", fmt.Sprintf("no CRD serves %s %s", apiVersion, kind))
	}

	opts := structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}
	unknown := structuralpruning.PruneWithOptions(obj, v.structural, true, opts)
	sort.Strings(unknown)
	for _, path := range unknown {
		r.Errors = append(r.Errors, fieldError{Field: path, Type: "FieldValueUnknown", Detail: "unknown field", Text: fmt.Sprintf("unknown field %q", path)})
	}
	structuraldefaulting.Default(obj, v.structural)
	if v.statusIsSubresource {
		delete(obj, "status")
	}

	var errs field.ErrorList
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj, v.validator)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, v.structural, obj)...)
	if v.cel != nil {
		if hasBlocking(errs) {
			errs = append(errs, field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
		} else {
			celErrs, _ := v.cel.Validate(context.Background(), nil, v.structural, obj, nil, celconfig.RuntimeCELCostBudget)
			errs = append(errs, celErrs...)
		}
	}
	r.Errors = append(r.Errors, toFieldErrors(errs)...)
	return r
}

// hasBlocking mirrors the API server's rule for skipping CEL: the rules' inputs could be of the
// wrong type or unbounded in size after such errors.
func hasBlocking(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}
