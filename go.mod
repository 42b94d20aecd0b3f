module github.com/humaninsight/facet

go 1.26.8

require (
	github.com/google/go-cmp v0.7.0
	github.com/yalue/onnxruntime_go v1.27.0
	google.golang.org/protobuf v1.36.12
)
