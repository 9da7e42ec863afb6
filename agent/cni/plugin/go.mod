module conform.dev/cni-plugin

go 1.22
