module github.com/threadline/threadline/tools/goproxy

go 1.26.0

// The module zip format exactly as the go command writes and checks it.
require golang.org/x/mod v0.43.0
