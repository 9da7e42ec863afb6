package main

import (
	"context"
	"fmt"

	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"sigs.k8s.io/yaml"
)

func main() {
	var c apiextensions.CustomResourceDefinition
	_ = yaml.Unmarshal(nil, &c)
	fmt.Println(crdvalidation.ValidateCustomResourceDefinition(context.Background(), &c), cel.NewValidator(nil, true, 1))
}
